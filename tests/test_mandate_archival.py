"""The mandate as an archival, accessible file that carries its own evidence (issue 18, item 1): PDF/A-3a with XMP
metadata, tags for screen readers, every font embedded, no encryption, and the sign-up's evidence record attached as
evidence.json, equal to what the database recorded. No PDF/A validator can be installed here (veraPDF is in no
registry we reach), so these read what poppler and pyHanko's PDF reader can: the XMP identification, the structure
tree, the fonts and the attachment."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from core.data.db import db_session
from core.data.models import Signup
from core.signup.evidence_record import evidence_record
from core.signup.mandate_seal import outside_any_event_loop
from tests.test_signup import deliver, join_fully, outbox


def mailed_mandate(app: Flask) -> bytes:
    join_fully(app, app.test_client(), "en")
    [confirmation] = [m for m in deliver(app) if m["To"] == "anna@example.org"]
    [attachment] = list(confirmation.iter_attachments())
    return attachment.get_content()


def poppler(tool: str, path: Path, *args: str) -> str:
    return subprocess.run([tool, *args, str(path)], capture_output=True, text=True, check=True).stdout


def test_the_mandate_is_pdf_a_3a_tagged_with_fonts_embedded_and_unencrypted(db_app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "mandate.pdf"
    path.write_bytes(mailed_mandate(db_app))
    info = poppler("pdfinfo", path)
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info
    assert re.search(r"^Encrypted:\s+no$", info, re.M), info
    assert re.search(r"^Title:\s+Power of attorney – TikTok Claim – ", info, re.M), info
    xmp = poppler("pdfinfo", path, "-meta")
    assert re.search(r"<pdfaid:part>3</pdfaid:part>|pdfaid:part=\"3\"", xmp), xmp
    assert re.search(r"<pdfaid:conformance>A</pdfaid:conformance>|pdfaid:conformance=\"A\"", xmp), xmp
    fonts = poppler("pdffonts", path).splitlines()[2:]
    assert fonts and all(re.search(r"\byes\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", f) for f in fonts), fonts
    embedded = [f.split()[-5] for f in fonts]
    assert set(embedded) == {"yes"}, fonts
    with path.open("rb") as file:
        reader = PdfFileReader(file)
        root = reader.root
        assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
        assert str(root["/Lang"]) == "en"
        [intent] = root["/OutputIntents"]
        assert intent["/S"] == "/GTS_PDFA1"


def test_the_evidence_record_is_attached_and_equals_the_database(db_app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "mandate.pdf"
    path.write_bytes(mailed_mandate(db_app))
    listing = poppler("pdfdetach", path, "-list")
    assert "evidence.json" in listing, listing
    poppler("pdfdetach", path, "-save", "1", "-o", str(tmp_path / "evidence.json"))
    embedded = json.loads((tmp_path / "evidence.json").read_text(encoding="utf-8"))
    with db_app.app_context():
        signup = db_session().scalars(select(Signup)).one()
        assert embedded == evidence_record(signup)
        assert embedded["format"] == "claimsite-evidence/1" and embedded["reference"] == signup.token[:12]
    steps = [step["step"] for step in embedded["steps"]]
    assert steps[-1] == "signed" and "verified" in steps and "agreed" in steps
    assert "mandate-made" not in steps and not any(s.startswith("payment-") for s in steps)  # fixed at signing
    assert {a["id"] for a in embedded["agreements"]} == {"mandate", "terms"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", a["sha256"]) for a in embedded["agreements"])
    assert all(len(step["ip_hash"] or "") == 64 for step in embedded["steps"] if step["step"] == "signed")
    assert embedded["fee"]["terms"]["one_time_cents"] == 1750
    text = json.dumps(embedded)
    assert "Anna" not in text and "anna@example.org" not in text  # no more personal than the database holds


def trusting_the_development_ca(app: Flask) -> Any:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko_certvalidator import ValidationContext

    ca = app.extensions["claimsite"].settings.instance_dir / "seal" / "ca-certificate.pem"
    return ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])


def test_the_mandate_is_sealed_and_its_recorded_sha256_is_the_sealed_files(db_app: Flask, tmp_path: Path) -> None:
    from pyhanko.sign.validation import validate_pdf_signature

    pdf = mailed_mandate(db_app)
    with db_app.app_context():
        signup = db_session().scalars(select(Signup)).one()
        assert signup.mandate_sha256 == hashlib.sha256(pdf).hexdigest()
    reader = PdfFileReader(BytesIO(pdf))
    [seal] = reader.embedded_signatures
    assert seal.field_name == "FoundationSeal"
    status = outside_any_event_loop(validate_pdf_signature, seal, trusting_the_development_ca(db_app))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.coverage.name == "ENTIRE_FILE"
    assert "claimsite development seal" in status.signing_cert.subject.human_friendly
    path = tmp_path / "mandate.pdf"
    path.write_bytes(pdf)
    checked = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature Validation: Signature is Valid." in checked, checked
    # PDF/A-3 is PDF 1.7: the seal (RSA) must not raise the version, as an ECDSA seal would (ISO/TS 32002).
    assert re.search(r"^PDF version:\s+1\.7$", poppler("pdfinfo", path), re.MULTILINE), poppler("pdfinfo", path)
    # One byte changed in the signed content: the seal no longer holds.
    start = pdf.index(b"Anna de Vries") if b"Anna de Vries" in pdf else len(pdf) // 3
    flipped = pdf[:start] + bytes([pdf[start] ^ 0x01]) + pdf[start + 1 :]
    [broken] = PdfFileReader(BytesIO(flipped), strict=False).embedded_signatures
    assert not outside_any_event_loop(validate_pdf_signature, broken, trusting_the_development_ca(db_app)).intact


def verify(app: Flask, *files: Path, extra: tuple[str, ...] = ()) -> Any:
    return app.test_cli_runner().invoke(args=["mandate", "verify", *extra, *map(str, files)])


def test_flask_mandate_verify_passes_a_mandate_and_fails_each_kind_of_change(db_app: Flask, tmp_path: Path) -> None:
    pdf = mailed_mandate(db_app)
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    result = verify(db_app, good)
    assert result.exit_code == 0, result.output
    assert "the seal is intact" in result.output and "the evidence in the file equals the evidence in the database" in (
        result.output
    )
    assert "the database recorded this very file" in result.output
    # One flipped byte in the signed content.
    at = pdf.index(b"/Title")
    flipped = tmp_path / "flipped.pdf"
    flipped.write_bytes(pdf[:at] + b"/Titlf" + pdf[at + 6 :])
    # A page removed: the file saved again without its last page, then appended to (an incremental update).
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    writer.root["/Pages"]["/Kids"].pop()
    writer.update_root()
    removed = tmp_path / "page-removed.pdf"
    with removed.open("wb") as out:
        writer.write(out)
    # The attachment swapped for another evidence record: the same file, with evidence.json replaced.
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    from pyhanko.pdf_utils import embed

    forged = dict(json.loads(poppler_evidence(good, tmp_path)), reference="AAAAAAAAAAAA")
    data = embed.EmbeddedFileObject.from_file_data(writer, json.dumps(forged).encode())
    embed.embed_file(writer, embed.FileSpec("evidence.json", embedded_data=data))
    swapped = tmp_path / "swapped.pdf"
    with swapped.open("wb") as out:
        writer.write(out)
    for bad, expected in (
        (flipped, "the file was changed after it was sealed"),
        (removed, "something was added to the file after it was sealed"),
        (swapped, "something was added to the file after it was sealed"),
    ):
        result = verify(db_app, bad)
        assert result.exit_code == 1 and f"{bad}: FAILED" in result.output, result.output
        assert expected in result.output, result.output


def poppler_evidence(path: Path, tmp_path: Path) -> str:
    poppler("pdfdetach", path, "-save", "1", "-o", str(tmp_path / "e.json"))
    return (tmp_path / "e.json").read_text(encoding="utf-8")


def test_a_seal_by_an_unknown_ca_or_an_expired_certificate_is_reported(db_app: Flask, tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(mailed_mandate(db_app))
    # Another machine's development CA: the seal is intact, but its issuer is not trusted there.
    other = db_app.extensions["claimsite"].settings.model_copy(update={"instance_dir": tmp_path / "elsewhere"})
    roots = other.resolved_seal_identity().chain  # type: ignore[union-attr]
    with db_app.app_context():
        from core.signup.mandate_verify import verify_mandate

        unknown = verify_mandate(good.read_bytes(), roots, None)
        assert not unknown.ok and any("its issuer is not trusted" in line for line in unknown.failed), unknown
        own = db_app.extensions["claimsite"].settings.resolved_seal_identity().chain
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4 * 365)  # the development seal lives 3 years
        expired = verify_mandate(good.read_bytes(), own, None, moment=later)
        assert not expired.ok and any("it expired on" in line for line in expired.failed), expired


def test_a_seal_timestamped_by_the_authority_in_the_settings(
    make_app: Any, migrated_database_url: str, tmp_path: Path
) -> None:
    from tests.timestamp_authority import TimestampAuthority

    with TimestampAuthority(tmp_path / "tsa") as tsa:
        app = make_app(database_url=migrated_database_url, mandate_timestamp_url=tsa.url)
        pdf = mailed_mandate(app)
        assert tsa.requests >= 1  # pyHanko asks once to size the signature, then for the timestamp itself
        mandate = tmp_path / "mandate.pdf"
        mandate.write_bytes(pdf)
        result = verify(app, mandate, extra=("--trust", str(tsa.root_pem)))
        assert result.exit_code == 0, result.output
        assert "timestamped at" in result.output and "by a trusted authority" in result.output
        # Without trusting the authority's root, the timestamp is reported, not taken on faith.
        untrusted = verify(app, mandate)
        assert untrusted.exit_code == 1 and "its authority is not trusted" in untrusted.output, untrusted.output
        app.extensions["claimsite.db"].engine.dispose()


def test_while_the_authority_does_not_answer_the_mandate_waits_and_is_made_when_it_does(
    make_app: Any, migrated_database_url: str, tmp_path: Path
) -> None:
    """A seal needs its timestamp: with the authority down, the mandate job fails and is tried again (no unsealed
    or untimestamped mandate, no confirmation without it); once the authority answers, the retry makes it."""
    from core.data.models import Job
    from core.jobs.queue import Worker
    from tests.timestamp_authority import TimestampAuthority

    tsa = TimestampAuthority(tmp_path / "tsa")  # its address is chosen, nothing listens there yet
    app = make_app(database_url=migrated_database_url, mandate_timestamp_url=tsa.url)
    join_fully(app, app.test_client(), "en")
    mailed = deliver(app)
    assert not [m for m in mailed if m["To"] == "anna@example.org" and list(m.iter_attachments())]
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup)).one()
        assert signup.mandate_sha256 is None
        [job] = db.scalars(select(Job).where(Job.kind == "mandate")).all()
        assert job.status == "pending" and job.attempts == 1 and job.last_error
        retry_at = job.run_after
    before = set(outbox(app))
    with tsa:
        while Worker(app).run_once(now=retry_at + dt.timedelta(seconds=1)):
            pass
        assert tsa.requests >= 1
    confirmation = [path for path in outbox(app) if path not in before and b"mandate-" in path.read_bytes()]
    assert len(confirmation) == 1, "the confirmation with the mandate goes out once the mandate is made"
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup)).one()
        assert signup.mandate_sha256 is not None
        [job] = db.scalars(select(Job).where(Job.kind == "mandate")).all()
        assert job.status == "done"
    app.extensions["claimsite.db"].engine.dispose()


def test_the_evidence_package_verifies_the_seal_of_every_mandate_in_it(db_app: Flask, tmp_path: Path) -> None:
    """A package made up to be consistent in itself (a mandate changed and its manifest line with it) passes the
    manifest, but not the mandate's seal."""
    import zipfile

    from tests.test_evidence import export_evidence, rewrite_zip

    mailed_mandate(db_app)
    out = tmp_path / "package.zip"
    assert export_evidence(db_app, out).exit_code == 0
    verified = db_app.test_cli_runner().invoke(args=["export", "verify", str(out)])
    assert verified.exit_code == 0, verified.output
    with zipfile.ZipFile(out) as package:
        [name] = [n for n in package.namelist() if n.startswith("mandates/")]
        pdf, manifest = package.read(name), package.read("manifest.sha256").decode()
    at = pdf.index(b"/Title")
    changed = pdf[:at] + b"/Titlf" + pdf[at + 6 :]
    lines = manifest.replace(hashlib.sha256(pdf).hexdigest(), hashlib.sha256(changed).hexdigest())
    forged = tmp_path / "forged.zip"
    rewrite_zip(out, forged, {name: changed, "manifest.sha256": lines.encode()})
    result = db_app.test_cli_runner().invoke(args=["export", "verify", str(forged)])
    assert result.exit_code == 1, result.output
    assert f"{name}: the seal does not match the content" in result.output


SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.mark.skipif(not SOFTHSM.exists(), reason="softhsm2 is installed by make system-deps")
@pytest.mark.databases("sqlite")  # once: a PKCS#11 library keeps its first token set-up for the whole process
def test_the_seal_key_can_sit_on_a_token(
    make_app: Any, migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """softhsm2 stands in for the hardware token a qualified seal needs: the key is imported, its file deleted, and
    the mandates are sealed through PKCS#11."""
    from core.certificates import development_identity

    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tmp_path / "softhsm2.conf").write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "softhsm2.conf"))
    identity = development_identity(tmp_path / "seal")
    util = ["softhsm2-util", "--pin", "1234"]
    subprocess.run(
        [*util[:1], "--init-token", "--free", "--label", "claimsite", "--pin", "1234", "--so-pin", "5678"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*util, "--import", str(identity.key), "--token", "claimsite", "--label", "seal", "--id", "01"],
        check=True,
        capture_output=True,
    )
    identity.key.unlink()  # from now on the key exists on the token only  # type: ignore[union-attr]
    app = make_app(
        database_url=migrated_database_url,
        mandate_seal_certificate=str(identity.certificate),
        mandate_seal_chain=str(identity.chain[0]),
        mandate_seal_pkcs11_library=str(SOFTHSM),
        mandate_seal_pkcs11_token="claimsite",
        mandate_seal_pkcs11_key="seal",
        mandate_seal_pkcs11_pin="1234",
    )
    mandate = tmp_path / "mandate.pdf"
    mandate.write_bytes(mailed_mandate(app))
    result = verify(app, mandate)
    assert result.exit_code == 0, result.output
    assert "the seal is intact" in result.output
    app.extensions["claimsite.db"].engine.dispose()
