"""A data-request round's package for one company: the collective Art. 15 request letter and everything it encloses,
as one ZIP that the foundation sends (or uploads) to the company, and keeps as proof of what it sent.

What is in it (``README.txt`` inside says the same, in the letter's language, for the company's reader):

- ``letter.pdf``: the request letter (:func:`core.data_requests.letters.request_letter_pdf`);
- ``annex.csv``: the data subjects, one row each: our reference for them, their name, the identifiers to search for
  (the letter's :attr:`~core.data_requests.letters.RequestLetter.identifiers`, in order), their date of birth where
  given, and the names of their mandate file and ID file in the package;
- ``mandates/<reference>.pdf``: each data subject's signed mandate;
- ``id/<reference>.jpg`` or ``.png``: the accepted, blacked-out copy of their ID document, where there is one;
- ``README.txt``, then ``manifest.sha256``, written last, in the evidence package's format
  (:mod:`core.exports.package_zip`): its SHA-256, which ``write_round_package`` returns, is kept apart from the
  package, so the foundation can later show which package it sent.

Why it is built this way:

- **No database, no keys.** The caller (``flask requests prepare``) reads the round and opens the participants'
  sealed data; this module gets plain values (:class:`RoundParticipant`) and writes them, so it is tested without
  either, and the one piece that handles plain personal data stays small.
- **Streamed, in bounded memory.** Participants arrive as an iterator and each one's mandate and ID image go into
  the ZIP as they come (a mandate may be given as a function, so it is opened only then); the annex's rows wait in
  an unnamed scratch file beside the package, as the evidence package's do, because a ZIP entry is written in one
  piece. What grows is :mod:`zipfile`'s central directory (about 370 bytes per file, two files per participant at
  most): :data:`MEMORY_PER_PARTICIPANT` bounds it, and ``tests/test_round_package.py`` holds us to it.
- **The letter and the package agree.** The letter states a number of data subjects and whether ID copies are
  enclosed before the participants are read; a package whose participants do not match is refused, and no file is
  left behind.
- **annex.csv is UTF-8 with a byte order mark**, unlike the evidence package's CSV files: its reader is a company's
  privacy team, who will most likely open it in Excel, which reads UTF-8 without the mark as the local code page
  and garbles every accented name (the lawyers' tools read the evidence package's CSV as UTF-8 anyway). Python reads
  it with ``encoding="utf-8-sig"``. Every cell goes through :func:`core.exports.evidence.spreadsheet_safe`: names and
  identifiers are what participants typed, and must not become formulas in the company's spreadsheet.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from core.data_requests.letters import RequestLetter, request_letter_pdf
from core.exports.evidence import spreadsheet_safe
from core.exports.package_zip import PackageCheck, PackageWriter, verify_package, written_in_place

LETTER, ANNEX, README = "letter.pdf", "annex.csv", "README.txt"
README_TEMPLATE = "default:data_requests/readme.txt"
# The image types an ID copy may have, as the ID upload stores them, with their file suffix and first bytes.
ID_IMAGES = {"image/jpeg": ("jpg", b"\xff\xd8\xff"), "image/png": ("png", b"\x89PNG\r\n\x1a\n")}
# Bytes of memory per participant that may grow with the round (the ZIP's central directory for a mandate and an
# ID image, about 370 bytes each), with room to spare; everything else is per participant.
MEMORY_PER_PARTICIPANT = 1024
# A sign-up's reference is the start of its token (secrets.token_urlsafe), which may begin with '-' or '_'.
_REFERENCE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")
_BOM = "\ufeff"


class RoundPackageError(ValueError):
    """The participants given do not fit the letter, or one of them cannot be put in the package. Says which
    participant (by reference only: the message may be logged) and what to do."""


@dataclass(frozen=True)
class RoundParticipant:
    """One data subject of the request, as the annex and the package show them."""

    reference: str  # our public reference for them (the sign-up's): names their files
    name: str
    identifiers: Mapping[str, str]  # IdentifierColumn.id -> value; a missing one is an empty cell
    birth_date: str | None  # as the participant gave it (ISO 8601), or None
    mandate_pdf: Callable[[], bytes] | bytes  # a function is called once, when the participant is written
    id_image: tuple[bytes, str] | None = None  # (the blacked-out image, its media type), when accepted


@dataclass(frozen=True)
class RoundPackageSummary:
    """What a package holds, and the manifest's SHA-256 to keep apart from it."""

    path: Path
    reference: str  # the letter's
    company: str  # the company's slug
    participants: int
    id_proofs: int
    manifest_sha256: str


