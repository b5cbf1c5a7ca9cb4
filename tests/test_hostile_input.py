"""Hostile input on the sign-up path (issue 13, finding 7): a name written as Markdown or HTML stays plain text in
the agreements signed and their PDF, and the evidence check keeps matching texts signed before that fix and after
later edits of the campaign file; a broken or empty drawn signature is refused on the signing page; look-alike
and IDN e-mail addresses. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import sqlalchemy
from flask import Flask
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from core.migrations import upgrade
from core.models import Job, Signup

from .conftest import CampaignFolder
from .test_sealed_storage import development_private_key
from .test_signup import TIKTOK, code_of, deliver, join_fully, pay_in_test_mode, post_code, post_form, sign_form

# -- a name that tries to write the agreement --------------------------------------------------------------------
HOSTILE_NAME = ("Anna de Vries\n\n# Article 9 – The foundation owes the undersigned EUR 1,000,000\n\n"
                "[click here](https://evil.example) <b>bold</b> **all** &amp; `code`")
# ... as the text must show it: every character as typed, the line breaks as spaces.
SHOWN_NAME = " ".join(HOSTILE_NAME.split())


def agreement_blocks(page: str) -> list[str]:
    return re.findall(r'<div class="agreement__text prose"[^>]*>(.*?)</div>', page, re.S)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "mandate.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=30).stdout
    return " ".join(text.split())


def test_a_name_written_as_markup_stays_plain_text_on_the_signing_page_and_in_the_pdf(db_app: Flask,
                                                                                      tmp_path: Path) -> None:
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
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False) \
        .from_string(path.read_text(encoding="utf-8")).render(**values)


def write_signer_of_before(app: Flask, database_url: str, campaigns: Path, name: str) -> str:
    """A confirmed participant as revision 0005 and the code of then wrote one (no values recorded, the name
    filled in as typed); returns its reference."""
    from core.site import site

    with app.app_context():
        loaded = site().registry.snapshot.campaigns["tiktokclaim"]
        campaign = loaded.campaign
        seal = site().sealing_key.seal
    values = {"campaign": campaign.text(campaign.name, "en"), "organisation": campaign.organisation.name,
              "target_company": campaign.target_company, "participant": name, "child": ""}
    answers = {"name": name, "email": "early@example.org", "country": "NL", "birth_date": "1970-01-01"}
    pdf = b"%PDF-1.4 an earlier mandate"
    token = "earlysigner-" + "x" * 31
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO signups (id, token, campaign, email_hash, language, stage, created_at, verified_at, "
            "signed_at, code_attempts, codes_sent, signature_kind, mandate_sha256, payment_required) VALUES "
            "(1000, :token, 'tiktokclaim', :hash, 'en', 'signed', '2026-11-30 11:00:00', '2026-11-30 11:01:00', "
            "'2026-11-30 11:02:00', 0, 1, 'typed', :mandate, false)"),
            {"token": token, "hash": "e" * 64, "mandate": hashlib.sha256(pdf).hexdigest()})
        connection.execute(sqlalchemy.text(
            "INSERT INTO personal_records (signup_id, sealed_answers, sealed_mandate) VALUES (1000, :answers, :pdf)"),
            {"answers": seal(json.dumps(answers, ensure_ascii=False, sort_keys=True).encode()), "pdf": seal(pdf)})
        for agreement in campaign.signup.agreements:  # type: ignore[union-attr]
            folder = "tiktokclaim" if agreement.id == "mandate" else "_shared"
            path = campaigns / folder / "agreements" / f"{agreement.id}.{agreement.version}.en.md"
            connection.execute(sqlalchemy.text(
                "INSERT INTO accepted_agreements (signup_id, agreement, version, language, text_sha256, "
                "accepted_at) VALUES (1000, :agreement, :version, 'en', :sha, '2026-11-30 11:02:00')"),
                {"agreement": agreement.id, "version": agreement.version,
                 "sha": hashlib.sha256(legacy_fill(path, **values).encode()).hexdigest()})
    engine.dispose()
    return token[:12]


def edit_the_campaign(campaigns: Path) -> None:
    """What staff may change after people signed: the values that feed the placeholders, and a new version of
    the power of attorney (a new file; the signed one stays)."""
    path = campaigns / "tiktokclaim.yaml"
    text = path.read_text(encoding="utf-8")
    mandate = '    - id: mandate\n      version: "{}"'
    for old, new in (("  name: SOMI\n", "  name: SOMI Foundation\n"),
                     ("target_company: TikTok\n", "target_company: TikTok Ltd.\n"),
                     ("  en: TikTok Claim\n", "  en: The TikTok Claim\n"),
                     (mandate.format("2026-11-01"), mandate.format("2026-12-01"))):
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    folder = campaigns / "tiktokclaim" / "agreements"
    for language in ("nl", "en"):
        signed = folder / f"mandate.2026-11-01.{language}.md"
        (folder / f"mandate.2026-12-01.{language}.md").write_text(
            signed.read_text(encoding="utf-8") + "\nArticle 8 – A clause added in December.\n", encoding="utf-8")


def test_the_evidence_of_signers_before_and_after_this_fix_matches_after_a_campaign_edit(
        make_app: Any, database_url: str, campaign_folder: CampaignFolder, tmp_path: Path) -> None:
    campaign_folder.copy_shipped()
    upgrade(database_url, "0005")
    app = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    early = write_signer_of_before(app, database_url, campaign_folder.path, HOSTILE_NAME)
    with app.app_context():
        upgrade(database_url)  # as `flask db upgrade` runs it, with the app's campaigns
    join_fully(app, app.test_client(), "en", name=HOSTILE_NAME, email="later@example.org")
    deliver(app)
    with app.app_context():
        from core.db import db_session

        later = db_session().scalars(select(Signup.token).where(Signup.id != 1000)).one()[:12]
    app.extensions["claimsite.db"].engine.dispose()

    edit_the_campaign(campaign_folder.path)
    edited = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    with edited.app_context():
        from core.site import site

        loaded = site().registry.snapshot.campaigns["tiktokclaim"]
        assert loaded.campaign.organisation.name == "SOMI Foundation"  # the edit is what the export sees
        assert loaded.campaign.signup.agreements[0].version == "2026-12-01"  # type: ignore[union-attr]
    out = tmp_path / "evidence.zip"
    result = edited.test_cli_runner().invoke(args=[
        "export", "evidence", "tiktokclaim", "--private-key", str(development_private_key(edited)),
        "--out", str(out)])
    with zipfile.ZipFile(out) as package:
        problems = list(csv.DictReader(io.StringIO(package.read("problems.csv").decode())))
        rows = {row["reference"]: row for row in csv.DictReader(io.StringIO(package.read("participants.csv")
                                                                            .decode()))}
    assert problems == [], problems
    assert result.exit_code == 0, result.output
    assert rows.keys() == {early, later}
    for row in rows.values():
        assert row["agreements_check"] == "mandate@2026-11-01/en: matches; terms@2026-11-01/en: matches", row
    edited.extensions["claimsite.db"].engine.dispose()


def test_a_campaign_edit_between_signing_and_the_mandate_pdf_changes_nothing(
        make_app: Any, database_url: str, campaign_folder: CampaignFolder, tmp_path: Path) -> None:
    campaign_folder.copy_shipped()
    upgrade(database_url)
    app = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    join_fully(app, app.test_client(), "en")  # signed and paid; its mandate job waits for the worker
    app.extensions["claimsite.db"].engine.dispose()
    path = campaign_folder.path / "tiktokclaim.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  name: SOMI\n", "  name: SOMI Foundation\n", 1),
                    encoding="utf-8")
    edited = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    mails = deliver(edited)
    with edited.app_context():
        from core.db import db_session

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
        from core.db import db_session
        from core.models import AcceptedAgreement, PersonalRecord

        from .conftest import opened_personal_data

        signup = db_session().scalars(select(Signup)).one()
        recorded = [json.loads(a.placeholders or "{}") for a in db_session().scalars(select(AcceptedAgreement))]
        assert recorded and all(r["recorded"] == "signing" and r["values"]["organisation"] == "SOMI"
                                for r in recorded)
        assert all("Zo" not in json.dumps(r, ensure_ascii=False) for r in recorded)
        record = db_session().get(PersonalRecord, signup.id)
        assert record is not None and b"Plaintext" not in (record.sealed_placeholders or b"x")
        assert opened_personal_data(db_app, signup).placeholders == {"participant": "Zoë Plaintext\\-Check",
                                                                     "child": ""}

