"""The signed mandate ("volmacht") as a PDF: the evidence of who signed which agreement texts, when, and how.

Every sign-up ends with a mandate that lets the foundation act for the participant in court. The PDF shows the
participant, each agreement's full text with its version and SHA-256, the signature (drawn or typed) with the
signer's name under it, the time of signing in Dutch local time, the evidence gathered along the way and the
sign-up's public reference.

The page is the template ``campaign:<slug>/mandate/pdf.html`` (campaign folder -> its theme -> default theme),
rendered with the app's Jinja environment in the document's language, then laid out by WeasyPrint. Nothing is
fetched while rendering: the signature is embedded as a ``data:`` URL and every other URL (``http(s):``,
``file:``, ...) is refused, so an agreement text can never make the server reach out or read local files.

WeasyPrint takes about half a second to import, so it is imported on the first PDF, not with this module.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from markupsafe import Markup

from core import i18n
from core.campaigns import LoadedCampaign
from core.signup.signature import signature_problem

log = logging.getLogger(__name__)

TEMPLATE = "mandate/pdf.html"
LOCAL_TIMEZONE = ZoneInfo("Europe/Amsterdam")  # where the foundation and its court are
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class SignedAgreement:
    """One agreement text the participant accepted, exactly as shown to them."""

    title: str  # already in the document's language
    version: str
    sha256: str  # of the exact text shown
    text_html: Markup  # the agreement text as rendered HTML (safe)

    def __post_init__(self) -> None:
        if not _SHA256.match(self.sha256):
            raise ValueError(f"agreement {self.title!r}: sha256 must be 64 hexadecimal digits, not {self.sha256!r}")


@dataclass(frozen=True)
class MandateDocument:
    """Everything the mandate PDF shows; the caller formats the values, this module only lays them out."""

    loaded: LoadedCampaign
    language: str
    participant: Mapping[str, str]  # label -> value, already formatted and in order (name, e-mail, address, ...)
    agreements: Sequence[SignedAgreement]
    signed_at: dt.datetime  # aware; printed in Europe/Amsterdam local time with the zone
    signature_png: bytes | None  # drawn signature, or
    signature_typed: str | None  # typed name
    reference: str  # the sign-up's public reference
    evidence: Mapping[str, str]  # label -> value (e.g. hashed IP, user agent, e-mail verified at)
    fee_lines: Sequence[str] = ()  # the fee part of the mandate: what the participant chose (core.money.fees)
    # Printed under the signature, as on a paper form: a drawn signature is rarely legible, and a parent signing for
    # a child signs in their own name, which the reader must not have to work out from the participant's details.
    signer_name: str = ""
    # The sign-up's evidence record as the database holds it (core.signup.evidence_record): embedded in the PDF as
    # the attachment evidence.json, so the file alone carries its evidence.
    evidence_record: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.signed_at.tzinfo is None or self.signed_at.utcoffset() is None:
            raise ValueError("signed_at must be an aware datetime (UTC)")
        if (self.signature_png is None) == (self.signature_typed is None):
            raise ValueError("give exactly one of signature_png (drawn) and signature_typed (typed name)")
        if self.signature_png is not None and (problem := signature_problem(self.signature_png)) is not None:
            # the PDF would say "drawn on screen" beside an image it cannot show, or a blank one
            raise ValueError(f"signature_png is not a PNG image of a signature ({problem.value})")
        if self.signature_typed is not None and not self.signature_typed.strip():
            raise ValueError("signature_typed is empty")
        if not self.reference.strip():
            raise ValueError("the mandate needs the sign-up's reference")
        if not self.agreements:
            raise ValueError("the mandate needs at least one agreement")


PDF_VARIANT = "pdf/a-3a"  # archival (PDF/A-3, which allows the embedded evidence) and tagged for screen readers
EVIDENCE_ATTACHMENT = "evidence.json"
OUTPUT_INTENT = "srgb-profile"


def render_mandate_pdf(document: MandateDocument) -> bytes:
    """The mandate as PDF bytes: PDF/A-3a (archival, tagged, fonts embedded, XMP metadata naming the title, author
    and language), with the evidence record attached as ``evidence.json``. Needs an app context (a request context
    is not needed).

    The same document always gives the same bytes: the PDF's title, author (the organisation), creation date (the
    moment of signing) and file identifier (from the reference) come from the document, not from the clock.
    """
    html = render_mandate_html(document)
    html_class, fetcher_class, attachment_class, srgb = _weasyprint()
    attachments = []
    if document.evidence_record is not None:
        created = document.signed_at.astimezone(dt.UTC)
        attachments.append(
            attachment_class(
                string=evidence_json(document.evidence_record),
                name=EVIDENCE_ATTACHMENT,
                description="The evidence of this sign-up as the foundation recorded it (JSON)",
                created=created,
                modified=created,
                relationship="Data",
            )
        )
    pdf = html_class(string=html, url_fetcher=fetcher_class(), media_type="print").write_pdf(
        pdf_variant=PDF_VARIANT,
        pdf_identifier=hashlib.md5(document.reference.encode(), usedforsecurity=False).hexdigest().encode(),
        attachments=attachments,
        # PDF/A's output intent: sRGB, given as our own profile (WeasyPrint's default for the variant opens the
        # profile file on every PDF and never closes it).
        color_profiles={OUTPUT_INTENT: srgb},
        output_intent=OUTPUT_INTENT,
    )
    if not pdf:
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)


def evidence_json(record: Mapping[str, Any]) -> str:
    """The evidence record as embedded: sorted keys, so the same record always gives the same bytes."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def render_mandate_html(document: MandateDocument) -> str:
    """The HTML that :func:`render_mandate_pdf` lays out (handy to look at in a browser)."""
    loaded = document.loaded
    campaign = loaded.campaign
    if document.language not in campaign.languages:
        raise ValueError(f"campaign {loaded.slug} has no language {document.language!r} ({campaign.languages})")
    template = current_app.jinja_env.get_template(f"campaign:{loaded.slug}/{TEMPLATE}")
    with force_locale(document.language), i18n.addressing(campaign.address_form):
        return template.render(_context(document))