def write_round_package(
    target: Path | str,
    letter: RequestLetter,
    participants: Iterable[RoundParticipant],
    overwrite: bool = False,
    *,
    scratch_dir: Path | None = None,
) -> RoundPackageSummary:
    """Write the package of ``letter``'s request with ``participants`` (see the module) to ``target``, and say what
    is in it. Needs an app context (the letter's and README's templates and catalogs), no database.

    The package is written as a hidden partial file beside ``target`` and moved into place at the end, so a half
    written one never looks finished; an existing ``target`` is kept unless ``overwrite`` (:class:`FileExistsError`).
    Raises :class:`RoundPackageError` when the participants do not fit the letter (their number, ID copies where the
    letter promises none or the other way round, an identifier the letter does not name, a reference twice, a
    mandate that is not a PDF, an ID image that is not what its media type says), and leaves no file behind then.
    The annex's scratch files go to ``scratch_dir``, by default beside ``target``.
    """
    target = Path(target)
    pdf = request_letter_pdf(letter)  # first: a letter that cannot be made leaves no partial file either
    with written_in_place(target, overwrite) as file:
        participant_count, id_proofs, manifest_sha256 = _write(
            file, letter, pdf, participants, scratch_dir or target.parent
        )
    return RoundPackageSummary(
        target, letter.reference, letter.company.slug, participant_count, id_proofs, manifest_sha256
    )


def _write(
    file: BinaryIO, letter: RequestLetter, pdf: bytes, participants: Iterable[RoundParticipant], scratch_dir: Path
) -> tuple[int, int, str]:
    """Write the package to ``file``; returns (participants, ID copies, the manifest's SHA-256)."""
    made_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with contextlib.ExitStack() as stack:

        def scratch() -> IO[str]:
            return stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=scratch_dir))

        archive = stack.enter_context(zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED))
        package = PackageWriter(archive, scratch(), made_at)
        package.add(LETTER, pdf)
        rows = scratch()
        annex = csv.writer(rows)
        count = id_proofs = 0
        for participant in participants:
            row, has_id = _add(package, letter, participant)
            annex.writerow(row)
            count += 1
            id_proofs += has_id
        _check_against_letter(letter, count, id_proofs)
        _write_annex(package, letter, rows)
        package.add(README, _readme(letter, count, id_proofs).encode("utf-8"))
        return count, id_proofs, package.finish()


def _add(package: PackageWriter, letter: RequestLetter, participant: RoundParticipant) -> tuple[list[str], bool]:
    """Put one participant's mandate and ID image in the package; returns their annex row and whether they have an
    ID image."""
    reference = participant.reference
    if not _REFERENCE.match(reference):
        raise RoundPackageError(
            f"participant reference {reference[:70]!r}: use letters, digits, '.', '_' and '-' only (it names files)"
        )
    mandate_file = f"mandates/{reference}.pdf"
    if package.holds(mandate_file):
        raise RoundPackageError(f"participant {reference} is given twice: each data subject is listed once")
    if not participant.name.strip():
        raise RoundPackageError(f"participant {reference} has no name: the company needs it to find them")
    asked = {column.id for column in letter.identifiers}
    if unknown := sorted(set(participant.identifiers) - asked):
        raise RoundPackageError(
            f"participant {reference} has identifiers {unknown} that the letter does not name (it names "
            f"{sorted(asked)}): add them to the letter's identifiers, or leave them out"
        )
    pdf = participant.mandate_pdf() if callable(participant.mandate_pdf) else participant.mandate_pdf
    if not pdf.startswith(b"%PDF-"):
        raise RoundPackageError(f"participant {reference}: the mandate given is not a PDF file")
    package.add(mandate_file, pdf)
    del pdf  # one mandate in memory at a time
    id_file = ""
    if participant.id_image is not None:
        id_file = _add_id_image(package, reference, *participant.id_image)
    row = [
        reference,
        participant.name,
        *(participant.identifiers.get(column.id, "") for column in letter.identifiers),
        participant.birth_date or "",
        mandate_file,
        id_file,
    ]
    return [spreadsheet_safe(cell) for cell in row], bool(id_file)


