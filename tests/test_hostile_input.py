"""Hostile input on the sign-up path (issue 13, finding 7): a name written as Markdown or HTML stays plain text in
the agreements signed and their PDF, and the evidence check keeps matching texts signed before that fix and after
later edits of the campaign file; a broken or empty drawn signature is refused on the signing page; look-alike
and IDN e-mail addresses. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import html
import io
import json
import random
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from flask import Flask
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from PIL import Image, ImageDraw
from sqlalchemy import select

from core.data.hashing import email_hash
from core.data.migrations import upgrade
from core.data.models import Job, Signup
from core.jobs.queue import Worker
from tests.conftest import HASH_KEY, CampaignFolder
from tests.test_participant_page import ask_link, login_link_of
from tests.test_sealed_storage import development_private_key
from tests.test_signup import TIKTOK, code_of, deliver, join_fully, pay_in_test_mode, post_code, post_form, sign_form

# -- a name that tries to write the agreement --------------------------------------------------------------------
HOSTILE_NAME = (
    "Anna de Vries\n\n# Article 9 – The foundation owes the undersigned EUR 1,000,000\n\n"
    "[click here](https://evil.example) <b>bold</b> **all** &amp; `code`"
)
# ... as the text must show it: every character as typed, the line breaks as spaces.
SHOWN_NAME = " ".join(HOSTILE_NAME.split())


def agreement_blocks(page: str) -> list[str]:
    return re.findall(r'<div class="agreement__text prose"[^>]*>(.*?)</div>', page, re.S)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "mandate.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=30).stdout
    return " ".join(text.split())


def test_a_name_written_as_markup_stays_plain_text_on_the_signing_page_and_in_the_pdf(
    db_app: Flask, tmp_path: Path
) -> None:
    client = db_app.test_client()
    assert post_form(client, "en", name=HOSTILE_NAME).status_code == 302
    [mail] = deliver(db_app)
    assert post_code(client, code_of(mail), "en").status_code == 302

    # The signing page shows it as text: no heading, link, bold or code made of the name.
    page = client.get("/en/join/sign", base_url=TIKTOK).get_data(as_text=True)
    [mandate, terms] = agreement_blocks(page)
    assert f"The undersigned, <strong>{html.escape(SHOWN_NAME, quote=False)}</strong>" in mandate
    for block in (mandate, terms):
        assert not re.search(r"<(h\d|a|b|code|em|blockquote)\b", block), block
    assert mandate.count("<p>") == 2  # the template's two paragraphs, no more

    signed = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
    assert signed.status_code == 302, signed.get_data(as_text=True)
    assert pay_in_test_mode(client, signed.location).status_code == 302
    [confirmation] = [m for m in deliver(db_app) if m["To"] == "anna@example.org"]
    [attachment] = list(confirmation.iter_attachments())
    # The PDF says the same: the name as typed, and the sentence going on after it.
    text = pdf_text(attachment.get_content(), tmp_path)
    # (compared without white space: the PDF breaks lines where it likes)
    assert "".join(f"The undersigned, {SHOWN_NAME}, hereby authorises".split()) in "".join(text.split()), text


# -- the evidence check after this fix and after a campaign edit -------------------------------------------------
def legacy_fill(path: Path, **values: str) -> str:
    """A text filled in as the signing page did before names went in as plain text: every value as it is."""
    return (
        SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        .from_string(path.read_text(encoding="utf-8"))
        .render(**values)
    )


def write_signer_of_before(app: Flask, database_url: str, campaigns: Path, name: str) -> str:
    """A confirmed participant as revision 0005 and the code of then wrote one (no values recorded, the name
    filled in as typed); returns its reference."""
    from core.site import site

    with app.app_context():
        loaded = site().registry.snapshot.campaigns["tiktokclaim"]
        campaign = loaded.campaign
        seal = site().sealing_key.seal
    values = {
        "campaign": campaign.text(campaign.name, "en"),
        "organisation": campaign.organisation.name,
        "target_company": campaign.target_company,
        "participant": name,
        "child": "",
    }
    answers = {"name": name, "email": "early@example.org", "country": "NL", "birth_date": "1970-01-01"}
    pdf = b"%PDF-1.4 an earlier mandate"
    token = "earlysigner-" + "x" * 31
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO signups (id, token, campaign, email_hash, language, stage, created_at, verified_at, "
                "signed_at, code_attempts, codes_sent, signature_kind, mandate_sha256, payment_required) VALUES "
                "(1000, :token, 'tiktokclaim', :hash, 'en', 'signed', '2026-11-30 11:00:00', '2026-11-30 11:01:00', "
                "'2026-11-30 11:02:00', 0, 1, 'typed', :mandate, false)"
            ),
            {"token": token, "hash": "e" * 64, "mandate": hashlib.sha256(pdf).hexdigest()},
        )
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO personal_records (signup_id, sealed_answers, sealed_mandate) VALUES (1000, :answers, :pdf)"
            ),
            {"answers": seal(json.dumps(answers, ensure_ascii=False, sort_keys=True).encode()), "pdf": seal(pdf)},
        )
        for agreement in campaign.signup.agreements:  # type: ignore[union-attr]
            folder = "tiktokclaim" if agreement.id == "mandate" else "_shared"
            path = campaigns / folder / "agreements" / f"{agreement.id}.{agreement.version}.en.md"
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO accepted_agreements (signup_id, agreement, version, language, text_sha256, "
                    "accepted_at) VALUES (1000, :agreement, :version, 'en', :sha, '2026-11-30 11:02:00')"
                ),
                {
                    "agreement": agreement.id,
                    "version": agreement.version,
                    "sha": hashlib.sha256(legacy_fill(path, **values).encode()).hexdigest(),
                },
            )
    engine.dispose()
    return token[:12]


def edit_the_campaign(campaigns: Path) -> None:
    """What staff may change after people signed: the values that feed the placeholders, and a new version of
    the power of attorney (a new file; the signed one stays)."""
    path = campaigns / "tiktokclaim.yaml"
    text = path.read_text(encoding="utf-8")
    mandate = '    - id: mandate\n      version: "{}"'
    for old, new in (
        ("  name: SOMI\n", "  name: SOMI Foundation\n"),
        ("target_company: TikTok\n", "target_company: TikTok Ltd.\n"),
        ("  en: TikTok Claim\n", "  en: The TikTok Claim\n"),
        (mandate.format("2026-12-03"), mandate.format("2026-12-21")),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    folder = campaigns / "tiktokclaim" / "agreements"
    for language in ("nl", "en"):
        signed = folder / f"mandate.2026-12-03.{language}.md"
        (folder / f"mandate.2026-12-21.{language}.md").write_text(
            signed.read_text(encoding="utf-8") + "\nArticle 8 – A clause added in December.\n", encoding="utf-8"
        )


def test_the_evidence_of_signers_before_and_after_this_fix_matches_after_a_campaign_edit(
    make_app: Any, database_url: str, campaign_folder: CampaignFolder, tmp_path: Path
) -> None:
    campaign_folder.copy_shipped()
    upgrade(database_url, "0005")
    app = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    early = write_signer_of_before(app, database_url, campaign_folder.path, HOSTILE_NAME)
    with app.app_context():
        upgrade(database_url)  # as `flask db upgrade` runs it, with the app's campaigns
    join_fully(app, app.test_client(), "en", name=HOSTILE_NAME, email="later@example.org")
    deliver(app)
    with app.app_context():
        from core.data.db import db_session

        later = db_session().scalars(select(Signup.token).where(Signup.id != 1000)).one()[:12]
    app.extensions["claimsite.db"].engine.dispose()

    edit_the_campaign(campaign_folder.path)
    edited = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    with edited.app_context():
        from core.site import site

        loaded = site().registry.snapshot.campaigns["tiktokclaim"]
        assert loaded.campaign.organisation.name == "SOMI Foundation"  # the edit is what the export sees
        assert loaded.campaign.signup.agreements[0].version == "2026-12-21"  # type: ignore[union-attr]
    out = tmp_path / "evidence.zip"
    result = edited.test_cli_runner().invoke(
        args=[
            "export",
            "evidence",
            "tiktokclaim",
            "--private-key",
            str(development_private_key(edited)),
            "--out",
            str(out),
        ]
    )
    with zipfile.ZipFile(out) as package:
        problems = list(csv.DictReader(io.StringIO(package.read("problems.csv").decode())))
        rows = {row["reference"]: row for row in csv.DictReader(io.StringIO(package.read("participants.csv").decode()))}
    assert problems == [], problems
    assert result.exit_code == 0, result.output
    assert rows.keys() == {early, later}
    for row in rows.values():
        assert row["agreements_check"] == "mandate@2026-12-03/en: matches; terms@2026-12-03/en: matches", row
    edited.extensions["claimsite.db"].engine.dispose()


def test_a_campaign_edit_between_signing_and_the_mandate_pdf_changes_nothing(
    make_app: Any, database_url: str, campaign_folder: CampaignFolder, tmp_path: Path
) -> None:
    campaign_folder.copy_shipped()
    upgrade(database_url)
    app = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    join_fully(app, app.test_client(), "en")  # signed and paid; its mandate job waits for the worker
    app.extensions["claimsite.db"].engine.dispose()
    path = campaign_folder.path / "tiktokclaim.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("  name: SOMI\n", "  name: SOMI Foundation\n", 1), encoding="utf-8"
    )
    edited = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    mails = deliver(edited)
    with edited.app_context():
        from core.data.db import db_session

        failed = db_session().scalars(select(Job).where(Job.status == "failed")).all()
        assert [(job.kind, job.status, job.last_error) for job in failed] == []
        signup = db_session().scalars(select(Signup)).one()
        assert signup.mandate_sha256 is not None
    [confirmation] = [m for m in mails if m["To"] == "anna@example.org"]
    [attachment] = list(confirmation.iter_attachments())
    text = pdf_text(attachment.get_content(), tmp_path)
    assert "authorises Stichting SOMI to act" in text  # as signed, not as the campaign file says today
    edited.extensions["claimsite.db"].engine.dispose()


def test_placeholders_recorded_at_signing_are_sealed_not_in_the_clear(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en", name="Zoë Plaintext-Check")
    with db_app.app_context():
        from core.data.db import db_session
        from core.data.models import AcceptedAgreement, PersonalRecord
        from tests.conftest import opened_personal_data

        signup = db_session().scalars(select(Signup)).one()
        recorded = [json.loads(a.placeholders or "{}") for a in db_session().scalars(select(AcceptedAgreement))]
        assert recorded and all(r["recorded"] == "signing" and r["values"]["organisation"] == "SOMI" for r in recorded)
        assert all("Zo" not in json.dumps(r, ensure_ascii=False) for r in recorded)
        record = db_session().get(PersonalRecord, signup.id)
        assert record is not None and b"Plaintext" not in (record.sealed_placeholders or b"x")
        assert opened_personal_data(db_app, signup).placeholders == {
            "participant": "Zoë Plaintext\\-Check",
            "child": "",
            "companies": "TikTok",  # no data request: the campaign's target company
        }


# -- drawn signatures ---------------------------------------------------------------------------------------------
SCRIBBLE = ((40, 150), (200, 60), (380, 150), (560, 50))


def drawing(width: int = 600, height: int = 200, strokes: tuple[tuple[int, int], ...] = SCRIBBLE) -> bytes:
    """A PNG as the signing page's canvas makes one: transparent, with the pad's 3-pixel #111 pen."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if strokes:
        ImageDraw.Draw(image).line(list(strokes), fill=(17, 17, 17, 255), width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def damaged(png: bytes) -> bytes:
    """``png`` with one byte of its image data changed (its chunk's checksum no longer matches)."""
    at = png.index(b"IDAT") + 12
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1 :]


