"""A data-request round's package for one company (core/exports/round_package.py): the letter, the annex, the
mandates and ID copies, checked by its manifest as ``sha256sum -c`` checks it; a changed, added or forged file is
caught; what participants typed stays text in a spreadsheet; participants that do not fit the letter leave no file;
and memory does not grow with the round beyond the ZIP's directory. No database: the package is made from values."""

from __future__ import annotations

import csv
import dataclasses
import gc
import hashlib
import io
import os
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.exports.round_package import (
    MEMORY_PER_PARTICIPANT,
    RoundPackageError,
    RoundParticipant,
    verify_round_package,
    write_round_package,
)
from tests.test_evidence import rewrite_zip
from tests.test_request_letters import letter

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 40


def mandate(reference: str) -> bytes:
    return f"%PDF-1.7\n% the mandate of {reference}\n%%EOF\n".encode()


def three() -> list[RoundParticipant]:
    return [
        RoundParticipant(
            "AB12CD34EF56",
            "Anna de Vriës",
            {"email": "anna@example.org", "phone": "+31 6 12345678"},
            "1990-03-03",
            mandate("AB12CD34EF56"),
            (JPEG, "image/jpeg"),
        ),
        RoundParticipant(
            "GH78IJ90KL12",
            '=HYPERLINK("http://evil.example","click")',
            {"email": "@SUM(A1)"},
            None,
            lambda: mandate("GH78IJ90KL12"),  # opened only when written
            None,  # no ID copy
        ),
        RoundParticipant("MN34OP56QR78", "Piet Jansen", {}, None, mandate("MN34OP56QR78"), (PNG, "image/png")),
    ]


@pytest.fixture
def app(shipped_app: Flask) -> Iterator[Flask]:
    with shipped_app.app_context():
        yield shipped_app


def annex_rows(package: zipfile.ZipFile) -> list[list[str]]:
    return list(csv.reader(io.StringIO(package.read("annex.csv").decode("utf-8-sig"), newline="")))


