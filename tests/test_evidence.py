"""The evidence package for the lawyers (``flask export evidence``, core/exports/evidence.py): made from sign-ups
that went through the real flow, checked against the database and against what was typed; its manifest catches any
changed, added or missing file; duplicates, missing mandates and changed agreement texts are listed, never dropped; a
wrong key leaves nothing behind; and memory does not grow with the campaign beyond a small index. SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import hashlib
import io
import json
import os
import re
import secrets
import subprocess
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import insert, select, update

from core.data.migrations import upgrade
from core.data.models import AcceptedAgreement, PersonalRecord, Signup, Stage, participant
from core.exports.evidence import MEMORY_PER_SIGNUP, claimant, verify_package, write_evidence_package
from core.sealing import OpeningKeys, generate
from tests.conftest import REPO
from tests.test_sealed_storage import development_private_key
from tests.test_signup import (
    TIKTOK,
    VALID,
    code_of,
    deliver,
    join_fully,
    pay_in_test_mode,
    post_code,
    post_form,
    sign_form,
)


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """Every test here that takes a database migrates it first thing: it gets a copy of the migrated template (its
    own upgrade() then finds nothing to do) rather than an empty database."""
    return migrated_database_url


AGREEMENTS = ("mandate", "terms")
VERSION = "2026-12-03"


def export_evidence(app: Flask, out: Path, *extra: str, key: Path | None = None) -> Result:
    args = [
        "export",
        "evidence",
        "tiktokclaim",
        "--private-key",
        str(key or development_private_key(app)),
        "--out",
        str(out),
        *extra,
    ]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def read_csv(package: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(package.read(name).decode("utf-8"), newline="")))


def manifest_of(package: zipfile.ZipFile) -> dict[str, str]:
    lines = package.read("manifest.sha256").decode().splitlines()
    return {path: digest for digest, path in (line.split("  ", 1) for line in lines)}


def template_file(name: str, language: str) -> Path:
    folder = "tiktokclaim" if name == "mandate" else "_shared"
    return REPO / "campaigns" / folder / "agreements" / f"{name}.{VERSION}.{language}.md"


def db_signups(app: Flask) -> dict[str, Signup]:
    with app.app_context():
        from core.data.db import db_session

        return {s.token[:12]: s for s in db_session().scalars(select(Signup).where(participant()))}


def rewrite_zip(
    source: Path, target: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None
) -> None:
    """A copy of ``source`` with some entries replaced (None: left out) and some added."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = change.get(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
        for name, data in (add or {}).items():
            new.writestr(name, data)


# -- the real flow ------------------------------------------------------------------------------------------------


