"""The Art. 15 request letter (core/data_requests/letters.py): rendered by WeasyPrint in Dutch and English and read
back with pdftotext: the company, its address and services, the number of data subjects, the articles that fix the
company's duties, the date and the reference on every page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.data_requests.letters import Addressee, IdentifierColumn, RequestLetter, Sender, request_letter_pdf

SOMI = Sender(
    name="Stichting Onderzoek Marktinformatie",
    website="https://somi.nl",
    email="info@somi.nl",
    postal_address="Postbus 12345\n1000 AB Amsterdam",
)
TIKTOK = Addressee(
    slug="tiktok",
    name="TikTok Technology Limited",
    runs=("TikTok", "TikTok Lite", "CapCut"),
    address_lines=("10 Earlsfort Terrace", "Dublin 2, D02 T380", "Ireland"),
    email="privacy@tiktok.example",
    webform="https://www.tiktok.com/legal/report/privacy",
)
IDENTIFIERS = {
    "nl": (IdentifierColumn("email", "E-mailadres van het account"), IdentifierColumn("phone", "Telefoonnummer")),
    "en": (IdentifierColumn("email", "E-mail address of the account"), IdentifierColumn("phone", "Phone number")),
}


def letter(lang: str = "en", **changes: Any) -> RequestLetter:
    language = changes.get("language", lang)
    values: dict[str, Any] = {
        "language": language,
        "organisation": SOMI,
        "company": TIKTOK,
        "campaign_name": "Alle je data" if language == "nl" else "All your data",
        "round_id": "alledata-2026-07-28",
        "dated": dt.date(2026, 7, 28),
        "participant_count": 1234,
        "identifiers": IDENTIFIERS.get(language, ()),
        "id_proofs": True,
        "reply_to": "verzoeken@somi.nl",
    }
    values.update(changes)
    return RequestLetter(**values)


@pytest.fixture
def app(shipped_app: Flask) -> Iterator[Flask]:
    with shipped_app.app_context():
        yield shipped_app


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=30)
    return result.stdout


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nl", ["28 juli 2026", "1.234", "Kenmerk alledata-2026-07-28-tiktok", "Pagina 1 van", "Alle je data"]),
        ("en", ["28 July 2026", "1,234", "Reference alledata-2026-07-28-tiktok", "Page 1 of", "All your data"]),
    ],
)
def test_the_letter_names_the_company_the_data_subjects_and_the_law(
    app: Flask, tmp_path: Path, language: str, expected: list[str]
) -> None:
    pdf = request_letter_pdf(letter(language))
    text = pdf_text(pdf, tmp_path)
    flat = squeeze(text)
    for phrase in expected:
        assert phrase in flat, phrase
    # the letterhead, and the company with its full address and channels
    assert "Stichting Onderzoek Marktinformatie" in text and "somi.nl" in text and "info@somi.nl" in text
    assert "Postbus 12345" in text
    for line in (TIKTOK.name, *TIKTOK.address_lines, "privacy@tiktok.example"):
        assert line in text, line
    for service in TIKTOK.runs:  # the services the request covers, one list item each
        assert re.search(rf"^•?\s*{re.escape(service)}$", text, re.MULTILINE), service
    for column in IDENTIFIERS[language]:
        assert column.label in flat
    # the articles that fix what the company must do, and by when (each language cites them its own way)
    cited = {
        "en": ("15(1)", "15(3)", "(a) to (h)", "12(3)", "12(5)", "77"),
        "nl": ("artikel 15, lid 1", "artikel 15, lid 3", "artikel 12, lid 3", "artikel 12, lid 5", "artikel 77"),
    }
    for article in cited[language]:
        assert article in flat, article
    for point in "abcdefgh":
        assert f"({point})" in flat
    assert "verzoeken@somi.nl" in flat  # where to answer
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= 2 and all("alledata-2026-07-28-tiktok" in page for page in pages)  # on every page


def test_the_english_letter_says_what_the_law_asks(app: Flask, tmp_path: Path) -> None:
    flat = squeeze(pdf_text(request_letter_pdf(letter("en")), tmp_path))
    for phrase in (
        "on behalf of the 1,234 data subjects listed in the annex",
        "Their signed powers of attorney are enclosed.",
        "request access under Article 15(1) and (3) GDPR",
        "including profiling",
        "meaningful information about the logic involved",
        "in particular recipients in third countries",
        "within one month of receipt of this request",
        "extended by two further months",
        "only if you inform us of the extension within one month of receipt",
        "the reasons for the delay",
        "in a commonly used electronic form (Article 15(3) GDPR)",
        "free of charge (Article 12(5) GDPR)",
        "lodge a complaint with the competent supervisory authority (Article 77 GDPR)",
        "citizen service number (BSN) and the photograph have been blacked out",
    ):
        assert phrase in flat, phrase


def test_one_data_subject_and_no_id_copies(app: Flask, tmp_path: Path) -> None:
    flat = squeeze(pdf_text(request_letter_pdf(letter("en", participant_count=1, id_proofs=False)), tmp_path))
    assert "on behalf of the 1 data subject listed in the annex" in flat
    assert "The signed power of attorney is enclosed." in flat
    assert "BSN" not in flat and "id/" not in flat  # no ID copies promised that are not there
    assert "Article 12(6) GDPR" in flat  # how the company may still ask, if it doubts someone's identity


def test_a_company_without_services_or_identifiers_still_gets_a_whole_letter(app: Flask, tmp_path: Path) -> None:
    bare = dataclasses.replace(TIKTOK, runs=(), address_lines=(), email=None, webform=None)
    flat = squeeze(pdf_text(request_letter_pdf(letter("en", company=bare, identifiers=())), tmp_path))
    assert "including:" not in flat and "following identifiers" not in flat
    assert "Yours faithfully" in flat and "12(3)" in flat


def test_the_same_letter_gives_the_same_bytes(app: Flask) -> None:
    """So a package made again for the same round and company holds the same letter (and the same SHA-256)."""
    assert request_letter_pdf(letter("nl")) == request_letter_pdf(letter("nl"))


def test_the_letter_is_archival_and_titled(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "letter.pdf"
    path.write_bytes(request_letter_pdf(letter("en")))
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=30).stdout
    assert re.search(r"^Title:.*TikTok Technology Limited.*alledata-2026-07-28-tiktok", info, re.MULTILINE), info
    assert re.search(r"^Author:\s+Stichting Onderzoek Marktinformatie$", info, re.MULTILINE), info
    assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE), info
    xmp = subprocess.run(["pdfinfo", "-meta", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"<pdfaid:part>2</pdfaid:part>|pdfaid:part=\"2\"", xmp), xmp
    assert re.search(r"<pdfaid:conformance>A</pdfaid:conformance>|pdfaid:conformance=\"A\"", xmp), xmp
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert {line.split()[-5] for line in fonts.splitlines()[2:]} == {"yes"}, fonts  # every font embedded


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"language": "de"}, "letter language 'de'"),
        ({"participant_count": 0}, "participant_count is 0"),
        ({"round_id": "2026/07"}, "round id '2026/07'"),
        ({"reply_to": " "}, "RequestLetter.reply_to is empty"),
        ({"identifiers": (IdentifierColumn("email", "A"), IdentifierColumn("email", "B"))}, "named twice"),
    ],
)
def test_a_letter_that_cannot_be_right_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        letter("en", **changes)


def test_a_company_slug_or_identifier_that_cannot_name_a_file_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("company slug '../tiktok'")):
        dataclasses.replace(TIKTOK, slug="../tiktok")
    with pytest.raises(ValueError, match="identifier id 'E-mail'"):
        IdentifierColumn("E-mail", "E-mail")