def test_the_package_holds_the_letter_the_annex_and_every_enclosure(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "alledata-2026-07-28-tiktok.zip"
    summary = write_round_package(out, letter("en", participant_count=3), iter(three()))
    assert (summary.participants, summary.id_proofs, summary.company) == (3, 2, "tiktok")
    assert summary.reference == "alledata-2026-07-28-tiktok" and summary.path == out
    with zipfile.ZipFile(out) as package:
        names = package.namelist()
        assert names[0] == "letter.pdf" and names[-1] == "manifest.sha256"  # the manifest written last
        assert set(names) == {
            "letter.pdf",
            "annex.csv",
            "README.txt",
            "manifest.sha256",
            "mandates/AB12CD34EF56.pdf",
            "mandates/GH78IJ90KL12.pdf",
            "mandates/MN34OP56QR78.pdf",
            "id/AB12CD34EF56.jpg",
            "id/MN34OP56QR78.png",
        }
        assert package.read("letter.pdf").startswith(b"%PDF-")
        assert package.read("mandates/GH78IJ90KL12.pdf") == mandate("GH78IJ90KL12")
        assert package.read("id/AB12CD34EF56.jpg") == JPEG and package.read("id/MN34OP56QR78.png") == PNG
        assert package.read("annex.csv").startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the names right
        rows = annex_rows(package)
        readme = package.read("README.txt").decode("utf-8")
        manifest = package.read("manifest.sha256")
    assert rows == [
        [
            "Reference",
            "Name",
            "E-mail address of the account",
            "Phone number",
            "Date of birth",
            "Power of attorney (file)",
            "Identity document (file)",
        ],
        [
            "AB12CD34EF56",
            "Anna de Vriës",
            "anna@example.org",
            "+31 6 12345678",  # a phone number stays as typed
            "1990-03-03",
            "mandates/AB12CD34EF56.pdf",
            "id/AB12CD34EF56.jpg",
        ],
        # what was typed like a formula stays text; no ID copy: an empty cell
        [
            "GH78IJ90KL12",
            '\'=HYPERLINK("http://evil.example","click")',
            "'@SUM(A1)",
            "",
            "",
            "mandates/GH78IJ90KL12.pdf",
            "",
        ],
        ["MN34OP56QR78", "Piet Jansen", "", "", "", "mandates/MN34OP56QR78.pdf", "id/MN34OP56QR78.png"],
    ]
    assert "alledata-2026-07-28-tiktok" in readme and "3 data subjects" in readme and "verzoeken@somi.nl" in readme
    assert "id/<reference>.jpg" in readme and "- Phone number" in readme and "sha256sum -c manifest.sha256" in readme
    assert summary.manifest_sha256 == hashlib.sha256(manifest).hexdigest()

    check = verify_round_package(out, summary.manifest_sha256)
    assert check.ok and check.files == 8 and check.problems == (), check.problems
    # and the company's reader checks it with the tools at hand, as README.txt tells them
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as package:
        package.extractall(unzipped)
    result = subprocess.run(
        ["sha256sum", "-c", "manifest.sha256"], cwd=unzipped, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and result.stdout.count(": OK\n") == 8, result.stdout + result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_the_dutch_package_speaks_dutch(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "package.zip"
    [anna, *_others] = three()
    write_round_package(out, letter("nl", participant_count=1), [anna])
    with zipfile.ZipFile(out) as package:
        header = annex_rows(package)[0]
        readme = package.read("README.txt").decode("utf-8")
    assert header[:4] == ["Kenmerk", "Naam", "E-mailadres van het account", "Telefoonnummer"]
    assert "alledata-2026-07-28-tiktok" in readme and "- Kenmerk" in readme


def test_a_changed_added_or_forged_file_is_caught(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "package.zip"
    manifest_sha256 = write_round_package(out, letter("en", participant_count=3), three()).manifest_sha256
    assert verify_round_package(out, manifest_sha256).ok
    mandate_file = "mandates/AB12CD34EF56.pdf"
    original = mandate("AB12CD34EF56")

    changed = tmp_path / "changed.zip"  # one byte of a mandate
    one_byte = original[:10] + bytes([original[10] ^ 1]) + original[11:]
    rewrite_zip(out, changed, {mandate_file: one_byte})
    check = verify_round_package(changed, manifest_sha256)
    assert not check.ok and len(check.problems) == 1 and check.problems[0].startswith(f"{mandate_file}: its SHA-256 is")

    added = tmp_path / "added.zip"
    rewrite_zip(out, added, {}, add={"mandates/someone-else.pdf": b"%PDF-1.4"})
    assert verify_round_package(added, manifest_sha256).problems == (
        "mandates/someone-else.pdf: in the package but not in the manifest",
    )

    # A manifest edited to match the changed mandate is consistent in itself, but not the one the package was made with.
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(out) as package:
        lines = package.read("manifest.sha256").decode()
    edited = lines.replace(hashlib.sha256(original).hexdigest(), hashlib.sha256(one_byte).hexdigest())
    assert edited != lines
    rewrite_zip(out, forged, {mandate_file: one_byte, "manifest.sha256": edited.encode()})
    assert verify_round_package(forged).ok
    check = verify_round_package(forged, manifest_sha256)
    assert not check.ok and "not the manifest" in check.problems[0]

    # The letter taken out with its manifest line: still a round's package? No: it always holds its letter.
    no_letter = tmp_path / "no-letter.zip"
    without = "".join(line for line in lines.splitlines(keepends=True) if not line.endswith("  letter.pdf\n"))
    rewrite_zip(out, no_letter, {"letter.pdf": None, "manifest.sha256": without.encode()})
    assert verify_round_package(no_letter).problems == (
        "letter.pdf: not in the package (a round's package always holds it)",
    )


def test_an_existing_package_is_kept_unless_overwritten(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "package.zip"
    out.write_bytes(b"the package sent last week")
    with pytest.raises(FileExistsError):
        write_round_package(out, letter("en", participant_count=3), three())
    assert out.read_bytes() == b"the package sent last week"
    write_round_package(out, letter("en", participant_count=3), three(), overwrite=True)
    assert verify_round_package(out).ok


def participant(**changes: Any) -> RoundParticipant:
    return dataclasses.replace(three()[0], **changes)


@pytest.mark.parametrize(
    ("letter_changes", "participants", "message"),
    [
        ({"participant_count": 4}, three(), "speaks of 4 data subject(s), but 3 participant(s) were given"),
        ({"participant_count": 1, "id_proofs": False}, [participant()], "says it encloses no ID copies, but 1"),
        ({"participant_count": 1}, [participant(id_image=None)], "says it encloses ID copies, but 0"),
        ({"participant_count": 2}, [participant(), participant()], "participant AB12CD34EF56 is given twice"),
        ({"participant_count": 1}, [participant(identifiers={"iban": "NL00"})], "identifiers ['iban'] that the letter"),
        ({"participant_count": 1}, [participant(mandate_pdf=b"<html>")], "the mandate given is not a PDF file"),
        ({"participant_count": 1}, [participant(id_image=(PNG, "image/jpeg"))], "is not the image/jpeg image"),
        ({"participant_count": 1}, [participant(id_image=(b"GIF89a", "image/gif"))], "type 'image/gif' cannot"),
        ({"participant_count": 1}, [participant(reference="../AB12")], "participant reference '../AB12'"),
        ({"participant_count": 1}, [participant(name=" ")], "participant AB12CD34EF56 has no name"),
    ],
)
def test_participants_that_do_not_fit_the_letter_leave_no_file(
    app: Flask, tmp_path: Path, letter_changes: dict[str, Any], participants: list[RoundParticipant], message: str
) -> None:
    out = tmp_path / "package.zip"
    with pytest.raises(RoundPackageError) as raised:
        write_round_package(out, letter("en", **letter_changes), participants)
    assert message in str(raised.value)
    assert "anna@example.org" not in str(raised.value) and "Vriës" not in str(raised.value)  # references only
    assert list(tmp_path.iterdir()) == []  # neither the package nor a partial file


# -- memory -------------------------------------------------------------------------------------------------------
PDF_BYTES = 4_000  # each fake mandate, incompressible: a round held in memory would show 4 times the allowance


def many(n: int) -> Iterator[RoundParticipant]:
    """``n`` participants, made one at a time, every third with an ID copy, mandates opened only when written."""
    for i in range(n):
        reference = f"R{i:011d}"
        yield RoundParticipant(
            reference,
            f"Participant {i}",
            {"email": f"p{i}@example.org", "phone": f"+31 6 {i:08d}"},
            "1990-01-01",
            lambda: b"%PDF-1.4\n" + os.urandom(PDF_BYTES),
            (JPEG + os.urandom(PDF_BYTES // 4), "image/jpeg") if i % 3 == 0 else None,
        )


def traced_peak(out: Path, n: int) -> int:
    """tracemalloc's peak of new allocations while a package of ``n`` participants is written, from the first
    participant on (the letter is laid out before that, and its peak would hide what the participants add)."""
    before: list[int] = []

    def participants() -> Iterator[RoundParticipant]:
        before.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.reset_peak()
        yield from many(n)

    gc.collect()
    tracemalloc.start()
    try:
        summary = write_round_package(out, letter("en", participant_count=n), participants(), overwrite=True)
        peak = tracemalloc.get_traced_memory()[1] - before[0]
    finally:
        tracemalloc.stop()
    assert summary.participants == n
    return peak


def test_memory_does_not_grow_with_the_round(app: Flask, tmp_path: Path) -> None:
    n = 500
    out = tmp_path / "package.zip"
    traced_peak(out, n)  # warm-up: the letter's templates and fonts, imports
    small = traced_peak(out, n)
    large = traced_peak(out, 4 * n)  # 2,000 participants
    assert verify_round_package(out).ok
    with zipfile.ZipFile(out) as package:
        assert len(annex_rows(package)) == 4 * n + 1
    # Only the ZIP's directory may grow: MEMORY_PER_PARTICIPANT for each participant more.
    allowance = 3 * n * MEMORY_PER_PARTICIPANT + 256 * 1024
    assert large - small < allowance, (small, large, allowance)
    assert large < 4 * n * PDF_BYTES / 4, (large, 4 * n * PDF_BYTES)  # well under the mandates' size