def test_the_package_holds_what_was_typed_and_what_the_database_recorded(
    runner: FlaskCliRunner, db_app: Flask, tmp_path: Path
) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)  # its mandate PDF, then the confirmation
    join_fully(db_app, db_app.test_client(), "", email="bob@example.org", name="Bob Jansen", birth_date="1985-02-03")
    assert post_form(db_app.test_client(), "en", email="carla@example.org", name="Carla Visser").status_code == 302
    deliver(db_app)
    folder = tmp_path / "packages"
    folder.mkdir()
    out = folder / "tiktok-evidence.zip"

    result = export_evidence(db_app, out)
    assert result.exit_code == 0, result.output
    printed = re.search(r"manifest SHA-256: ([0-9a-f]{64})", result.stdout).group(1)  # type: ignore[union-attr]
    assert re.search(r"participants: +2\n", result.stdout) and re.search(r"duplicates: +0 ", result.stdout)
    assert re.search(r"problems: +0\n", result.stdout)
    assert "Anna" not in result.output and "anna@example.org" not in result.output  # no personal data printed

    recorded = db_signups(db_app)
    assert len(recorded) == 2  # Carla never signed
    with zipfile.ZipFile(out) as package:
        rows = {row["reference"]: row for row in read_csv(package, "participants.csv")}
        assert rows.keys() == recorded.keys()
        anna, bob = sorted(rows.values(), key=lambda row: row["name"])
        # What was typed (the phone number as the form normalised it) ...
        assert (
            anna["name"],
            anna["email"],
            anna["phone"],
            anna["street"],
            anna["postcode"],
            anna["city"],
            anna["country"],
            anna["birth_date"],
        ) == (
            VALID["name"],
            VALID["email"],
            "+31612345678",
            VALID["street"],
            VALID["postcode"],
            VALID["city"],
            VALID["country"],
            VALID["birth_date"],
        )
        assert (bob["name"], bob["email"], bob["birth_date"], bob["language"]) == (
            "Bob Jansen",
            "bob@example.org",
            "1985-02-03",
            "nl",
        )
        # ... and what the database recorded.
        for reference, row in rows.items():
            signup = recorded[reference]
            assert row["signed_at"] == signup.signed_at.isoformat(timespec="seconds")  # type: ignore[union-attr]
            assert row["paid_at"] == signup.paid_at.isoformat(timespec="seconds")  # type: ignore[union-attr]
            assert row["fee_option"] == signup.fee_option and row["language"] == signup.language
            assert row["mandate_sha256"] == signup.mandate_sha256
            pdf = package.read(row["mandate_file"])
            assert row["mandate_file"] == f"mandates/{reference}.pdf" and pdf.startswith(b"%PDF-")
            assert hashlib.sha256(pdf).hexdigest() == signup.mandate_sha256 and row["mandate_check"] == "matches"
            language = signup.language
            assert row["agreements_check"] == "; ".join(f"{name}@{VERSION}/{language}: matches" for name in AGREEMENTS)
        # The accepted versions of the agreement texts, as the campaign files hold them.
        for name in AGREEMENTS:
            for language in ("en", "nl"):
                assert (
                    package.read(f"agreements/{name}/{VERSION}/{language}.md")
                    == template_file(name, language).read_bytes()
                )
        assert read_csv(package, "duplicates.csv") == [] and read_csv(package, "problems.csv") == []
        readme = package.read("README.txt").decode()
        assert "sha256sum -c manifest.sha256" in readme and "2 participant(s), 0 duplicate(s)" in readme
        assert "Anna" not in readme

        # The manifest lists every other file, with the SHA-256 of its bytes in the ZIP; it is the one printed.
        manifest = manifest_of(package)
        assert set(manifest) == set(package.namelist()) - {"manifest.sha256"}
        for name, digest in manifest.items():
            assert hashlib.sha256(package.read(name)).hexdigest() == digest, name
        assert hashlib.sha256(package.read("manifest.sha256")).hexdigest() == printed
        assert package.namelist()[-1] == "manifest.sha256"  # written last
    check = verify_package(out, printed)
    assert check.ok and check.files == len(manifest) and check.manifest_sha256 == printed, check.problems

    # As the lawyers check it: unzipped, with sha256sum.
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as package:
        package.extractall(unzipped)
    assert subprocess.run(["sha256sum", "--quiet", "-c", "manifest.sha256"], cwd=unzipped).returncode == 0
    (unzipped / "participants.csv").write_bytes(
        (unzipped / "participants.csv").read_bytes().replace(b"Bob Jansen", b"Bob Janssen")
    )
    assert (
        subprocess.run(["sha256sum", "--quiet", "-c", "manifest.sha256"], cwd=unzipped, capture_output=True).returncode
        != 0
    )

    # A package is never overwritten unless asked.
    before = out.read_bytes()
    again = export_evidence(db_app, out)
    assert again.exit_code == 1 and "exists already" in again.output and "--force" in again.output
    assert out.read_bytes() == before
    forced = export_evidence(db_app, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert verify_package(out).ok
    assert [p.name for p in folder.iterdir()] == ["tiktok-evidence.zip"]  # no partial or scratch files

    verified = runner.invoke(args=["export", "verify", str(out)])
    assert verified.exit_code == 0 and "match the manifest" in verified.output
    with db_app.app_context():  # each export that took data out is in the audit log, by the OS user
        from core.data.db import db_session
        from core.data.models import AuditEntry

        entries = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "export-evidence")).all()
        assert len(entries) == 2 and all(e.actor.startswith("cli:") and e.campaign == "tiktokclaim" for e in entries)
        assert entries[0].detail is not None and printed in entries[0].detail