def noise(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGBA", (width, height), random.Random(13).randbytes(width * height * 4)).save(out, "PNG")
    return out.getvalue()


SIGNATURE = drawing()
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
UNREADABLE, TOO_LARGE, BLANK = (
    "Your drawn signature could not be read.",
    "Your drawn signature is too large.",
    "Your drawn signature is empty or too small.",
)
REFUSED = {
    "cut after 20 bytes": (SIGNATURE[:20], UNREADABLE),
    "cut in half": (SIGNATURE[: len(SIGNATURE) // 2], UNREADABLE),
    "damaged image data": (damaged(SIGNATURE), UNREADABLE),
    "a GIF": (GIF, UNREADABLE),
    "not base64": (None, UNREADABLE),
    "blank": (drawing(strokes=()), BLANK),
    "a dot": (drawing(strokes=((300, 100), (303, 101))), BLANK),
    "5000 pixels wide": (drawing(5000, 100), TOO_LARGE),
    "over 300 KB": (noise(600, 200), TOO_LARGE),
}


@pytest.mark.databases("sqlite")
def test_a_broken_or_blank_drawn_signature_is_refused_and_nothing_entered_is_lost(db_app: Flask) -> None:
    client = db_app.test_client()
    assert post_form(client, "en").status_code == 302
    [mail] = deliver(db_app)
    assert post_code(client, code_of(mail), "en").status_code == 302
    for case, (png, message) in REFUSED.items():
        sent = data_url(png) if png is not None else "data:image/png;base64,not*base64"
        # A name is typed too: a drawing that was sent is still never swapped for it without a word.
        data = sign_form(client, "en", typed="Anna de Vries", signature_png=sent)
        response = client.post("/en/join/sign", data=data, base_url=TIKTOK)
        page = response.get_data(as_text=True).replace("\n", " ")
        assert response.status_code == 422, case
        assert message in page, case
        assert 'name="signature_typed" autocomplete="name" value="Anna de Vries"' in page, case
        for agreement in ("mandate", "terms"):
            assert re.search(rf'id="agree-{agreement}"[^>]*checked', page), (case, agreement)
        assert re.search(r'name="fee_option" value="share"[^>]*checked', page), case
        assert 'name="signature_png" value=""' in page, case  # the refused drawing is not shown again
    # In Dutch on the Dutch page.
    dutch = client.post(
        "/join/sign", data=sign_form(client, "", signature_png=data_url(drawing(strokes=()))), base_url=TIKTOK
    )
    assert dutch.status_code == 422 and "Je getekende handtekening is leeg of te klein." in dutch.get_data(as_text=True)
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert signup.stage == "verified" and signup.signature_kind is None

    # A real drawing is taken, and kept exactly as sent.
    signed = client.post(
        "/en/join/sign", data=sign_form(client, "en", typed="", signature_png=data_url(SIGNATURE)), base_url=TIKTOK
    )
    assert signed.status_code == 302, signed.get_data(as_text=True)
    with db_app.app_context():
        from core.data import personal_data
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert signup.signature_kind == "drawn"
        assert personal_data.load_signature(db_session(), signup) == SIGNATURE


def test_the_decoder_itself_refuses_each_broken_drawing() -> None:
    """The same check guards the mandate PDF (core.signup.mandate.MandateDocument), whoever calls it."""
    from core.signup.signature import SignatureProblem, signature_problem

    assert signature_problem(SIGNATURE) is None
    for case, (png, _message) in REFUSED.items():
        if png is not None:
            assert signature_problem(png) is not None, case
    assert signature_problem(damaged(SIGNATURE)) is SignatureProblem.UNREADABLE


# -- look-alike and IDN e-mail addresses ----------------------------------------------------------------------------
MIXED = "This address mixes letters of different alphabets"
SPECIAL_FORMS = "This address contains special forms of letters or digits"


def test_the_forms_of_one_idn_address_make_one_signup_and_plain_addresses_keep_their_hash(db_app: Flask) -> None:
    for address in ("anna@bücher.de", "Anna@XN--BCHER-KVA.de", "ANNA@BÜCHER.DE", "anna@bu\u0308cher.de"):
        assert post_form(db_app.test_client(), "en", email=address).status_code == 302, address
    with db_app.app_context():
        from core.data.db import db_session

        assert db_session().scalar(select(sqlalchemy.func.count()).select_from(Signup)) == 1
    # A plain ASCII address hashes exactly as it always did (returning visitors are found): trimmed, lower case.
    expected = hmac.new(HASH_KEY.encode(), b"email\x00anna.de-vries+claim@example.org", hashlib.sha256).hexdigest()
    assert email_hash(HASH_KEY, " Anna.de-Vries+Claim@Example.ORG ") == expected
    # Composed and decomposed accents are one address; full-width letters are not folded into plain ones.
    assert email_hash(HASH_KEY, "e\u0301mile@example.org") == email_hash(HASH_KEY, "émile@example.org")
    assert email_hash(HASH_KEY, "ｊａｎ@example.org") != email_hash(HASH_KEY, "jan@example.org")


def test_a_lookalike_address_is_refused_with_a_reason_and_nothing_typed_is_lost(db_app: Flask) -> None:
    client = db_app.test_client()
    refused = {
        "jаn@example.org": MIXED,  # a Cyrillic а among Latin letters
        "anna@exаmple.org": MIXED,  # the same in the domain
        "ｊａｎ@example.org": SPECIAL_FORMS,
    }  # full-width letters
    for address, message in refused.items():
        response = post_form(client, "en", email=address)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and message in page, address
        assert 'id="email-error"' in page and 'value="Anna de Vries"' in page and 'value="Kerkstraat 1"' in page
    dutch = post_form(client, "", email="jаn@example.org").get_data(as_text=True)
    assert "Dit adres mengt letters uit verschillende alfabetten" in dutch
    assert Worker(db_app).run_once() == 0  # nothing stored, nothing sent
    # One script in each part is fine, whichever script; digits and . _ - + belong to all of them.
    for number, address in enumerate(
        ("пётр.1990+1@example.org", "ανδρέας_9-1@example.org", "山田たろう@example.jp", "jan@пример.рф")
    ):
        assert post_form(db_app.test_client(), "en", email=address).status_code == 302, address
        with db_app.app_context():
            from core.data.db import db_session

            assert db_session().scalar(select(sqlalchemy.func.count()).select_from(Signup)) == number + 1


def test_the_participant_login_matches_an_idn_address_in_any_form(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en", email="anna@bücher.de")
    deliver(db_app)
    client = db_app.test_client()
    assert ask_link(client, "Anna@xn--bcher-kva.de").status_code == 302
    [mail] = deliver(db_app)
    assert login_link_of(mail).startswith("/en/my/login/")
    page = ask_link(client, "аnna@bücher.de")  # a Cyrillic а
    assert page.status_code == 200 and MIXED in page.get_data(as_text=True)
    assert deliver(db_app) == []


def test_a_signup_made_before_under_the_xn_form_is_found_again_by_the_address(db_app: Flask) -> None:
    """Before, ``anna@xn--bcher-kva.de`` and ``anna@bücher.de`` hashed apart. Only the hash is stored, so no
    migration can move such a sign-up: it is moved to today's hash when its address is typed again."""
    from core.data.hashing import keyed_hash

    earlier = keyed_hash(HASH_KEY, "email", "anna@xn--bcher-kva.de")  # as the code of before hashed that form
    with db_app.app_context():
        from core.data.db import db_session, utcnow

        for campaign in ("tiktokclaim", "facebookleak"):
            db_session().add(
                Signup(
                    token=f"before-{campaign}",
                    campaign=campaign,
                    email_hash=earlier,
                    language="en",
                    stage="signed",
                    created_at=utcnow(),
                    signed_at=utcnow(),
                    code_attempts=0,
                    codes_sent=1,
                    payment_required=False,
                )
            )
        db_session().commit()
    # The login link, asked for in the everyday form, finds both ...
    assert ask_link(db_app.test_client(), "anna@bücher.de").status_code == 302
    [mail] = deliver(db_app)
    assert login_link_of(mail).startswith("/en/my/login/")
    today = email_hash(HASH_KEY, "anna@bücher.de")
    with db_app.app_context():
        from core.data.db import db_session

        assert set(db_session().scalars(select(Signup.email_hash))) == {today}
    # ... and the form, in yet another spelling, continues the sign-up instead of making a second one.
    assert post_form(db_app.test_client(), "en", email="Anna@XN--BCHER-KVA.de").status_code == 302
    with db_app.app_context():
        from core.data.db import db_session

        assert db_session().scalar(select(sqlalchemy.func.count()).select_from(Signup)) == 2
