"""The texts a participant accepts: Markdown files per campaign, agreement, version and language.

``campaigns/<slug>/agreements/<id>.<version>.<lang>.md``, else ``campaigns/_shared/agreements/...``. A text may use
a few placeholders (``{{ campaign }}``, ``{{ organisation }}``, ``{{ target_company }}``, ``{{ participant }}``,
``{{ child }}``); it is rendered in a sandbox, since staff edit these files, and checked when its campaign is loaded
(:mod:`core.campaigns.agreement_templates`). The SHA-256 of the exact text shown is recorded as evidence.

What a visitor typed (``participant``, ``child``) goes in as plain text
(:func:`core.campaigns.markdown.plain_text`), so a name can never add a heading, a paragraph or a link to a text they
sign. The values filled in are recorded at signing (:func:`recorded_campaign_values` on the accepted agreement; the
participant's, personal data, sealed by :mod:`core.data.personal_data`), so the text can be made again exactly as
signed however the campaign file changes later: :func:`signed_values` gives them back, also for texts accepted before
they were recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from core.campaigns import LoadedCampaign, agreement_templates
from core.campaigns.agreement_templates import CAMPAIGN_PLACEHOLDERS, PARTICIPANT_PLACEHOLDERS
from core.campaigns.documents import agreement_file
from core.campaigns.markdown import plain_text, render_markdown
from core.campaigns.schema import Agreement
from core.data.hashing import sha256_hex


@dataclass(frozen=True)
class AgreementText:
    agreement: Agreement
    language: str
    title: str
    text: str  # the Markdown exactly as shown, placeholders filled in
    sha256: str
    values: Mapping[str, str]  # each placeholder's value exactly as filled in
    file_sha256: str = ""  # the text's file before it was filled in (core.campaigns.locks, core.signup.signed_texts)

    @property
    def html(self) -> Markup:
        return render_markdown(self.text)

    @property
    def campaign_values(self) -> dict[str, str]:
        return {name: self.values[name] for name in CAMPAIGN_PLACEHOLDERS}

    @property
    def participant_values(self) -> dict[str, str]:
        return {name: self.values[name] for name in PARTICIPANT_PLACEHOLDERS}


def campaign_values(loaded: LoadedCampaign, language: str) -> dict[str, str]:
    """The values the campaign file gives its placeholders today, in ``language``."""
    return agreement_templates.campaign_values(loaded.campaign, language)


def participant_values(participant: str, child: str, companies: str) -> dict[str, str]:
    """The values of the placeholders the visitor's answers fill, as plain text."""
    return {"participant": plain_text(participant), "child": plain_text(child), "companies": plain_text(companies)}


def _filled(
    path: Path,
    loaded: LoadedCampaign,
    agreement: Agreement,
    language: str,
    values: Mapping[str, str],
    from_disk: bool = False,
) -> AgreementText:
    """The text of ``path`` filled in: as the campaign was published with it (:attr:`LoadedCampaign.texts`), or,
    for an older version it no longer asks (those are locked: core.campaigns.locks) or ``from_disk``, as the file
    is."""
    data = None if from_disk else loaded.texts.get(path)
    if data is None:
        data = path.read_bytes()
    text = agreement_templates.filled_text(data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), values)
    title = loaded.campaign.text(agreement.title, language)
    return AgreementText(agreement, language, title, text, sha256_hex(text), dict(values), sha256_hex(data))


def _find(campaigns_dir: Path, loaded: LoadedCampaign, agreement: Agreement, language: str) -> Path | None:
    """The file of ``agreement`` in exactly ``language``: the one the campaign was published with, else (an older
    version) the one on disk."""
    slug = loaded.campaign.slug
    return agreement_file(campaigns_dir, slug, agreement, language, exists=loaded.texts.__contains__) or (
        agreement_file(campaigns_dir, slug, agreement, language)
    )


def agreement_text(
    campaigns_dir: Path,
    loaded: LoadedCampaign,
    agreement: Agreement,
    language: str,
    participant: str = "",
    child: str = "",
    companies: str = "",
) -> AgreementText:
    """The text of ``agreement`` in ``language`` (else the campaign's default language), filled in with the
    campaign's values and the participant's (or child's) name as plain text, and the companies they chose in a data
    request (``companies``, in words; else the campaign's target company): what the signing page shows."""
    c = loaded.campaign
    path = _find(campaigns_dir, loaded, agreement, language)
    shown_language = language
    if path is None:
        shown_language = c.default_language
        path = _find(campaigns_dir, loaded, agreement, shown_language)
    if path is None:
        raise FileNotFoundError(f"no text for agreement {agreement.id} version {agreement.version}")
    chosen = companies or c.target_company
    values = {**campaign_values(loaded, shown_language), **participant_values(participant, child, chosen)}
    return _filled(path, loaded, agreement, shown_language, values)


def agreement_text_as_signed(
    campaigns_dir: Path,
    loaded: LoadedCampaign,
    agreement: Agreement,
    language: str,
    values: Mapping[str, str],
    from_disk: bool = False,
) -> AgreementText:
    """The text of ``agreement`` in exactly ``language``, filled in with exactly ``values`` (:func:`signed_values`):
    the text someone accepted, made again for the mandate PDF (as the campaign was published with it) and, with
    ``from_disk``, for the evidence check (as the file is now, which is what the check is about)."""
    if from_disk:
        path = agreement_file(campaigns_dir, loaded.campaign.slug, agreement, language)
    else:
        path = _find(campaigns_dir, loaded, agreement, language)
    if path is None:
        raise FileNotFoundError(f"no text for agreement {agreement.id} version {agreement.version} in {language}")
    return _filled(path, loaded, agreement, language, values, from_disk)


def recorded_campaign_values(text: AgreementText, recorded: str = "signing") -> str:
    """What an accepted agreement keeps of the campaign's values filled into ``text`` (JSON; not personal data).
    ``recorded`` says when they were taken: ``signing``, or ``upgrade`` for texts accepted before (revision 0006)."""
    return json.dumps({"recorded": recorded, "values": text.campaign_values}, ensure_ascii=False, sort_keys=True)


def _recorded(data: str | None) -> dict[str, str] | None:
    if not data:
        return None
    values: Any = json.loads(data).get("values")
    return {name: str(values.get(name, "")) for name in CAMPAIGN_PLACEHOLDERS} if isinstance(values, dict) else None


def signed_values(
    loaded: LoadedCampaign,
    language: str,
    recorded_campaign: str | None,
    recorded_participant: Mapping[str, str] | None,
    answers: Mapping[str, Any],
) -> dict[str, str]:
    """The placeholder values an accepted text was filled in with, from what was recorded: the campaign's values
    kept with the accepted agreement (``recorded_campaign``) and the participant's sealed with their data
    (``recorded_participant``).

    A text accepted before the values were recorded lacks the participant's: those were the name and the child's
    name exactly as typed (the signing page did not make them plain text then), which ``answers`` hold. Its
    campaign values were recorded when the database was upgraded (revision 0006); a sign-up written without them
    gets the campaign file's values of today.
    """
    values = _recorded(recorded_campaign) or campaign_values(loaded, language)
    if recorded_participant is not None:
        values.update({name: str(recorded_participant.get(name, "")) for name in PARTICIPANT_PLACEHOLDERS})
    else:
        values.update(participant=str(answers.get("name", "")), child=str(answers.get("child_name", "")))
        values.setdefault("companies", values.get("target_company", ""))  # no text used it before it was recorded
    return values