@pytest.mark.databases("sqlite")
def test_the_manifest_catches_a_changed_added_or_missing_file(
    runner: FlaskCliRunner, db_app: Flask, tmp_path: Path
) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    out = tmp_path / "package.zip"
    result = export_evidence(db_app, out)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        manifest_sha256 = hashlib.sha256(package.read("manifest.sha256")).hexdigest()
        [mandate] = [name for name in package.namelist() if name.startswith("mandates/")]
        rows = package.read("participants.csv")
    assert verify_package(out, manifest_sha256).ok

    changed = tmp_path / "changed.zip"
    rewrite_zip(out, changed, {"participants.csv": rows.replace(b"Anna de Vries", b"Anna de Vriez")})
    check = verify_package(changed, manifest_sha256)
    assert not check.ok and [p for p in check.problems if p.startswith("participants.csv: its SHA-256 is")]
    cli = runner.invoke(args=["export", "verify", str(changed)])
    assert cli.exit_code == 1 and "participants.csv" in cli.output and "do not rely on this package" in cli.output

    missing, added = tmp_path / "missing.zip", tmp_path / "added.zip"
    rewrite_zip(out, missing, {mandate: None})
    assert verify_package(missing).problems == (f"{mandate}: in the manifest but not in the package",)
    rewrite_zip(out, added, {}, add={"mandates/someone-else.pdf": b"%PDF-1.4"})
    assert verify_package(added).problems == ("mandates/someone-else.pdf: in the package but not in the manifest",)

    # A manifest made up to match changed files is not the one the export printed.
    forged = tmp_path / "forged.zip"
    new_rows = rows.replace(b"Anna de Vries", b"Anna de Vriez")
    with zipfile.ZipFile(out) as package:
        lines = (
            package.read("manifest.sha256")
            .decode()
            .replace(hashlib.sha256(rows).hexdigest(), hashlib.sha256(new_rows).hexdigest())
        )
    rewrite_zip(out, forged, {"participants.csv": new_rows, "manifest.sha256": lines.encode()})
    assert verify_package(forged).ok  # consistent in itself ...
    check = verify_package(forged, manifest_sha256)
    assert not check.ok and "not the manifest the export made" in check.problems[0]  # ... but not ours
    assert not verify_package(tmp_path / "package.zip", "0" * 64).ok
    (tmp_path / "not-a-zip.zip").write_bytes(b"hello")
    assert not verify_package(tmp_path / "not-a-zip.zip").ok


def finish_signup(app: Flask, client: FlaskClient, code: str, language: str = "en") -> None:
    """The rest of ``join_fully`` for a form sent earlier: the code, the signature, the payment."""
    assert post_code(client, code, language).status_code == 302
    response = client.post(f"/{language}/join/sign", data=sign_form(client, language), base_url=TIKTOK)
    assert response.status_code == 302, response.get_data(as_text=True)
    if "/join/pay/" in response.location:
        assert pay_in_test_mode(client, response.location).status_code == 302


