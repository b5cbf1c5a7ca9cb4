"""The company catalogue: the companies that data-request campaigns send Art. 15 GDPR requests to, and the
supervisory authorities a complaint about them goes to.

One file per company, ``campaigns/_shared/companies/<slug>.yaml``, whose field names are those of datenanfragen.de's
public company records (about 4,000 of them, CC0), so that their JSON records read as they are
(:mod:`core.campaigns.company_import`). A record lacks what a collective request needs: the country of the legal
entity, its supervisory authority and what to ask a participant so the company can find them; those are our own
fields, after theirs. A missing one is a warning for staff to fill, never an error: a fact nobody checked is left
empty rather than guessed. The authorities are one file, ``campaigns/_shared/authorities.yaml``, keyed by id.

Mistakes are explained as in campaign files (:mod:`core.campaigns.config_files`): file, line and field, every problem
of every file in one :class:`CampaignConfigError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, RootModel, StringConstraints, ValidationError

from core.campaigns.config_files import (
    YamlDocument,
    duplicate_key_problems,
    read_yaml_mapping,
    validation_problems,
)
from core.campaigns.countries import country_codes
from core.campaigns.documents import SHARED_FOLDER
from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.localized import Localized
from core.campaigns.schema import Email, LanguageCode, Strict
from core.campaigns.yaml_parsing import parse_yaml

COMPANIES_FOLDER = "companies"
AUTHORITIES_FILE = "authorities.yaml"


def _not_false(value: Any) -> Any:
    """YAML 1.1 reads an unquoted ``no`` or ``NO`` (Norway) as false; say so rather than 'expected text'."""
    if value is False:
        raise ValueError("YAML reads an unquoted no/NO (Norway) as false: write it in quotes, 'NO' or 'no'")
    return value


def _known_country(code: str) -> str:
    if code not in country_codes():
        raise ValueError(f"'{code}' is no ISO 3166 country code; use the two capitals of the country, such as 'IE'")
    return code


CompanySlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
AuthorityId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
WebAddress = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")]
CountryCode = Annotated[
    str, BeforeValidator(_not_false), StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(_known_country)
]
# datenanfragen.de's relevant countries: lowercase codes (their list has 'uk' beside 'gb'), or 'all'
RelevantCountry = Annotated[str, BeforeValidator(_not_false), StringConstraints(pattern=r"^(all|[a-z]{2})$")]
Text = Annotated[str, StringConstraints(min_length=1)]
TransportMedium = Literal["email", "letter", "fax", "webform"]


class RequiredElement(Strict):
    """What a company needs to identify a person, as datenanfragen.de records it."""

    desc: Text
    type: Literal["name", "address", "email", "phone", "birthdate", "input", "textarea"] = "input"
    optional: bool | None = None


class Identifier(Strict):
    """One thing to ask a participant so the company can find their data (the account's e-mail address)."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
    type: Literal["email", "phone", "text", "date"]
    label: Localized
    required: bool = False


class Company(Strict):
    """One company file. Their fields (datenanfragen.de's names, dashes and all), then ours."""

    slug: CompanySlug
    relevant_countries: list[RelevantCountry] = Field(default=[], alias="relevant-countries")
    categories: list[Text] = []
    name: Text = Field(description="the legal entity")
    runs: list[Text] = Field(default=[], description="brands and services it is responsible for")
    address: Text | None = Field(default=None, description="postal address, lines separated by \\n, country last")
    phone: Text | None = None
    fax: Text | None = None
    email: Email | None = Field(default=None, description="the privacy or DPO address")
    pgp_fingerprint: Text | None = Field(default=None, alias="pgp-fingerprint")
    pgp_url: WebAddress | None = Field(default=None, alias="pgp-url")
    webform: WebAddress | None = None
    web: WebAddress | None = None
    sources: list[Text] = []
    required_elements: list[RequiredElement] = Field(default=[], alias="required-elements")
    request_language: LanguageCode | None = Field(default=None, alias="request-language")
    custom_access_template: Text | None = Field(default=None, alias="custom-access-template")
    custom_erasure_template: Text | None = Field(default=None, alias="custom-erasure-template")
    custom_rectification_template: Text | None = Field(default=None, alias="custom-rectification-template")
    custom_objection_template: Text | None = Field(default=None, alias="custom-objection-template")
    needs_id_document: bool | None = Field(default=None, alias="needs-id-document")
    suggested_transport_medium: TransportMedium | None = Field(default=None, alias="suggested-transport-medium")
    comments: list[Text] = []
    quality: Literal["tested", "verified", "imported", "scraped"] | None = None
    facet_group: Literal["church", "school"] | None = Field(default=None, alias="facet-group")
    nsfw: bool | None = None
    # Ours: what a record lacks. A missing one is a warning (company_warnings).
    country: CountryCode | None = Field(default=None, description="the legal entity's country")
    supervisory_authority: AuthorityId | None = Field(
        default=None, alias="supervisory-authority", description="a key of campaigns/_shared/authorities.yaml"
    )
    identifiers: list[Identifier] = []
    short_name: Text | None = Field(
        default=None, alias="short-name", description="the name people know, shown on the join form (e.g. TikTok)"
    )
    trade_names: list[Text] = Field(
        default=[], alias="trade-names", description="names the legal entity now goes by, which a record may lack"
    )

    @property
    def shown_name(self) -> str:
        """The name a participant knows the company by: its short name, else the name it trades as, else its legal
        name."""
        return self.short_name or (self.trade_names[0] if self.trade_names else self.name)

    @property
    def channel(self) -> TransportMedium:
        """How a request is sent: the suggested medium, else as datenanfragen.de's generator picks it (e-mail when
        there is an address, else the web form when there is one, else a letter)."""
        if self.suggested_transport_medium is not None:
            return self.suggested_transport_medium
        if self.email:
            return "email"
        return "webform" if self.webform else "letter"


# The fields that are ours, in the order a file writes them (after datenanfragen.de's): an import with --update
# keeps these and replaces the others.
OUR_FIELDS = ("country", "supervisory-authority", "identifiers", "short-name", "trade-names")


class Authority(Strict):
    """A data protection authority (Art. 51 GDPR) that a complaint about a company goes to."""

    name: Localized
    country: CountryCode
    address: Text = Field(description="postal address, lines separated by \\n, country last")
    email: Email | None = None
    web: WebAddress
    complaint_form: WebAddress | None = None


class Authorities(RootModel[dict[AuthorityId, Authority]]):
    """The authorities file: each authority under its id."""


@dataclass(frozen=True)
class Catalogue:
    """The companies (by slug) and authorities (by id) that loaded, and where each was read."""

    companies: dict[str, Company]
    authorities: dict[str, Authority]
    folder: Path
    authorities_file: Path
    # Each company file's text, for the line of a field (parsed again only when a warning needs one).
    texts: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Files in the companies folder that are not read (not <slug>.yaml): worth a warning.
    unread: tuple[Path, ...] = ()

    def file_of(self, slug: str) -> Path:
        return self.folder / f"{slug}.yaml"

    def line_of(self, slug: str, loc: tuple[Any, ...]) -> int | None:
        """The line of the field at ``loc`` in the company's file; None when the file does not write its first key
        (a missing field has no line)."""
        text = self.texts.get(slug)
        if text is None or not loc:
            return None
        root = _parsed(text)
        written = isinstance(root, yaml.MappingNode) and any(str(key.value) == str(loc[0]) for key, _ in root.value)
        return YamlDocument(root).line_of(loc) if written else None


@lru_cache(maxsize=1)
def _parsed(text: str) -> yaml.Node | None:
    """The node tree of a company file, kept while the warnings of that one file ask for lines."""
    return parse_yaml(text)[0]


def companies_folder(campaigns_dir: Path) -> Path:
    return campaigns_dir / SHARED_FOLDER / COMPANIES_FOLDER


def authorities_file(campaigns_dir: Path) -> Path:
    return campaigns_dir / SHARED_FOLDER / AUTHORITIES_FILE


def load_companies(campaigns_dir: Path) -> Catalogue:
    """The catalogue under ``campaigns_dir/_shared/``; raises :class:`CampaignConfigError` with every problem of
    every file when any file does not load (a missing folder or authorities file is an empty catalogue)."""
    catalogue, problems = read_companies(campaigns_dir)
    if problems:
        raise CampaignConfigError(problems)
    return catalogue


def read_companies(campaigns_dir: Path) -> tuple[Catalogue, list[ConfigProblem]]:
    """What loads of the catalogue, and the problems of what does not (for ``flask companies check``, which
    reports both)."""
    problems: list[ConfigProblem] = []
    authorities, authorities_ok = _read_authorities(authorities_file(campaigns_dir), problems)
    folder = companies_folder(campaigns_dir)
    companies: dict[str, Company] = {}
    texts: dict[str, str] = {}
    unread: list[Path] = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name.startswith(("_", ".")) or not path.is_file():
            continue
        if path.suffix != ".yaml":
            unread.append(path)
            continue
        try:
            company, text = _read_company(path, authorities if authorities_ok else None)
        except CampaignConfigError as exc:
            problems.extend(exc.problems)
            continue
        companies[company.slug] = company
        texts[company.slug] = text
    catalogue = Catalogue(companies, authorities, folder, authorities_file(campaigns_dir), texts, tuple(unread))
    return catalogue, problems


def _read_authorities(path: Path, problems: list[ConfigProblem]) -> tuple[dict[str, Authority], bool]:
    """The authorities, and whether their file loaded (a missing file is none, and loads)."""
    if not path.is_file():
        return {}, True
    try:
        _, root, data = read_yaml_mapping(path, "authorities, each under its id")
    except CampaignConfigError as exc:
        problems.extend(exc.problems)
        return {}, False
    found = duplicate_key_problems(str(path), root)
    try:
        authorities = Authorities.model_validate(data).root
    except ValidationError as exc:
        problems.extend(found + validation_problems(exc, Authorities, YamlDocument(root), str(path)))
        return {}, False
    problems.extend(found)
    return authorities, not found


def _read_company(path: Path, authorities: Mapping[str, Authority] | None) -> tuple[Company, str]:
    """One company file validated, and its text; raises :class:`CampaignConfigError` with its problems. An
    unknown authority is checked only against an authorities file that loaded (``authorities`` not None)."""
    file = str(path)
    text, root, data = read_yaml_mapping(path, "company fields")
    doc = YamlDocument(root)
    problems = duplicate_key_problems(file, root)
    try:
        company = Company.model_validate(data)
    except ValidationError as exc:
        raise CampaignConfigError(problems + validation_problems(exc, Company, doc, file)) from None
    if company.slug != path.stem:
        message = f"the slug '{company.slug}' must match the file name '{path.name}' ({company.slug}.yaml)"
        problems.append(ConfigProblem(file, doc.line_of(("slug",)), "slug", message))
    seen: set[str] = set()
    for index, identifier in enumerate(company.identifiers):
        if identifier.id in seen:
            loc = ("identifiers", index, "id")
            message = f"the id '{identifier.id}' is given to another identifier already; give each its own"
            problems.append(ConfigProblem(file, doc.line_of(loc), f"identifiers[{index}].id", message))
        seen.add(identifier.id)
    key = company.supervisory_authority
    if key is not None and authorities is not None and key not in authorities:
        problems.append(
            ConfigProblem(
                file, doc.line_of(("supervisory-authority",)), "supervisory-authority", _unknown(key, authorities)
            )
        )
    if problems:
        raise CampaignConfigError(problems)
    return company, text


def _unknown(key: str, authorities: Mapping[str, Authority]) -> str:
    close = difflib.get_close_matches(key, list(authorities), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    known = ", ".join(sorted(authorities)) or "none"
    return f"unknown authority '{key}'{hint} Known in campaigns/{SHARED_FOLDER}/{AUTHORITIES_FILE}: {known}"


def company_warnings(catalogue: Catalogue) -> list[ConfigProblem]:
    """What staff should fill in, per company (by slug), and the files in the companies folder that are not read.
    None of it stops a company from loading."""
    found = [
        ConfigProblem(
            str(path),
            None,
            "",
            "is not read: company files are <slug>.yaml (a datenanfragen.de JSON record becomes one with: "
            "flask companies import FILE)",
        )
        for path in catalogue.unread
    ]
    for slug in sorted(catalogue.companies):
        file = str(catalogue.file_of(slug))
        found += missing_facts(catalogue.companies[slug], file, partial(catalogue.line_of, slug))
    return found


def missing_facts(
    company: Company, file: str, line_of: Callable[[tuple[Any, ...]], int | None] = lambda loc: None
) -> list[ConfigProblem]:
    """The warnings of one company: the facts a collective request needs that its file lacks, and a suggested
    medium it has no contact for. ``line_of`` gives the line of a field the file writes (None otherwise)."""
    missing: list[tuple[str, str]] = []
    if not company.email and not company.webform:
        missing.append(
            (
                "email",
                "no e-mail address and no web form: a request can only go by letter; add 'email' (the privacy or DPO "
                "address) or 'webform' where the company's privacy policy gives one",
            )
        )
    if not company.address:
        missing.append(
            ("address", "no postal address: add 'address', its lines separated by line breaks, the country last")
        )
    if company.country is None:
        missing.append(
            ("country", "no country: add 'country', the ISO 3166 code of the legal entity's country (such as 'IE')")
        )
    if company.supervisory_authority is None:
        missing.append(
            (
                "supervisory-authority",
                "no supervisory authority: add 'supervisory-authority', the id of the authority in "
                f"campaigns/{SHARED_FOLDER}/{AUTHORITIES_FILE} that a complaint about this company goes to",
            )
        )
    if not company.identifiers:
        missing.append(
            (
                "identifiers",
                "no identifiers: add 'identifiers', what to ask a participant so the company can find their data "
                "(such as the account's e-mail address)",
            )
        )
    if company.request_language is None:
        missing.append(
            (
                "request-language",
                "no request language: add 'request-language' ('nl' or 'en'), the language the request is written in",
            )
        )
    medium = company.suggested_transport_medium
    contact = {"email": "email", "webform": "webform", "fax": "fax", "letter": "address"}.get(medium or "")
    if contact is not None and not getattr(company, contact):
        missing.append(
            (
                "suggested-transport-medium",
                f"the suggested medium is '{medium}', but there is no '{contact}': add it, or suggest another medium",
            )
        )
    return [ConfigProblem(file, line_of((name,)), name, message) for name, message in missing]


@runtime_checkable
class NamesCompanies(Protocol):
    """Plugin settings that name companies of the catalogue (a data request's): the loader checks each is there,
    on the line that names it, and hands the campaign the companies it names (:attr:`LoadedCampaign.companies`)."""

    def company_references(self) -> list[tuple[tuple[Any, ...], str]]:
        """Each company named, as (where in the settings, e.g. ``("companies", 0)``, its slug)."""
        ...


_catalogues: dict[Path, tuple[Any, tuple[Catalogue, list[ConfigProblem]]]] = {}


def current_catalogue(campaigns_dir: Path) -> tuple[Catalogue, list[ConfigProblem]]:
    """:func:`read_companies`, read again only when a file of the catalogue changed (a stat per file): every
    campaign that names companies asks for it when it loads."""
    folder = companies_folder(campaigns_dir)
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    signature = (tuple((path.name, _file_stat(path)) for path in files), _file_stat(authorities_file(campaigns_dir)))
    cached = _catalogues.get(campaigns_dir)
    if cached is None or cached[0] != signature:
        cached = _catalogues[campaigns_dir] = (signature, read_companies(campaigns_dir))
    return cached[1]


def _file_stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def referenced_companies(
    campaigns_dir: Path, references: list[tuple[tuple[Any, ...], str]]
) -> tuple[dict[str, Company], list[tuple[tuple[Any, ...], str]]]:
    """The companies ``references`` name, by slug; and (where, message) for each that is not in the catalogue or
    whose file does not load."""
    catalogue, problems = current_catalogue(campaigns_dir)
    broken = {Path(problem.file).stem for problem in problems}
    found: dict[str, Company] = {}
    missing: list[tuple[tuple[Any, ...], str]] = []
    for loc, slug in references:
        company = catalogue.companies.get(slug)
        if company is not None:
            found[slug] = company
        elif slug in broken:
            missing.append((loc, f"the file of company '{slug}' does not load: flask companies check says why"))
        else:
            known = ", ".join(sorted(catalogue.companies)) or "none"
            close = difflib.get_close_matches(slug, list(catalogue.companies), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            missing.append(
                (loc, f"no company '{slug}' in campaigns/_shared/companies/ ({slug}.yaml); {hint}known: {known}")
            )
    return found, missing
