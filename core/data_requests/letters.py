"""The request letter: one collective access request (Art. 15 GDPR) to one company, for every participant of a round
who chose it, on the foundation's letterhead, as a PDF.

The letter is what the company's privacy team reads first and what a supervisory authority or court reads later, so
it says everything that starts the clock and fixes the company's duties on its own: on whose behalf we ask (the
number of data subjects in the annex, each with a signed mandate enclosed), what we ask per data subject (the copy of
Art. 15(3) and the information of Art. 15(1)(a)-(h)), how to find them (the identifiers in the annex, ID copies where
we hold them), where, in what form and at what cost to answer (to us, electronically, free: Art. 15(3), 12(5)), by
when (one month, extendable only as Art. 12(3) allows) and what follows otherwise (a complaint, Art. 77). Its
reference (round and company) goes in the footer of every page, so a page that strays can be put back.

The input is plain frozen data (:class:`RequestLetter`): the caller (``flask requests prepare``) reads the round, the
company catalogue and the campaign, and this module only words and lays out what it is given; it reads no database.

The page is the template ``default:data_requests/letter.html`` (the default theme: a letter is the foundation's, not
a campaign's), rendered in the company's language with every string through flask-babel (the Dutch letter says "u",
so its strings are translated in that form in ``messages.po``), then laid out by WeasyPrint as the mandate is
(:mod:`core.signup.mandate`): PDF/A, fonts embedded, nothing fetched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app
from flask_babel import force_locale

from core import i18n
from core.signup.mandate import OUTPUT_INTENT, _weasyprint, css_content

TEMPLATE = "default:data_requests/letter.html"
LANGUAGES = ("nl", "en")
# archival (PDF/A-2), tagged for screen readers; -2 rather than the mandate's -3: a letter carries no attachment
PDF_VARIANT = "pdf/a-2a"
Language = Literal["nl", "en"]

# The reference names files and is quoted in the company's answer: plain characters only.
_REFERENCE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_IDENTIFIER_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Sender:
    """The foundation, as its letterhead shows it."""

    name: str
    website: str
    email: str
    postal_address: str | None = None  # lines separated by newlines
    chamber_of_commerce: str | None = None

    def __post_init__(self) -> None:
        _required(self, "name", "website", "email")


@dataclass(frozen=True)
class Addressee:
    """The company the request goes to (its controller entity, as the company catalogue names it)."""

    slug: str  # the catalogue's slug: part of the letter's reference
    name: str  # the legal name of the controller
    runs: tuple[str, ...] = ()  # the services and trade names it runs, which the request covers
    address_lines: tuple[str, ...] = ()
    email: str | None = None  # the privacy or DPO address
    webform: str | None = None  # the privacy web form

    def __post_init__(self) -> None:
        _required(self, "slug", "name")
        if not _REFERENCE_PART.match(self.slug):
            raise ValueError(
                f"company slug {self.slug!r}: use letters, digits, '.', '_' and '-' only (it names the package's files)"
            )


@dataclass(frozen=True)
class IdentifierColumn:
    """One identifier asked of each participant to find them at the company (the account's e-mail, phone, user
    name): ``id`` keys :attr:`core.exports.round_package.RoundParticipant.identifiers`, ``label`` heads its column
    in the annex and is named in the letter, in the letter's language."""

    id: str
    label: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER_ID.match(self.id):
            raise ValueError(
                f"identifier id {self.id!r}: use lower-case letters, digits and '_', starting with a letter"
            )
        _required(self, "label")


@dataclass(frozen=True)
class RequestLetter:
    """Everything the letter says; the caller looks the values up, this module words and lays them out."""

    language: Language  # the company's request language
    organisation: Sender
    company: Addressee
    campaign_name: str  # in the letter's language
    round_id: str  # the round, as the foundation names it (e.g. "alledata-2026-07-28")
    dated: dt.date
    participant_count: int  # how many data subjects the annex lists
    identifiers: tuple[IdentifierColumn, ...]  # in the annex's order
    id_proofs: bool  # whether copies of ID documents are enclosed (for the participants who have an accepted one)
    reply_to: str  # where the company sends its answer (an e-mail address of the foundation)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(
                f"letter language {self.language!r}: a request letter is written in {' or '.join(LANGUAGES)}"
            )
        _required(self, "campaign_name", "round_id", "reply_to")
        if not _REFERENCE_PART.match(self.round_id):
            raise ValueError(
                f"round id {self.round_id!r}: use letters, digits, '.', '_' and '-' only (it is part of the reference)"
            )
        if self.participant_count < 1:
            raise ValueError(f"participant_count is {self.participant_count}: a letter asks for at least one person")
        ids = [column.id for column in self.identifiers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"identifiers: an id is named twice in {ids}")

    @property
    def reference(self) -> str:
        """The letter's reference: the round and the company, as the company is asked to quote it."""
        return f"{self.round_id}-{self.company.slug}"


def _required(value: Any, *names: str) -> None:
    for name in names:
        if not str(getattr(value, name)).strip():
            raise ValueError(f"{type(value).__name__}.{name} is empty: the letter needs it")


def request_letter_pdf(letter: RequestLetter) -> bytes:
    """The letter as PDF bytes (PDF/A-2a: archival, tagged, fonts embedded). Needs an app context (the templates and
    the UI catalogs; no request, no database). The same letter always gives the same bytes: the creation date and
    the file identifier come from the letter, not from the clock."""
    html = request_letter_html(letter)
    html_class, fetcher_class, _attachment, srgb = _weasyprint()
    pdf = html_class(string=html, url_fetcher=fetcher_class(), media_type="print").write_pdf(
        pdf_variant=PDF_VARIANT,
        pdf_identifier=hashlib.md5(letter.reference.encode(), usedforsecurity=False).hexdigest().encode(),
        color_profiles={OUTPUT_INTENT: srgb},
        output_intent=OUTPUT_INTENT,
    )
    if not pdf:
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)


def request_letter_html(letter: RequestLetter) -> str:
    """The HTML that :func:`request_letter_pdf` lays out (handy to look at in a browser)."""
    template = current_app.jinja_env.get_template(TEMPLATE)
    with force_locale(letter.language):
        return template.render(_context(letter))


def _context(letter: RequestLetter) -> dict[str, Any]:
    created = dt.datetime.combine(letter.dated, dt.time(), tzinfo=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "lang": letter.language,
        "letter": letter,
        "organisation": letter.organisation,
        "company": letter.company,
        "reference": letter.reference,
        "dated": i18n.long_date(letter.dated, letter.language),
        "created": created,
        "count": i18n.number(letter.participant_count, letter.language),
        "css_content": css_content,
    }