def test_the_same_claimant_under_two_addresses_is_one_participant(db_app: Flask, tmp_path: Path) -> None:
    # Anna starts at work first, but finishes at home first: the one signed first is kept, whatever its id.
    at_work = db_app.test_client()
    assert post_form(at_work, "en", email="anna@work.example", name="anna  DE VRIËS").status_code == 302
    [code_mail] = deliver(db_app)
    home = join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    finish_signup(db_app, at_work, code_of(code_mail))
    deliver(db_app)
    # Two parents join for the same child, each with their own address.
    child = {"for_whom": "child", "child_birth_date": "2014-03-02"}
    mark = join_fully(
        db_app,
        db_app.test_client(),
        "en",
        email="mark@example.org",
        name="Mark Bakker",
        child_name="Tim Bakker",
        **child,
    )
    deliver(db_app)
    eva = join_fully(
        db_app, db_app.test_client(), "en", email="eva@example.org", name="Eva Smit", child_name="tim bakker", **child
    )
    deliver(db_app)
    # Same name, another date of birth: someone else.
    other = join_fully(db_app, db_app.test_client(), "en", email="anna2@example.org", birth_date="1991-05-01")
    deliver(db_app)
    recorded = db_signups(db_app)
    [work] = [s for s in recorded.values() if s.id not in {home.id, mark.id, eva.id, other.id}]
    assert work.id < home.id and work.signed_at > home.signed_at  # type: ignore[operator]

    out = tmp_path / "package.zip"
    with db_app.app_context():
        keys = OpeningKeys.from_files([development_private_key(db_app)])
        summary = write_evidence_package("tiktokclaim", keys, out, batch=2)
    assert (summary.participants, summary.duplicates, summary.mandates, summary.problems) == (3, 2, 5, 0)
    with zipfile.ZipFile(out) as package:
        rows = read_csv(package, "participants.csv")
        duplicates = {row["reference"]: row for row in read_csv(package, "duplicates.csv")}
        names = set(package.namelist())
    ref = {s.id: s.token[:12] for s in recorded.values()}
    assert sorted(row["reference"] for row in rows) == sorted([ref[home.id], ref[mark.id], ref[other.id]])
    assert duplicates.keys() == {ref[work.id], ref[eva.id]}
    assert duplicates[ref[work.id]]["duplicate_of"] == ref[home.id]
    assert (
        duplicates[ref[work.id]]["reason"] == f"same person (name and date of birth), signed earlier as {ref[home.id]}"
    )
    assert duplicates[ref[work.id]]["name"] == "anna  DE VRIËS"  # as typed, for the lawyers to judge
    assert duplicates[ref[eva.id]]["duplicate_of"] == ref[mark.id]
    assert duplicates[ref[eva.id]]["reason"].startswith("same child (name and date of birth)")
    # The duplicates signed a mandate too: it is in the package, and their texts were checked.
    for row in [*rows, *duplicates.values()]:
        assert row["mandate_file"] in names and row["mandate_check"] == "matches"
        assert row["agreements_check"].count(": matches") == 2, row["agreements_check"]


def test_the_claimant_rule() -> None:
    def same(a: dict[str, str], b: dict[str, str], asks_birth_date: bool = True) -> bool:
        first, second = claimant(a, asks_birth_date=asks_birth_date), claimant(b, asks_birth_date=asks_birth_date)
        assert first is not None and second is not None
        return first.digest == second.digest

    anna = {"name": "José de Vries", "birth_date": "1990-05-01", "postcode": "1234 AB", "street": "Kerkstraat 1"}
    assert same(anna, {**anna, "name": "  jose   DE vries "})
    assert not same(anna, {**anna, "birth_date": "1990-05-02"})
    assert not same(anna, {**anna, "name": "José de Vries-Bakker"})
    # Without a date of birth asked: name, postcode and street.
    assert same(anna, {**anna, "birth_date": "1970-01-01", "postcode": "1234ab"}, asks_birth_date=False)
    assert not same(anna, {**anna, "street": "Kerkstraat 2"}, asks_birth_date=False)
    # For a child, the child is the claimant, whoever the parent is.
    tim = {"for_whom": "child", "child_name": "Tim Bakker", "child_birth_date": "2014-03-02"}
    assert same({**anna, **tim}, {"name": "Eva Smit", "birth_date": "1988-01-01", **tim})
    assert claimant({**anna, **tim}, asks_birth_date=True).kind == "child"  # type: ignore[union-attr]
    assert claimant({"email": "x@example.org"}, asks_birth_date=True) is None  # nothing to compare: never a duplicate


