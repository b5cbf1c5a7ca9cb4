"""Read one campaign file into a validated :class:`Campaign`, or explain exactly what is wrong with it.

Every problem names the file, the line, the field path and what was expected; nobody editing YAML should ever see
a traceback. Plugin settings (``plugins: {faq: {...}}``) are validated here too, by each plugin's own model.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from babel import localedata
from pydantic import BaseModel, ValidationError

from core.campaigns.address_forms import first_line_of_other_form, other_form_message, other_form_words
from core.campaigns.agreement_templates import template_problems
from core.campaigns.companies import Company, NamesCompanies, referenced_companies
from core.campaigns.config_files import (
    YamlDocument,
    duplicate_key_problems,
    path_of_field,
    read_yaml_mapping,
    validation_problems,
)
from core.campaigns.documents import DOCUMENTS, agreement_file, find_document
from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.localized import Localized
from core.campaigns.locks import LOCK_FILE, changed_since_locked, read_lock
from core.campaigns.schema import Campaign, FeeModelSettings
from core.campaigns.text_files import decode_utf8
from core.campaigns.yaml_parsing import parse_yaml


@dataclass(frozen=True)
class LoadedCampaign:
    """A campaign that passed validation, with its plugins' validated settings and any warnings."""

    campaign: Campaign
    plugin_settings: Mapping[str, BaseModel]
    path: Path
    warnings: list[ConfigProblem] = field(default_factory=list)
    line_of: Callable[[tuple[Any, ...]], int | None] = field(default=lambda loc: None, compare=False, repr=False)
    # The agreement texts and pages it was validated with, as read then: what it serves until it is published again,
    # so an edit that is refused (or not settled yet) never reaches a visitor (core.campaigns.publishing).
    texts: Mapping[Path, bytes] = field(default_factory=dict, compare=False, repr=False)
    # The campaign file's text as it was loaded (what line_of reads), for checks that quote it.
    source: str = field(default="", compare=False, repr=False)
    # The companies of the catalogue its plugins name (a data request's), as they were when it loaded.
    companies: Mapping[str, Company] = field(default_factory=dict, compare=False, repr=False)

    @property
    def slug(self) -> str:
        return self.campaign.slug

    @property
    def enabled_plugins(self) -> frozenset[str]:
        """The plugins this campaign enables; no other plugin's per-campaign hooks run for it."""
        return frozenset(self.plugin_settings)

    def settings_for(self, plugin_name: str) -> Any:
        """The validated settings of an enabled plugin (``KeyError`` if the campaign does not enable it)."""
        return self.plugin_settings[plugin_name]


class _LinesOnDemand:
    """Lines of a loaded campaign's fields, for problems found after loading (an address another file also
    claims, a stale date): the file's text is kept and parsed again when asked, because its YAML node tree took two
    thirds of the memory a loaded campaign held (bench/campaigns.py), and such a question is rare. The last file
    parsed is kept, so the questions of one check about one campaign parse it once."""

    def __init__(self, text: str) -> None:
        self.text = text

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        return _parsed(self.text).line_of(loc)


@lru_cache(maxsize=1)
def _parsed(text: str) -> YamlDocument:
    return YamlDocument(parse_yaml(text)[0])


def campaign_texts(
    campaign: Campaign, plugin_settings: Mapping[str, BaseModel], *, historical: bool = True
) -> Iterator[tuple[tuple[Any, ...], Localized]]:
    """Every localized text of ``campaign`` and of its plugins' settings, with its field path; without
    ``historical``, leaving out the plugins whose texts are history by nature (``historical_texts`` on their
    settings class: a timeline, news)."""
    yield from localized_fields(campaign, ())
    for name, settings in plugin_settings.items():
        if historical or not getattr(type(settings), "historical_texts", False):
            yield from localized_fields(settings, ("plugins", name))


