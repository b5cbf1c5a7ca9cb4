"""What a campaign must have before it goes live, beyond what it needs to load: the campaign-file part of the rules
``flask campaigns check --production`` applies as errors (without ``--production`` they are warnings).

A campaign that breaks one of these still loads and is served, in development and today in production too, but
falls short where it counts: a participant would sign an agreement, or read why the campaign closed, in a language
other than the one they chose, or text would be hard to read for people with low vision. CI runs the check with
``--production`` so such a campaign is not deployed. (So is an agreement text that is not locked yet: an edit of it
once live would not be caught before it is deployed.)

The payment rule (a fee model that charges needs a payment provider that may take its payments) belongs to the
providers and is shared with the production start: :func:`core.money.payment_providers.unpaid_campaigns`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError

from core.campaigns.contrast import MINIMUM, weak_pairs
from core.campaigns.documents import agreement_file
from core.campaigns.errors import ConfigProblem
from core.campaigns.loader import LoadedCampaign
from core.campaigns.locks import LOCK_FILE, read_lock
from core.campaigns.schema import Agreement
from core.campaigns.themes import Themes


def production_problems(campaigns: Iterable[LoadedCampaign], themes: Themes) -> list[ConfigProblem]:
    """Every problem the rules above find in ``campaigns``, each on the line of the field it is about."""
    found: list[ConfigProblem] = []
    for loaded in campaigns:
        found += agreements_in_every_language(loaded)
        found += agreements_locked(loaded)
        found += closed_message_in_every_language(loaded)
        found += readable_colours(loaded, themes)
    return found


def _problem(loaded: LoadedCampaign, loc: tuple[str | int, ...], field: str, message: str) -> ConfigProblem:
    return ConfigProblem(str(loaded.path), loaded.line_of(loc), field, message)


def _agreement_files(loaded: LoadedCampaign) -> Iterator[tuple[int, Agreement, str, Path | None]]:
    """(index, agreement, language, its text file or None) for every agreement of the sign-up in every language."""
    c = loaded.campaign
    for index, agreement in enumerate(c.signup.agreements if c.signup else []):
        for language in c.languages:
            yield index, agreement, language, agreement_file(loaded.path.parent, c.slug, agreement, language)


def agreements_in_every_language(loaded: LoadedCampaign) -> list[ConfigProblem]:
    """Each agreement of the sign-up has its text in every language of the campaign: someone who joins in English
    must not be asked to sign the Dutch text (which is what the site shows when the English one is missing)."""
    c = loaded.campaign
    found = []
    for index, agreement, language, path in _agreement_files(loaded):
        if path is None:
            name = f"{agreement.id}.{agreement.version}.{language}.md"
            found.append(
                _problem(
                    loaded,
                    ("signup", "agreements", index),
                    f"signup.agreements[{index}]",
                    f"no {language} text for this agreement: add {name} to campaigns/{c.slug}/agreements/ "
                    f"(or campaigns/_shared/agreements/); without it, people who join in {language} are asked to "
                    f"sign the {c.default_language} text",
                )
            )
    return found


def agreements_locked(loaded: LoadedCampaign) -> list[ConfigProblem]:
    """Each agreement text the campaign asks people to sign is in its folder's lock file (:mod:`core.campaigns.locks`),
    so that once it is live, an edit to it is refused before it is deployed."""
    found = []
    for index, _agreement, _language, path in _agreement_files(loaded):
        if path is not None and path.name not in read_lock(path.parent):
            found.append(
                _problem(
                    loaded,
                    ("signup", "agreements", index, "version"),
                    f"signup.agreements[{index}].version",
                    f"{path.name} is not in {path.parent.name}/{LOCK_FILE}: once it is final, run flask campaigns "
                    "lock and commit the lock file with it",
                )
            )
    return found


def closed_message_in_every_language(loaded: LoadedCampaign) -> list[ConfigProblem]:
    """A closed campaign says why, and what now, in every language it is served in (the schema already makes it
    say so in one)."""
    c = loaded.campaign
    if c.status != "closed" or c.closed_message is None:
        return []
    missing = [language for language in c.languages if language not in c.closed_message]
    if not missing:
        return []
    return [
        _problem(
            loaded,
            ("closed_message",),
            "closed_message",
            f"a closed campaign needs its closed_message in every language; no {', '.join(missing)} text",
        )
    ]


def readable_colours(loaded: LoadedCampaign, themes: Themes) -> list[ConfigProblem]:
    """Every text/background pair of the campaign's colours (its theme's, with its overrides) has a contrast of at
    least 4.5:1 (WCAG AA). A theme that cannot be read is left out here: the check reports it as an error."""
    c = loaded.campaign
    overrides = dict(c.theme_overrides.colours)
    try:
        colours = themes.colours(c.theme, overrides)
    except (OSError, yaml.YAMLError, ValidationError):
        return []
    loc: tuple[str, ...] = ("theme_overrides", "colours") if overrides else ("theme",)
    return [
        _problem(
            loaded,
            loc,
            ".".join(loc),
            f"{fg} on {bg} has contrast {ratio}:1, under the {MINIMUM}:1 that people with low vision need (WCAG AA)",
        )
        for fg, bg, ratio in weak_pairs(colours)
    ]