def test_missing_mandates_and_changed_texts_are_listed_not_dropped(
    make_app: Any, database_url: str, campaign_folder: Any, tmp_path: Path
) -> None:
    campaign_folder.copy_shipped()
    upgrade(database_url)
    app = make_app(database_url=database_url, campaigns_dir=campaign_folder.path)
    anna = join_fully(app, app.test_client(), "en")
    deliver(app)
    bob = join_fully(app, app.test_client(), "en", email="bob@example.org", name="Bob Jansen")  # no mandate yet
    with app.app_context():
        from core.data.db import db_session

        db_session().execute(update(Signup).where(Signup.id == anna.id).values(mandate_sha256="0" * 64))
        db_session().commit()
    agreements = campaign_folder.path / "tiktokclaim" / "agreements"
    (agreements / f"mandate.{VERSION}.en.md").unlink()
    terms = campaign_folder.path / "_shared" / "agreements" / f"terms.{VERSION}.en.md"
    terms.write_text(terms.read_text(encoding="utf-8") + "\nA line added after signing.\n", encoding="utf-8")

    out = tmp_path / "package.zip"
    result = export_evidence(app, out)
    assert result.exit_code == 3, result.output  # written, with problems
    assert "WARNING: the package lists 6 problem(s) in problems.csv" in result.stderr
    a, b = anna.token[:12], bob.token[:12]
    assert f"{a}  mandate-differs" in result.stderr and f"{b}  mandate-missing" in result.stderr
    with zipfile.ZipFile(out) as package:
        rows = {row["reference"]: row for row in read_csv(package, "participants.csv")}
        problems = sorted((row["reference"], row["problem"]) for row in read_csv(package, "problems.csv"))
        names = set(package.namelist())
    assert sorted(problems) == sorted(
        [
            (a, "mandate-differs"),
            (a, "agreement-template-missing"),
            (a, "agreement-differs"),
            (b, "mandate-missing"),
            (b, "agreement-template-missing"),
            (b, "agreement-differs"),
        ]
    )
    assert rows.keys() == {a, b}  # both are still participants, flagged
    assert (rows[a]["mandate_file"], rows[a]["mandate_check"]) == (f"mandates/{a}.pdf", "DIFFERS")
    assert (rows[b]["mandate_file"], rows[b]["mandate_check"]) == ("", "missing")
    assert rows[a]["agreements_check"] == f"mandate@{VERSION}/en: template missing; terms@{VERSION}/en: DIFFERS"
    assert f"agreements/mandate/{VERSION}/en.md" not in names and f"agreements/terms/{VERSION}/en.md" in names
    assert verify_package(out).ok  # the package itself is whole
    app.extensions["claimsite.db"].engine.dispose()


@pytest.mark.databases("sqlite")
def test_a_wrong_private_key_leaves_no_package(runner: FlaskCliRunner, db_app: Flask, tmp_path: Path) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    wrong, _public, _key = generate(tmp_path / "wrong")
    folder = tmp_path / "out"
    folder.mkdir()
    result = export_evidence(db_app, folder / "package.zip", key=wrong)
    assert result.exit_code == 1
    assert "which was not given" in result.output and "give every private key" in result.output
    assert "no package written" in result.output
    assert list(folder.iterdir()) == []  # neither the package nor a partial or scratch file
    no_key = runner.invoke(args=["export", "evidence", "tiktokclaim", "--out", "x.zip"])
    assert no_key.exit_code != 0 and "--private-key" in no_key.output
    unknown = runner.invoke(
        args=["export", "evidence", "nosuchclaim", "--private-key", str(wrong), "--out", str(folder / "p.zip")]
    )
    assert unknown.exit_code == 1 and "no campaign 'nosuchclaim'" in unknown.output
    assert list(folder.iterdir()) == []


# -- memory -------------------------------------------------------------------------------------------------------
PDF_BYTES = 16_000  # each fake mandate: a campaign held in memory would show 16 times the allowance per sign-up