def localized_fields(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Localized]]:
    """Every localized text in a validated model, with its field path."""
    if isinstance(value, Localized):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from localized_fields(getattr(value, name), (*path, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from localized_fields(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from localized_fields(item, (*path, key))


@dataclass
class _Findings:
    """What the checks of one file found: ``problems`` keep it from loading, ``warnings`` are only worth a look."""

    file: str
    doc: YamlDocument
    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)

    def at(self, loc: tuple[Any, ...], message: str, field_path: str | None = None) -> ConfigProblem:
        """A problem (or warning) about the field at ``loc``, on the line where the file writes it."""
        return ConfigProblem(
            self.file, self.doc.line_of(loc), path_of_field(loc) if field_path is None else field_path, message
        )


def load_campaign_file(path: Path, plugin_schemas: Mapping[str, type[BaseModel]]) -> LoadedCampaign:
    """Validate one campaign file; raise :class:`CampaignConfigError` listing every problem found.

    A file that cannot be read as a YAML mapping, or whose campaign settings do not validate, stops at once (what
    follows would only repeat it); the checks after that each add what they find, so one run lists everything.
    """
    text, root, data = read_yaml_mapping(path, "campaign settings")
    found = _Findings(str(path), YamlDocument(root))
    campaign = _validated_campaign(found, root, data)
    _check_slug_matches_file_name(found, campaign, path)
    _check_languages_known(found, campaign)
    plugin_settings = _validated_plugin_settings(found, campaign, plugin_schemas)
    _check_one_fee_model(found, campaign, plugin_settings)
    _check_languages_of_texts(found, campaign, plugin_settings)
    texts: dict[Path, bytes] = {}
    _check_agreement_texts(found, campaign, path.parent, texts)
    _check_pages(found, campaign, path.parent, texts)
    _check_share_image(found, campaign, path.parent)
    _check_address_form(found, campaign, plugin_settings, path.parent, texts)
    companies = _companies_named(found, plugin_settings, path.parent)
    if found.problems:
        raise CampaignConfigError(found.problems)
    return LoadedCampaign(
        campaign, plugin_settings, path, found.warnings, _LinesOnDemand(text).line_of, texts, text, companies
    )


def _companies_named(found: _Findings, plugin_settings: Mapping[str, BaseModel], campaigns_dir: Path) -> dict[str, Any]:
    """The companies of the catalogue that the plugins' settings name (a data request's); one that is not there is
    a problem on the line that names it."""
    companies: dict[str, Any] = {}
    for name, settings in plugin_settings.items():
        if isinstance(settings, NamesCompanies):
            named, missing = referenced_companies(campaigns_dir, settings.company_references())
            companies.update(named)
            found.problems.extend(found.at(("plugins", name, *loc), message) for loc, message in missing)
    return companies


def _validated_campaign(found: _Findings, root: yaml.Node | None, data: dict[str, Any]) -> Campaign:
    """The campaign settings validated; keys written twice are problems, and invalid settings stop here (with
    those problems too)."""
    found.problems.extend(duplicate_key_problems(found.file, root))
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignConfigError(found.problems + validation_problems(exc, Campaign, found.doc, found.file)) from None


def _check_slug_matches_file_name(found: _Findings, campaign: Campaign, path: Path) -> None:
    if campaign.slug != path.stem:
        found.problems.append(
            found.at(
                ("slug",),
                f"the slug '{campaign.slug}' must match the file name '{path.name}' ({campaign.slug}.yaml)",
                "slug",
            )
        )


SHARE_IMAGE_TYPES = (".png", ".jpg", ".jpeg")


def _check_share_image(found: _Findings, campaign: Campaign, campaigns_dir: Path) -> None:
    """The share image is the campaign's own file: social networks show no SVG, and a missing file would only show
    up as a link without a picture once it is shared."""
    name = campaign.share_image
    if name is None:
        return
    if not name.lower().endswith(SHARE_IMAGE_TYPES):
        found.problems.append(found.at(("share_image",), f"'{name}' must be a PNG or JPEG file (.png, .jpg, .jpeg)"))
    elif not (campaigns_dir / campaign.slug / "static" / name).is_file():
        found.problems.append(
            found.at(("share_image",), f"there is no file {campaign.slug}/static/{name} next to the campaign file")
        )


def _check_languages_known(found: _Findings, campaign: Campaign) -> None:
    """Every language is one Babel has dates and numbers for: a page in any other could not be written."""
    for index, language in enumerate(campaign.languages):
        if not localedata.exists(language):
            found.problems.append(
                found.at(
                    ("languages", index),
                    f"'{language}' is not a language code Babel knows; use the two-letter ISO 639-1 code, such as "
                    "'nl', 'en', 'de' or 'fr'",
                )
            )


def _validated_plugin_settings(
    found: _Findings, campaign: Campaign, plugin_schemas: Mapping[str, type[BaseModel]]
) -> dict[str, BaseModel]:
    """Each enabled plugin's settings, validated by the plugin's own model; an unknown plugin is a problem (with
    the nearest installed name, for a typo)."""
    plugin_settings: dict[str, BaseModel] = {}
    for name, settings in campaign.plugins.items():
        schema = plugin_schemas.get(name)
        if schema is None:
            known = ", ".join(sorted(plugin_schemas)) or "none"
            close = difflib.get_close_matches(name, list(plugin_schemas), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            found.problems.append(
                found.at(
                    ("plugins", name), f"unknown plugin '{name}'{hint} Installed plugins: {known}", f"plugins.{name}"
                )
            )
            continue
        try:
            plugin_settings[name] = schema.model_validate(settings or {})
        except ValidationError as exc:
            found.problems.extend(validation_problems(exc, schema, found.doc, found.file, ("plugins", name)))
    return plugin_settings


def _check_one_fee_model(found: _Findings, campaign: Campaign, plugin_settings: Mapping[str, BaseModel]) -> None:
    """At most one enabled plugin is a fee model, and a fee model needs a sign-up to charge."""
    fee_models = [name for name, model in plugin_settings.items() if isinstance(model, FeeModelSettings)]
    if len(fee_models) > 1:
        found.problems.append(
            found.at(
                ("plugins", fee_models[1]),
                f"a campaign has one fee model, but this file enables {len(fee_models)}: "
                f"{', '.join(fee_models)}; keep one",
                f"plugins.{fee_models[1]}",
            )
        )
    if fee_models and campaign.signup is None:
        found.problems.append(
            found.at(
                ("plugins", fee_models[0]),
                "a fee model needs a 'signup' section: nobody can join this campaign",
                f"plugins.{fee_models[0]}",
            )
        )


def _check_languages_of_texts(found: _Findings, campaign: Campaign, plugin_settings: Mapping[str, BaseModel]) -> None:
    """Every text (the campaign's and its plugins') is in the campaign's languages only (a problem otherwise), and
    in each of them (a warning otherwise: visitors see another language's text)."""
    for loc, text_value in campaign_texts(campaign, plugin_settings):
        for language in text_value:
            if language not in campaign.languages:
                found.problems.append(
                    found.at(
                        (*loc, language),
                        f"'{language}' is not one of this campaign's languages {campaign.languages}",
                    )
                )
        missing = [lang for lang in campaign.languages if lang not in text_value]
        if missing:
            fallback = campaign.default_language if campaign.default_language in text_value else "another"
            found.warnings.append(
                found.at(loc, f"no {', '.join(missing)} text; visitors will see the {fallback} text instead")
            )


def _check_address_form(
    found: _Findings,
    campaign: Campaign,
    plugin_settings: Mapping[str, BaseModel],
    campaigns_dir: Path,
    texts: dict[Path, bytes],
) -> None:
    """The campaign's own Dutch texts (in its file, and its own pages and agreements) address the visitor as its
    ``address_form`` says: a warning for each that does not (:mod:`core.campaigns.address_forms`). The shared texts
    of ``_shared/`` are the organisation's, for every campaign, and are not checked here."""
    if "nl" not in campaign.languages:
        return
    form = campaign.address_form
    for loc, text_value in campaign_texts(campaign, plugin_settings):
        words = other_form_words(text_value.get("nl", ""), form)
        if words:
            found.warnings.append(found.at((*loc, "nl"), other_form_message(words, form)))
    own = campaigns_dir / campaign.slug
    for path, data in sorted(texts.items()):
        if path.is_relative_to(own) and path.name.endswith(".nl.md"):
            text = data.decode("utf-8", errors="replace")
            words = other_form_words(text, form)
            if words:
                line = first_line_of_other_form(text, form)
                found.warnings.append(ConfigProblem(str(path), line, "", other_form_message(words, form)))


def _read_text(texts: dict[Path, bytes], path: Path) -> bytes | None:
    """The bytes of ``path``, kept in ``texts`` (what the loaded campaign serves); None when it went since it was
    found. A shared text is read once for all the campaigns that use it, and they share its bytes."""
    if path not in texts:
        try:
            stat = path.stat()
            texts[path] = _file_bytes(path, stat.st_mtime_ns, stat.st_size)
        except OSError:
            return None
    return texts[path]


@lru_cache(maxsize=4096)
def _file_bytes(path: Path, mtime_ns: int, size: int) -> bytes:
    """One version of a text file (by modification time and size)."""
    return path.read_bytes()


def _check_agreement_texts(found: _Findings, campaign: Campaign, campaigns_dir: Path, texts: dict[Path, bytes]) -> None:
    """Each agreement of the sign-up has a text file in every language: a missing default-language text is a
    problem (nothing to sign), another missing language a warning (the default text is shown). A text changed since
    it was locked (:mod:`core.campaigns.locks`) is a problem, and so is any text of the campaign's own agreements
    folder changed or removed since then (older versions are evidence of what people signed). Each text can be
    filled in (:func:`template_problems`)."""
    if campaign.signup is None:
        return
    for index, agreement in enumerate(campaign.signup.agreements):
        loc = ("signup", "agreements", index)
        for language in campaign.languages:
            path = agreement_file(campaigns_dir, campaign.slug, agreement, language)
            data = None if path is None else _read_text(texts, path)
            if path is not None and data is not None:
                if changed_since_locked(path, data) is not None:
                    found.problems.append(found.at((*loc, "version"), _changed_text(path, agreement.id, language)))
                problems, warnings = template_problems(path, campaign, language, data)
                found.problems.extend(problems)
                found.warnings.extend(warnings)
                continue
            where = f"{agreement.id}.{agreement.version}.{language}.md in campaigns/{campaign.slug}/agreements/"
            if language == campaign.default_language:
                found.problems.append(
                    found.at(loc, f"no text for this agreement: add {where} (or _shared/agreements/)")
                )
            else:
                found.warnings.append(
                    found.at(
                        loc, f"no {language} text ({where}); the {campaign.default_language} text is shown instead"
                    )
                )
    own = campaigns_dir / campaign.slug / "agreements"
    current = {
        f"{a.id}.{a.version}.{language}.md" for a in campaign.signup.agreements for language in campaign.languages
    }
    for name in sorted(read_lock(own).keys() - current):
        path = own / name
        if not path.is_file():
            found.problems.append(
                found.at(
                    ("signup", "agreements"),
                    f"{path} was published (it is in {LOCK_FILE}) and is gone: restore it; it is the evidence of "
                    "what people signed",
                    "signup.agreements",
                )
            )
        elif changed_since_locked(path) is not None:
            found.problems.append(
                found.at(("signup", "agreements"), _changed_text(path, name.split(".")[0], ""), "signup.agreements")
            )


def _changed_text(path: Path, agreement_id: str, language: str) -> str:
    new_name = f"{agreement_id}.<new version>.{language or '<lang>'}.md"
    return (
        f"{path} changed after it was published (its SHA-256 is no longer the one in {path.parent / LOCK_FILE}): a "
        f"published text never changes. Undo the edit, and put the change in a new version ({new_name}) named here; "
        "those who signed the old version keep it"
    )


def _check_pages(found: _Findings, campaign: Campaign, campaigns_dir: Path, texts: dict[Path, bytes]) -> None:
    """Each privacy statement and terms page the campaign shows can be read: a page that is not UTF-8 would be a
    server error for every visitor who opens it."""
    pages = {
        path
        for name in DOCUMENTS
        for language in campaign.languages
        if (path := find_document(campaigns_dir, campaign.slug, name, language, campaign.default_language))
    }
    for path in sorted(pages):
        data = _read_text(texts, path)
        if data is None:
            continue  # gone since it was found: the page answers 404
        try:
            decode_utf8(path, data)
        except CampaignConfigError as exc:
            found.problems.extend(exc.problems)
