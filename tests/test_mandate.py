"""The signed mandate PDF: rendered by WeasyPrint for a shipped campaign and read back with pdftotext."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
import socket
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from markupsafe import Markup

from core.signup.mandate import (
    ExternalResourceRefused,
    MandateDocument,
    SignedAgreement,
    _weasyprint,
    css_content,
    render_mandate_html,
    render_mandate_pdf,
)
from tests.conftest import CampaignFolder

SIGNED_AT = dt.datetime(2026, 11, 23, 13, 5, 9, tzinfo=dt.UTC)  # 14:05:09 CET in Amsterdam
REFERENCE = "TT-7KQ2-M9XD"


def png(width: int = 240, height: int = 80) -> bytes:
    """A real greyscale PNG: a diagonal 'scribble' on white."""
    rows = b"".join(
        b"\x00" + bytes(0 if abs(2 * x - 6 * y - 10) < 5 or abs(x + 3 * y - 230) < 4 else 255 for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def agreement(title: str, version: str, text: str, html: str | None = None) -> SignedAgreement:
    return SignedAgreement(
        title=title,
        version=version,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        text_html=Markup(html if html is not None else f"<p>{text}</p>"),
    )


AGREEMENTS = {
    "nl": [
        agreement("Volmacht", "2026-11.1", "Ik machtig Stichting SOMI om namens mij op te treden tegen TikTok."),
        agreement("Deelnemersvoorwaarden", "v3", "De deelname is kosteloos; bij succes ontvangt SOMI een vergoeding."),
    ],
    "en": [
        agreement("Power of attorney", "2026-11.1", "I authorise the SOMI foundation to act for me against TikTok."),
        agreement("Terms of participation", "v3", "Joining is free; if the claim succeeds SOMI receives a fee."),
    ],
}
PARTICIPANT = {
    "nl": {
        "Naam": "Jan de Vries",
        "E-mailadres": "jan@example.org",
        "Adres": "Kerkstraat 1, 1234 AB Utrecht",
        "Geboortedatum": "3 maart 1990",
    },
    "en": {
        "Name": "Jan de Vries",
        "E-mail address": "jan@example.org",
        "Address": "Kerkstraat 1, 1234 AB Utrecht",
        "Date of birth": "3 March 1990",
    },
}


@pytest.fixture
def app(shipped_app: Flask) -> Iterator[Flask]:
    with shipped_app.app_context():
        yield shipped_app


def document(app: Flask, language: str = "nl", **changes: Any) -> MandateDocument:
    values: dict[str, Any] = {
        "loaded": changes.get("loaded") or app.extensions["claimsite"].registry.snapshot.campaigns["tiktokclaim"],
        "language": language,
        "participant": PARTICIPANT[language],
        "agreements": AGREEMENTS[language],
        "signed_at": SIGNED_AT,
        "signature_png": png(),
        "signature_typed": None,
        "reference": REFERENCE,
        "evidence": {
            "IP (HMAC-SHA256)": "9f2c4e1a77d0",
            "User agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "E-mail verified": "2026-11-23T13:01:44Z",
        },
    }
    values.update(changes)
    return MandateDocument(**values)


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "mandate") -> str:
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout


def pdf_info(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdfinfo", "-isodates", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "nl",
            [
                "Volmacht",
                "23 november 2026 om 14:05:09 (CET, UTC+01:00)",
                "Deelnemer",
                "Handtekening",
                "Overeenkomsten",
                "Kenmerk",
                "Bewijsgegevens",
                "Elektronisch ondertekend met een handtekening die op het scherm is getekend.",
                "Pagina 1 van 1",
                "Wederpartij",
            ],
        ),
        (
            "en",
            [
                "Power of attorney",
                "23 November 2026 at 14:05:09 (CET, UTC+01:00)",
                "Participant",
                "Signature",
                "Agreements",
                "Reference",
                "Evidence",
                "Signed electronically with a signature drawn on screen.",
                "Page 1 of 1",
                "Opposing party",
            ],
        ),
    ],
)
def test_mandate_pdf_shows_who_what_when(app: Flask, tmp_path: Path, language: str, expected: list[str]) -> None:
    doc = document(app, language)
    pdf = render_mandate_pdf(doc)
    text = pdf_text(pdf, tmp_path)
    flat = squeeze(text)
    assert "Jan de Vries" in text and "jan@example.org" in text and "Kerkstraat 1, 1234 AB Utrecht" in text
    assert "TikTok Claim" in text and "SOMI" in text and "TikTok" in text
    for signed in doc.agreements:
        assert signed.title in text
        assert signed.version in text
        assert signed.sha256 in text  # on one line, in full
        assert squeeze(signed.text_html.striptags()) in flat  # the full text
    assert REFERENCE in text
    assert "2026-11-23T13:05:09Z" in text  # the UTC time in the evidence block
    for label, value in doc.evidence.items():
        assert label in text and value in text
    for phrase in expected:
        assert phrase in flat, phrase
    assert text.count("\f") == 1  # one A4 page for typical data


@pytest.mark.parametrize(
    ("language", "heading", "signed_by", "signed_on"),
    [("nl", "Handtekening", "Ondertekend door", "Ondertekend op"), ("en", "Signature", "Signed by", "Signed on")],
)
def test_the_signers_name_is_printed_under_the_signature(
    app: Flask, tmp_path: Path, language: str, heading: str, signed_by: str, signed_on: str
) -> None:
    """A drawn signature is rarely legible: the name of who signed stands under it, as on a paper form."""
    text = pdf_text(render_mandate_pdf(document(app, language, signer_name="Jan de Vries")), tmp_path)
    signature = squeeze(text[text.rindex(heading) :])
    assert signature.startswith(heading) and f"{signed_by} Jan de Vries {signed_on} " in signature
    assert signed_by not in pdf_text(render_mandate_pdf(document(app, language)), tmp_path, "nameless")


def test_english_and_dutch_dates_differ(app: Flask, tmp_path: Path) -> None:
    nl = pdf_text(render_mandate_pdf(document(app, "nl")), tmp_path, "nl")
    en = pdf_text(render_mandate_pdf(document(app, "en")), tmp_path, "en")
    assert "23 november 2026" in nl and "23 November 2026" not in nl
    assert "23 November 2026" in en and "23 november 2026" not in en


def test_summer_time_is_printed_as_cest(app: Flask, tmp_path: Path) -> None:
    summer = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)  # already 2 July in Amsterdam
    text = squeeze(pdf_text(render_mandate_pdf(document(app, "nl", signed_at=summer)), tmp_path))
    assert "2 juli 2026 om 00:30:00 (CEST, UTC+02:00)" in text
    assert "2026-07-01T22:30:00Z" in text


def test_signed_at_in_another_zone_is_converted(app: Flask, tmp_path: Path) -> None:
    new_york = dt.timezone(dt.timedelta(hours=-5))
    doc = document(app, "en", signed_at=SIGNED_AT.astimezone(new_york))
    text = squeeze(pdf_text(render_mandate_pdf(doc), tmp_path))
    assert "23 November 2026 at 14:05:09 (CET, UTC+01:00)" in text and "2026-11-23T13:05:09Z" in text


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("nl", "Elektronisch ondertekend door de naam te typen."),
        ("en", "Signed electronically by typing the name."),
    ],
)
def test_typed_signature_shows_the_typed_name(app: Flask, tmp_path: Path, language: str, label: str) -> None:
    doc = document(app, language, signature_png=None, signature_typed="Jantje Typt-Zijn-Naam")
    text = pdf_text(render_mandate_pdf(doc), tmp_path)
    assert "Jantje Typt-Zijn-Naam" in text
    assert label in squeeze(text)
    html = render_mandate_html(doc)
    assert 'class="signature__typed"' in html and "<img" not in html


def test_drawn_signature_is_embedded_as_an_image(app: Flask, tmp_path: Path) -> None:
    signature = png()
    doc = document(app, "nl", signature_png=signature)
    html = render_mandate_html(doc)
    assert 'src="data:image/png;base64,' in html
    pdf = render_mandate_pdf(doc)
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    images = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert re.search(r"^\s*1\s+0\s+image\s+240\s+80\s", images, re.MULTILINE), images  # page 1: the 240x80 PNG


def test_agreement_html_cannot_make_the_renderer_fetch_anything(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    connections: list[Any] = []

    def no_network(*args: Any, **kwargs: Any) -> Any:
        connections.append(args)
        raise AssertionError(f"the mandate renderer tried to reach the network: {args}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    hostile = Markup(  # given as already-safe HTML, as a caller would after rendering an agreement's Markdown
        '<p>Voor de tekst.</p><img src="https://example.org/x.png" alt="">'
        '<link rel="stylesheet" href="http://example.org/x.css">'
        '<p style="background: url(https://example.org/bg.png)">Na de tekst.</p>'
        '<img src="file:///etc/passwd" alt="">'
    )
    signed = SignedAgreement("Volmacht", "9", hashlib.sha256(b"x").hexdigest(), hostile)
    caplog.set_level(logging.WARNING)
    pdf = render_mandate_pdf(document(app, "nl", agreements=[signed]))
    text = pdf_text(pdf, tmp_path)
    assert "Voor de tekst." in text and "Na de tekst." in text and "Jan de Vries" in text  # still rendered
    assert connections == []
    refused = " ".join(r.getMessage() for r in caplog.records if r.name == "core.signup.mandate")
    for url in (
        "https://example.org/x.png",
        "http://example.org/x.css",
        "https://example.org/bg.png",
        "file:///etc/passwd",
    ):
        assert f"refused to fetch {url}" in refused


def test_url_fetcher_serves_data_urls_and_refuses_everything_else() -> None:
    fetcher = _weasyprint()[1]()
    response = fetcher("data:text/plain;base64,aGFsbG8=")
    assert response.read() == b"hallo" and response.content_type == "text/plain"
    assert fetcher("data:,a%20b").read() == b"a b"
    for url in (
        "https://example.org/x.png",
        "http://127.0.0.1/",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "//example.org/x.png",
    ):
        with pytest.raises(ExternalResourceRefused):
            fetcher(url)


def test_untrusted_values_are_shown_as_text(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("network"))
    doc = document(
        app,
        "en",
        participant={"Name": 'Jan <b>"de"</b> Vries & Co'},
        evidence={"User agent": '<img src="https://example.org/ua.png">'},
        signature_png=None,
        signature_typed="<i>Jan</i>",
    )
    html = render_mandate_html(doc)
    assert "<b>" not in html and '<img src="https://example.org/ua.png">' not in html and "<i>Jan" not in html
    text = pdf_text(render_mandate_pdf(doc), tmp_path)
    assert 'Jan <b>"de"</b> Vries & Co' in text and '<img src="https://example.org/ua.png">' in text
    assert "<i>Jan</i>" in text


def test_footer_reference_cannot_break_out_of_the_css(app: Flask, tmp_path: Path) -> None:
    reference = 'X"; } body { display: none } @page { x: "'
    assert '"' not in str(css_content(reference))[1:-1] and "}" not in str(css_content(reference))
    assert str(css_content(Markup("Page [[page]] of [[pages]]"), counters=True)) == (
        '"Page " counter(page) " of " counter(pages)'
    )
    text = squeeze(pdf_text(render_mandate_pdf(document(app, "en", reference=reference)), tmp_path))
    assert "Jan de Vries" in text and f"Reference {reference}" in text


def test_long_agreements_flow_over_pages_with_numbered_footers(app: Flask, tmp_path: Path) -> None:
    paragraph = "Artikel {n}. De deelnemer machtigt de stichting om alle handelingen te verrichten. " * 6
    html = "".join(f"<p>{paragraph.format(n=n)}</p>" for n in range(1, 40))
    long_text = agreement("Volmacht", "2026-11.1", "lang", html)
    text = pdf_text(render_mandate_pdf(document(app, "nl", agreements=[long_text])), tmp_path)
    pages = text.count("\f")
    assert pages >= 2
    assert f"Pagina 1 van {pages}" in text and f"Pagina {pages} van {pages}" in text
    assert text.count(f"Kenmerk {REFERENCE}") == pages  # the reference in every page's footer


def test_same_document_gives_the_same_bytes_and_metadata(app: Flask, tmp_path: Path) -> None:
    doc = document(app, "nl")
    first, second = render_mandate_pdf(doc), render_mandate_pdf(doc)
    assert first == second
    info = pdf_info(first, tmp_path)
    assert info["Title"] == f"Volmacht – TikTok Claim – {REFERENCE}"
    assert info["Author"] == "SOMI"
    assert info["CreationDate"].startswith("2026-11-23T13:05:09")
    assert info["Page size"].endswith("(A4)")
    assert info["Pages"] == "1"


def test_language_is_forced_inside_a_request_and_restored_after(shipped_app: Flask) -> None:
    from flask import g
    from flask_babel import gettext

    with shipped_app.test_request_context("/en/", base_url="https://tiktokclaim.org"):
        g.lang = "en"
        assert gettext("Power of attorney") == "Power of attorney"
        html = render_mandate_html(document(shipped_app, "nl"))
        assert "<h1>Volmacht</h1>" in html and "Pagina" in html
        assert gettext("Power of attorney") == "Power of attorney"  # the request's own language again


def test_every_shipped_campaign_renders_its_mandate(app: Flask, tmp_path: Path) -> None:
    campaigns = app.extensions["claimsite"].registry.snapshot.campaigns
    assert len(campaigns) >= 2
    for slug, loaded in sorted(campaigns.items()):
        language = loaded.campaign.default_language
        doc = document(app, language, loaded=loaded, participant=PARTICIPANT[language], agreements=AGREEMENTS[language])
        text = squeeze(pdf_text(render_mandate_pdf(doc), tmp_path, slug))
        name = loaded.campaign.text(loaded.campaign.name, language)
        assert name in text and loaded.campaign.target_company in text and REFERENCE in text, slug


def test_a_campaign_can_replace_the_mandate_template(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    own = campaign_folder.path / "democlaim" / "templates" / "mandate"
    own.mkdir(parents=True)
    (own / "pdf.html").write_text(
        "<html><body><h1>{{ _('Power of attorney') }}: {{ campaign.name | t }}</h1>"
        "<p>{{ reference }}</p></body></html>\n",
        encoding="utf-8",
    )
    demo = make_app(campaigns_dir=campaign_folder.path)
    with demo.app_context():
        doc = document(demo, "nl", loaded=demo.extensions["claimsite"].registry.snapshot.campaigns["democlaim"])
        html = render_mandate_html(doc)
        assert "<h1>Volmacht: Democlaim</h1>" in html and REFERENCE in html
        assert render_mandate_pdf(doc).startswith(b"%PDF-")


def test_invalid_documents_are_refused(app: Flask) -> None:
    doc = document(app)
    with pytest.raises(ValueError, match="aware"):
        dataclasses.replace(doc, signed_at=dt.datetime(2026, 11, 23, 13, 5))
    with pytest.raises(ValueError, match="exactly one"):
        dataclasses.replace(doc, signature_typed="Jan")
    with pytest.raises(ValueError, match="exactly one"):
        dataclasses.replace(doc, signature_png=None)
    with pytest.raises(ValueError, match="not a PNG"):
        dataclasses.replace(doc, signature_png=b"GIF89a...")
    with pytest.raises(ValueError, match="sha256"):
        SignedAgreement("Volmacht", "1", "abc", Markup("<p>x</p>"))
    with pytest.raises(ValueError, match="no language"):
        render_mandate_html(dataclasses.replace(doc, language="de"))