def add_participants(app: Flask, count: int) -> None:
    """``count`` confirmed participants written straight into the database, sealed with the app's key as
    core.data.personal_data seals them, each with an incompressible fake mandate and the two agreements."""
    from core.data.db import db_session
    from core.signup.agreements import agreement_text
    from core.site import site

    with app.app_context():
        session = db_session()
        first = (session.scalar(select(Signup.id).order_by(Signup.id.desc()).limit(1)) or 0) + 1
        loaded = site().registry.snapshot.campaigns["tiktokclaim"]
        texts = {
            a.id: agreement_text(site().settings.campaigns_dir, loaded, a, "en", participant="Test Deelnemer")
            for a in loaded.campaign.signup.agreements
        }  # type: ignore[union-attr]
        seal = site().sealing_key.seal
        now = dt.datetime.now(dt.UTC)
        signups, records, accepted = [], [], []
        for signup_id in range(first, first + count):
            answers = {
                "name": "Test Deelnemer",
                "email": f"p{signup_id}@example.org",
                "country": "NL",
                "birth_date": (dt.date(1940, 1, 1) + dt.timedelta(days=signup_id)).isoformat(),
            }
            pdf = b"%PDF-1.4\n" + os.urandom(PDF_BYTES)
            signups.append(
                {
                    "id": signup_id,
                    "token": secrets.token_urlsafe(32),
                    "campaign": "tiktokclaim",
                    "email_hash": secrets.token_hex(32),
                    "language": "en",
                    "stage": Stage.SIGNED,
                    "created_at": now,
                    "verified_at": now,
                    "signed_at": now,
                    "code_attempts": 0,
                    "codes_sent": 1,
                    "signature_kind": "typed",
                    "payment_required": False,
                    "mandate_sha256": hashlib.sha256(pdf).hexdigest(),
                }
            )
            records.append(
                {
                    "signup_id": signup_id,
                    "sealed_mandate": seal(pdf),
                    "sealed_answers": seal(json.dumps(answers, ensure_ascii=False, sort_keys=True).encode()),
                }
            )
            accepted += [
                {
                    "signup_id": signup_id,
                    "agreement": name,
                    "version": text.agreement.version,
                    "language": "en",
                    "text_sha256": text.sha256,
                    "accepted_at": now,
                }
                for name, text in texts.items()
            ]
        session.execute(insert(Signup), signups)
        session.execute(insert(PersonalRecord), records)
        session.execute(insert(AcceptedAgreement), accepted)
        session.commit()


def traced_peak(app: Flask, out: Path) -> tuple[int, int]:
    """(participants exported, tracemalloc's peak of new allocations during the export)."""
    keys = OpeningKeys.from_files([development_private_key(app)])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with app.app_context():
            summary = write_evidence_package("tiktokclaim", keys, out, batch=50, overwrite=True)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert summary.problems == 0 and summary.duplicates == 0, summary.first_problems
    return summary.participants, peak


def test_memory_does_not_grow_with_the_campaign(db_app: Flask, tmp_path: Path) -> None:
    n = 150
    add_participants(db_app, n)
    out = tmp_path / "package.zip"
    traced_peak(db_app, out)  # warm-up: compiled statements, templates, imports
    exported, small = traced_peak(db_app, out)
    add_participants(db_app, 3 * n)
    exported_4n, large = traced_peak(db_app, out)
    assert (exported, exported_4n) == (n, 4 * n)
    assert verify_package(out).ok
    # Only the de-duplication index and the ZIP's directory may grow: MEMORY_PER_SIGNUP for each sign-up more.
    allowance = 3 * n * MEMORY_PER_SIGNUP + 256 * 1024
    assert large - small < allowance, (small, large, allowance)
    assert large < 4 * n * PDF_BYTES / 2, (large, 4 * n * PDF_BYTES)  # well under the mandates' size


def test_what_visitors_typed_cannot_become_a_spreadsheet_formula() -> None:
    from core.exports.evidence import spreadsheet_safe

    assert spreadsheet_safe('=HYPERLINK("http://evil.example","x")') == '\'=HYPERLINK("http://evil.example","x")'
    assert spreadsheet_safe("-1+cmd|' /C calc'!A0") == "'-1+cmd|' /C calc'!A0"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("+31 6 12345678") == "+31 6 12345678"  # a phone number stays as typed
    assert spreadsheet_safe("Anna de Vries") == "Anna de Vries"