def _add_id_image(package: PackageWriter, reference: str, image: bytes, media_type: str) -> str:
    """Put one ID image in the package; returns its file name."""
    if media_type not in ID_IMAGES:
        raise RoundPackageError(
            f"participant {reference}: an ID copy of type {media_type[:40]!r} cannot be sent; "
            f"it must be one of {sorted(ID_IMAGES)}"
        )
    suffix, magic = ID_IMAGES[media_type]
    if not image.startswith(magic):
        raise RoundPackageError(f"participant {reference}: the ID copy is not the {media_type} image it is said to be")
    name = f"id/{reference}.{suffix}"
    package.add(name, image)
    return name


def _check_against_letter(letter: RequestLetter, count: int, id_proofs: int) -> None:
    if count != letter.participant_count:
        raise RoundPackageError(
            f"the letter to {letter.company.slug} speaks of {letter.participant_count} data subject(s), but "
            f"{count} participant(s) were given: make the letter with the number of participants in the round"
        )
    if letter.id_proofs != bool(id_proofs):
        says = "encloses ID copies" if letter.id_proofs else "encloses no ID copies"
        raise RoundPackageError(
            f"the letter to {letter.company.slug} says it {says}, but {id_proofs} participant(s) have one: make the "
            "letter with id_proofs set to whether any participant in the round has an accepted ID copy"
        )


def annex_header(letter: RequestLetter) -> list[str]:
    """The annex's column headings, in the letter's language."""
    with force_locale(letter.language):
        return [
            _("Reference"),
            _("Name"),
            *(column.label for column in letter.identifiers),
            _("Date of birth"),
            _("Power of attorney (file)"),
            _("Identity document (file)"),
        ]


def _write_annex(package: PackageWriter, letter: RequestLetter, rows: IO[str]) -> None:
    """annex.csv: the heading, then the rows waiting in their scratch file."""
    rows.seek(0)
    with package.text(ANNEX) as entry:
        entry.write(_BOM)
        csv.writer(entry).writerow([spreadsheet_safe(cell) for cell in annex_header(letter)])
        while chunk := rows.read(1 << 16):
            entry.write(chunk)


def _readme(letter: RequestLetter, participants: int, id_proofs: int) -> str:
    template = current_app.jinja_env.get_template(README_TEMPLATE)
    with force_locale(letter.language):
        return template.render(
            letter=letter,
            organisation=letter.organisation,
            company=letter.company,
            reference=letter.reference,
            participants=participants,
            id_proofs=id_proofs,
            columns=annex_header(letter),
        )


# -- checking a package -------------------------------------------------------------------------------------------
def verify_round_package(path: Path | str | BinaryIO, manifest_sha256: str | None = None) -> PackageCheck:
    """Check a round's package against its manifest (:func:`core.exports.package_zip.verify_package`: every file
    listed with its SHA-256, none missing or added, and the manifest the one expected when ``manifest_sha256`` is
    given), and that the letter, the annex and the README are in it."""
    return verify_package(path, manifest_sha256, _required_files)


def _required_files(_archive: zipfile.ZipFile, present: list[str]) -> Iterator[str]:
    for name in (LETTER, ANNEX, README):
        if name not in present:
            yield f"{name}: not in the package (a round's package always holds it)"