def _context(document: MandateDocument) -> dict[str, Any]:
    campaign = document.loaded.campaign
    signed_utc = document.signed_at.astimezone(dt.UTC)
    local = signed_utc.astimezone(LOCAL_TIMEZONE)
    offset = local.strftime("%z")  # +0100
    signature_src = None
    if document.signature_png is not None:
        signature_src = "data:image/png;base64," + base64.b64encode(document.signature_png).decode("ascii")
    return {
        # what every campaign template gets, so the `t`, `md` and `date` filters work as on the site
        "loaded": document.loaded,
        "campaign": campaign,
        "lang": document.language,
        "document": document,
        "agreements": document.agreements,
        "participant": document.participant,
        "evidence": document.evidence,
        "fee_lines": document.fee_lines,
        "reference": document.reference,
        "signature_src": signature_src,
        "signature_typed": document.signature_typed,
        "signer_name": document.signer_name,
        "signed_date": i18n.long_date(local.date(), document.language),
        "signed_time": local.strftime("%H:%M:%S"),
        "signed_zone": f"{local.tzname()}, UTC{offset[:3]}:{offset[3:]}",  # 'CET, UTC+01:00'
        "signed_utc": signed_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "css_content": css_content,
    }


# -- CSS text for the page margins (footer) --------------------------------------------------------------------

_COUNTER = re.compile(r"\[\[(page|pages)\]\]")
_CSS_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/()#+")


def _css_string(text: str) -> str:
    """``text`` as a quoted CSS string; anything but plain characters becomes a hex escape (no way out of it)."""
    return '"' + "".join(c if c in _CSS_PLAIN else f"\\{ord(c):06x}" for c in text) + '"'


def css_content(value: str, counters: bool = False) -> Markup:
    """A value for the CSS ``content`` property of a page-margin box, safe inside the template's <style>.

    ``value`` may be an autoescaped ``_()`` result (it is unescaped first). With ``counters``, the markers
    ``[[page]]`` and ``[[pages]]`` become ``counter(page)`` and ``counter(pages)``, so that a translated
    "Page %(page)s of %(pages)s" keeps its word order.
    """
    text = value.unescape() if isinstance(value, Markup) else str(value)
    parts = _COUNTER.split(text) if counters else [text]
    css = [f"counter({part})" if i % 2 else _css_string(part) for i, part in enumerate(parts) if part]
    return Markup(" ".join(css) or '""')  # noqa: S704 - built from hex-escaped strings and fixed counters only


# -- WeasyPrint, imported on first use ---------------------------------------------------------------------------


class ExternalResourceRefused(ValueError):
    """A mandate PDF asked for something other than a ``data:`` URL."""


def _data_url(url: str) -> tuple[str, bytes]:
    """(media type, bytes) of a ``data:`` URL (RFC 2397)."""
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise ValueError("malformed data: URL")
    params = [p.strip() for p in header.split(";")]
    base64_encoded = params[-1].lower() == "base64"
    if base64_encoded:
        params.pop()
    media_type = params[0] or "text/plain"
    raw = unquote_to_bytes(payload)
    try:
        body = base64.b64decode(raw, validate=False) if base64_encoded else raw
    except binascii.Error as exc:
        raise ValueError(f"malformed base64 in data: URL: {exc}") from None
    return media_type, body


@functools.cache
def _weasyprint() -> tuple[Any, type, Any, Any]:
    """WeasyPrint's ``HTML`` class, our fetcher class (which must subclass WeasyPrint's), ``Attachment``, and the sRGB
    colour profile that WeasyPrint ships (read once)."""
    from importlib.resources import files
    from io import BytesIO

    from weasyprint import HTML, Attachment
    from weasyprint.css import ColorProfile

    icc = (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
    srgb = ColorProfile(BytesIO(icc), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class DataOnlyURLFetcher(URLFetcher):
        """Serves ``data:`` URLs itself and refuses every other URL: no network, no local files."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=False)

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url[:5].lower() != "data:":
                log.warning("mandate PDF: refused to fetch %.200s (only data: URLs are allowed)", url)
                raise ExternalResourceRefused(f"only data: URLs are allowed in a mandate PDF, not {url[:200]}")
            media_type, body = _data_url(url)
            return URLFetcherResponse(url, body, headers={"Content-Type": media_type})

    return HTML, DataOnlyURLFetcher, Attachment, srgb
