"""The evidence package: one ZIP of a campaign's confirmed participants that the foundation's lawyers take to
court (``flask export evidence``), and :func:`verify_package`, which checks that a package is whole and unchanged.

What is in it (``README.txt`` inside says the same, for its readers):

- ``participants.csv``: the confirmed participants (:func:`core.data.models.participant`), one row per claimant, with
  the columns of ``flask export participants`` (:data:`PARTICIPANT_COLUMNS`) and three checks: the mandate file,
  whether its SHA-256 equals the one recorded when it was made, and whether each accepted agreement text,
  filled in again from its versioned template as the signing page filled it in, has the SHA-256 recorded then.
- ``duplicates.csv``: sign-ups left out of ``participants.csv`` because the same claimant signed earlier under
  another address (:func:`claimant`), with the reference of the one kept and why.
- ``problems.csv``: everything the lawyers must look at (a missing or differing mandate, an agreement text that
  does not match or whose template is gone). A problem never stops the export and is never dropped silently.
- ``mandates/<reference>.pdf``: the signed mandate of every sign-up listed in either CSV (duplicates too: they
  signed it, and a disputed de-duplication needs it), opened from the sealed copy.
- ``agreements/<id>/<version>/<language>.md``: each versioned agreement template some exported sign-up accepted.
- ``README.txt``, then ``manifest.sha256``, written last: the SHA-256 of every other file, as ``sha256sum -c``
  reads it. Its own SHA-256, which the command prints, is sent to the lawyers apart from the package, so they can
  tell that the manifest, and with it every file, is the one we made. The ZIP with its manifest, and the check,
  are :mod:`core.exports.package_zip`'s: every package the foundation hands out has this format.

Why it is built this way:

- **Streamed, in bounded memory.** Sign-ups are read ``batch`` at a time
  (:func:`core.data.personal_data.record_batches`, each batch expunged) and each mandate goes into the ZIP as
  soon as it is opened. A ZIP entry must be written in one piece, so the CSV rows wait in an unnamed scratch file
  beside the package (on Linux it has no name and is gone when closed; it holds what the package holds, in the same
  place), as do the manifest lines and the problems. What does grow with the campaign is small and known: the
  de-duplication index (16-byte digest -> 25 bytes, about 140 bytes per sign-up with Python's overhead) and
  :mod:`zipfile`'s central directory (about 370 bytes per mandate file): :data:`MEMORY_PER_SIGNUP` bounds both, and
  ``tests/test_evidence.py`` holds us to it.
- **One moment in time.** On PostgreSQL the whole package is read in one REPEATABLE READ transaction, so a
  sign-up or withdrawal during the export cannot make the count, the rows and the mandates disagree.
- **Agreement texts re-rendered as signed.** The recorded SHA-256 is of the text exactly as shown, with the
  participant's (or child's) name filled in, so each participant's text is filled in again from its versioned
  template with the values recorded at signing (:func:`core.signup.agreements.signed_values`: the campaign's with
  the accepted agreement, the name sealed with the participant's data), by the same code as the signing page
  (which compiles each template file once). A later edit of the campaign file (its organisation's name, say)
  therefore flags nobody; an edit of a signed version's template does.
- **No personal data outside the package**: problems, summaries and the manifest name sign-ups by reference only.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import os
import re
import struct
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from jinja2 import TemplateError
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.documents import agreement_file
from core.campaigns.schema import Agreement
from core.data import personal_data
from core.data.db import db_session, utcnow
from core.data.models import AcceptedAgreement, PersonalRecord, Signup, participant
from core.exports import package_zip
from core.exports.package_zip import PackageCheck, PackageWriter, written_in_place
from core.sealing import OpeningKeys
from core.signup.agreements import agreement_text_as_signed, signed_values
from core.signup.mandate_verify import verify_mandate
from core.site import site

# -- the rows: shared with ``flask export participants`` ------------------------------------------------------------
# The answers every campaign's form may ask, in this order; anything else a campaign asks goes to "other answers".
ANSWER_COLUMNS = (
    "name",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "birth_date",
    "account",
    "for_whom",
    "child_name",
    "child_birth_date",
    "signature_typed",
)
SIGNUP_COLUMNS = (
    "reference",
    "language",
    "joined_at",
    "verified_at",
    "signed_at",
    "fee_option",
    "fee_terms",
    "paid_at",
    "mandate_sha256",
)
PARTICIPANT_COLUMNS = (*SIGNUP_COLUMNS, *ANSWER_COLUMNS, "other_answers")
CHECK_COLUMNS = ("mandate_file", "mandate_check", "agreements_check")
DUPLICATE_COLUMNS = ("duplicate_of", "reason")
PROBLEM_COLUMNS = ("reference", "problem", "detail")

README = "README.txt"
# Bytes of memory per exported sign-up that may grow with the campaign (the de-duplication index and the ZIP's
# central directory: 500-650 together, measured), with room to spare; everything else is per batch.
MEMORY_PER_SIGNUP = 1024
FIRST_PROBLEMS = 20  # how many problems the summary carries (all of them are in problems.csv)

# What each check column says.
MATCHES, DIFFERS, MISSING = "matches", "DIFFERS", "missing"
TEMPLATE_MISSING, TEMPLATE_BROKEN = "template missing", "template does not render"


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


# A spreadsheet opening the CSV would run a cell that starts like a formula; what visitors typed must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ().-]*")


def spreadsheet_safe(value: str) -> str:
    """``value``, with an apostrophe in front when a spreadsheet would read it as a formula (OWASP's CSV injection
    advice). A plain number such as a phone number ``+31 6 12345678`` is left as it is."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def participant_row(signup: Signup, answers: Mapping[str, Any]) -> list[str]:
    """One sign-up with its opened answers, as the values of :data:`PARTICIPANT_COLUMNS` (what the visitor typed
    made safe for spreadsheets: :func:`spreadsheet_safe`)."""
    other = {key: value for key, value in answers.items() if key not in ANSWER_COLUMNS}
    return [
        signup.token[:12],
        signup.language,
        _iso(signup.created_at),
        _iso(signup.verified_at),
        _iso(signup.signed_at),
        signup.fee_option or "",
        signup.fee_terms or "",
        _iso(signup.paid_at),
        signup.mandate_sha256 or "",
        *(spreadsheet_safe(str(answers.get(key, ""))) for key in ANSWER_COLUMNS),
        spreadsheet_safe(json.dumps(other, ensure_ascii=False, sort_keys=True)) if other else "",
    ]


# -- who a sign-up claims for: the de-duplication rule ----------------------------------------------------------------
BASES = {"name+birth_date": "name and date of birth", "name+postcode+street": "name, postcode and street address"}


def normalise(text: str) -> str:
    """A name or street as compared: accents stripped (José = Jose; people type them or not, depending on the
    keyboard at hand), case folded, runs of white space made one space. Hyphens and apostrophes stay."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


@dataclass(frozen=True)
class Claimant:
    """Who a sign-up claims for, as de-duplication compares them: ``kind`` is ``person`` or ``child``, ``basis``
    a key of :data:`BASES`, ``key`` the normalised values compared (personal data: it never leaves memory)."""

    kind: str
    basis: str
    key: str

    @property
    def digest(self) -> bytes:
        return hashlib.blake2b(f"{self.basis}\x1f{self.key}".encode(), digest_size=16).digest()


def claimant(answers: Mapping[str, Any], *, asks_birth_date: bool) -> Claimant | None:
    """The claimant of a sign-up, or None when its answers do not say enough to compare it (it is then never a
    duplicate). E-mail addresses are unique per campaign already, so a duplicate is the same claimant under another
    address: the child when the sign-up is for a child, else the person. They are the same when the normalised
    name (:func:`normalise`) and the date of birth are the same, where the campaign asks the date of birth (the
    child's always is); else when the name, the postcode (spaces ignored) and the street address are."""
    for_child = answers.get("for_whom") == "child"
    name = normalise(str(answers.get("child_name" if for_child else "name") or ""))
    if not name:
        return None
    kind = "child" if for_child else "person"
    born = str(answers.get("child_birth_date" if for_child else "birth_date") or "").strip()
    if born and (for_child or asks_birth_date):
        return Claimant(kind, "name+birth_date", f"{name}\x1f{born}")
    postcode = "".join(normalise(str(answers.get("postcode") or "")).split())
    street = normalise(str(answers.get("street") or ""))
    if postcode and street:
        return Claimant(kind, "name+postcode+street", f"{name}\x1f{postcode}\x1f{street}")
    return None


class _ClaimantIndex:
    """The earliest-signed sign-up of each claimant: digest -> (signed_at in µs, id) packed big-endian, so bytes
    compare as the numbers do, then the 12-character reference. About 140 bytes per claimant in all."""

    _order = struct.Struct(">qq")

    def __init__(self) -> None:
        self._first: dict[bytes, bytes] = {}

    def offer(self, digest: bytes, signed_at: dt.datetime, signup_id: int, reference: str) -> None:
        micros = (signed_at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
        entry = self._order.pack(micros, signup_id) + reference.encode("ascii")
        known = self._first.get(digest)
        if known is None or entry[:16] < known[:16]:
            self._first[digest] = entry

    def first(self, digest: bytes) -> tuple[int, str]:
        """(id, reference) of the earliest-signed sign-up with ``digest``."""
        entry = self._first[digest]
        return self._order.unpack(entry[:16])[1], entry[16:].decode("ascii")


# -- agreement texts, re-rendered ---------------------------------------------------------------------------------
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclass(frozen=True)
class _Accepted:
    """One accepted agreement of a sign-up, as recorded: which text, its SHA-256, the campaign's values in it."""

    agreement: str
    version: str
    language: str
    sha256: str
    placeholders: str | None


@dataclass
class _Template:
    zip_path: str
    origin: str  # where it came from, relative to the campaigns folder
    source: bytes


class _AgreementTexts:
    """The versioned templates one campaign's participants accepted (each read once, for the package), and the
    check of each participant's text, filled in again with the values recorded when they signed."""

    def __init__(self, campaigns_dir: Path, loaded: LoadedCampaign) -> None:
        self.campaigns_dir, self.loaded = campaigns_dir, loaded
        self._templates: dict[tuple[str, str, str], _Template | None] = {}

    def _template(self, agreement: str, version: str, language: str) -> _Template | None:
        wanted = (agreement, version, language)
        if wanted not in self._templates:
            found = None
            if all(_SAFE_NAME.match(part) for part in wanted):
                path = agreement_file(self.campaigns_dir, self.loaded.slug, self._config(agreement, version), language)
                if path is not None:
                    found = _Template(
                        f"agreements/{agreement}/{version}/{language}.md",
                        path.relative_to(self.campaigns_dir).as_posix(),
                        path.read_bytes(),
                    )
            self._templates[wanted] = found
        return self._templates[wanted]

    @staticmethod
    def _config(agreement: str, version: str) -> Agreement:
        # Only the id and version name the file; the title is not part of the text (and this version may no
        # longer be in the campaign file).
        return Agreement.model_construct(id=agreement, version=version, title=None)

    def check(self, accepted: _Accepted, opened: personal_data.OpenedRecord) -> str:
        """Whether the text filled in again with the values recorded at signing has the recorded SHA-256:
        :data:`MATCHES`, :data:`DIFFERS`, :data:`TEMPLATE_MISSING` or :data:`TEMPLATE_BROKEN`."""
        if self._template(accepted.agreement, accepted.version, accepted.language) is None:
            return TEMPLATE_MISSING
        values = signed_values(
            self.loaded, accepted.language, accepted.placeholders, opened.placeholders, opened.answers
        )
        try:
            shown = agreement_text_as_signed(
                self.campaigns_dir,
                self.loaded,
                self._config(accepted.agreement, accepted.version),
                accepted.language,
                values,
                from_disk=True,  # the files as they are: what the package holds and this check is about
            )
        except (TemplateError, UnicodeDecodeError):
            return TEMPLATE_BROKEN
        return MATCHES if shown.sha256 == accepted.sha256 else DIFFERS

    def used(self) -> list[_Template]:
        """The templates found, in the order of their package paths."""
        return sorted((t for t in self._templates.values() if t is not None), key=lambda t: t.zip_path)


@dataclass(frozen=True)
class Problem:
    """Something the lawyers must look at, about one sign-up (named by reference only)."""

    reference: str
    problem: str  # a short code, e.g. "mandate-missing"
    detail: str


class _Problems:
    """problems.csv, kept in a scratch file while the export runs; the first few also for the summary."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self._writer = csv.writer(self.file)
        self._writer.writerow(PROBLEM_COLUMNS)
        self.count = 0
        self.first: list[Problem] = []

    def add(self, reference: str, problem: str, detail: str) -> None:
        self._writer.writerow([reference, problem, detail])
        self.count += 1
        if len(self.first) < FIRST_PROBLEMS:
            self.first.append(Problem(reference, problem, detail))


@dataclass(frozen=True)
class EvidenceSummary:
    """What an export wrote: the counts the command prints, and the manifest's SHA-256 to send apart."""

    campaign: str
    exported_at: dt.datetime
    participants: int
    duplicates: int
    mandates: int
    agreement_texts: int
    problems: int
    first_problems: tuple[Problem, ...]  # the first FIRST_PROBLEMS; all of them are in problems.csv
    manifest_sha256: str


# -- the export ---------------------------------------------------------------------------------------------------
def _begin_snapshot(session: Session) -> None:
    """On PostgreSQL, start the one REPEATABLE READ transaction the whole package is read in (unless the session
    is in a transaction already: then the package is read in that one). SQLite reads each batch as it is then."""
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def participant_count(campaign: str) -> int:
    """The confirmed participants of ``campaign``, counted in the snapshot the package is then read in (for a
    progress bar): call it before :func:`write_evidence_package`, in the same app context."""
    session = db_session()
    _begin_snapshot(session)
    counted = select(func.count()).select_from(Signup).where(Signup.campaign == campaign, participant())
    return session.scalar(counted) or 0


def _loaded(campaign: LoadedCampaign | str) -> LoadedCampaign:
    if isinstance(campaign, LoadedCampaign):
        return campaign
    loaded = site().registry.snapshot.campaigns.get(campaign)
    if loaded is None:
        raise LookupError(
            f"no campaign '{campaign}' is loaded from {site().settings.campaigns_dir}: the evidence "
            "package needs its campaign file and agreement texts"
        )
    return loaded


def _accepted(session: Session, ids: list[int]) -> dict[int, list[_Accepted]]:
    """The accepted agreements of the sign-ups ``ids`` (ascending): one query per batch, by id range (an IN list
    of any batch size could pass SQLite's limit on parameters)."""
    found: dict[int, list[_Accepted]] = {signup_id: [] for signup_id in ids}
    query = (
        select(
            AcceptedAgreement.signup_id,
            AcceptedAgreement.agreement,
            AcceptedAgreement.version,
            AcceptedAgreement.language,
            AcceptedAgreement.text_sha256,
            AcceptedAgreement.placeholders,
        )
        .where(AcceptedAgreement.signup_id.between(ids[0], ids[-1]))
        .order_by(AcceptedAgreement.signup_id, AcceptedAgreement.id)
    )
    for signup_id, *row in session.execute(query):
        if signup_id in found:
            found[signup_id].append(_Accepted(*row))
    return found


def _mandate(
    package: PackageWriter, problems: _Problems, signup: Signup, reference: str, pdf: bytes | None
) -> tuple[str, str]:
    """Put the mandate in the package; returns (its file, its check)."""
    if pdf is None:
        problems.add(
            reference,
            "mandate-missing",
            "the mandate PDF was not made yet (the worker's mandate job has not run)"
            if signup.mandate_sha256 is None
            else "the sealed copy of the mandate PDF is missing, though its SHA-256 was recorded",
        )
        return "", MISSING
    name = f"mandates/{reference}.pdf"
    digest = package.add(name, pdf)
    if signup.mandate_sha256 is None:
        problems.add(reference, "mandate-sha256-missing", f"no SHA-256 was recorded; the file's is {digest}")
        return name, MISSING
    if digest != signup.mandate_sha256:
        problems.add(
            reference,
            "mandate-differs",
            f"the file's SHA-256 is {digest}, the one recorded when it was made {signup.mandate_sha256}",
        )
        return name, DIFFERS
    return name, MATCHES


def _agreements_check(
    texts: _AgreementTexts,
    problems: _Problems,
    reference: str,
    accepted: list[_Accepted],
    opened: personal_data.OpenedRecord,
) -> str:
    parts = []
    for one in accepted:
        status = texts.check(one, opened)
        named = f"{one.agreement}@{one.version}/{one.language}"
        parts.append(f"{named}: {status}")
        if status == DIFFERS:
            problems.add(
                reference,
                "agreement-differs",
                f"{named}: the text filled in again from the template does not have the SHA-256 recorded at signing",
            )
        elif status != MATCHES:
            problems.add(reference, "agreement-" + status.replace(" ", "-"), f"{named}: {status}")
    if not parts:
        problems.add(reference, "no-agreements", "no accepted agreement is recorded")
        return "none recorded"
    return "; ".join(parts)


def _without_personal_data(session: Session, campaign: str, problems: _Problems) -> None:
    """Participants that ``record_batches`` cannot list (it joins their personal record): named in problems.csv,
    so none is left out unseen. (An erased sign-up is always withdrawn, so this should never find one.)"""
    has_record = exists().where(PersonalRecord.signup_id == Signup.id)
    query = select(Signup.token).where(Signup.campaign == campaign, participant(), ~has_record).order_by(Signup.id)
    for token in session.scalars(query):
        problems.add(
            token[:12],
            "no-personal-data",
            "a confirmed participant without personal data: not in participants.csv and without a mandate",
        )


class _Waiting:
    """The rows of participants.csv and duplicates.csv while the sign-ups are read, in a scratch file: which of
    them is a duplicate is known only once every sign-up was read."""

    def __init__(self, file: IO[str]) -> None:
        self._file, self._writer = file, csv.writer(file)

    def add(self, signup_id: int, who: Claimant | None, row: list[str]) -> None:
        # Each row waits as: id, claimant digest (hex, or empty), kind, basis, then the row itself.
        self._writer.writerow(
            [signup_id, who.digest.hex() if who else "", who.kind if who else "", who.basis if who else "", *row]
        )

    def __iter__(self) -> Iterator[_WaitingRow]:
        """Every row, from the first (each time anew)."""
        self._file.seek(0)
        for line in csv.reader(self._file):
            yield _WaitingRow(int(line[0]), bytes.fromhex(line[1]) if line[1] else None, line[2], line[3], line[4:])


@dataclass(frozen=True)
class _WaitingRow:
    signup_id: int
    digest: bytes | None  # of the claimant; None when the answers do not say enough to compare
    kind: str
    basis: str
    row: list[str]


@dataclass
class _Export:
    """What one export writes to while it reads the sign-ups: the package, problems.csv, the waiting rows, and
    the agreement texts and claimants seen so far."""

    package: PackageWriter
    problems: _Problems
    waiting: _Waiting
    texts: _AgreementTexts
    asks_birth_date: bool
    index: _ClaimantIndex = field(default_factory=_ClaimantIndex)
    mandates: int = 0

    def add(self, signup: Signup, opened: personal_data.OpenedRecord, accepted: list[_Accepted]) -> None:
        """One confirmed participant: their mandate into the package, their checks and row into the waiting rows."""
        reference = signup.token[:12]
        mandate_file, mandate_check = _mandate(self.package, self.problems, signup, reference, opened.mandate_pdf)
        self.mandates += bool(mandate_file)
        check = _agreements_check(self.texts, self.problems, reference, accepted, opened)
        who = claimant(opened.answers, asks_birth_date=self.asks_birth_date)
        if who is not None:
            self.index.offer(who.digest, signup.signed_at or signup.created_at, signup.id, reference)
        self.waiting.add(signup.id, who, [*participant_row(signup, opened.answers), mandate_file, mandate_check, check])


def _asks_birth_date(loaded: LoadedCampaign) -> bool:
    config = loaded.campaign.signup
    return config is not None and any(f.field == "birth_date" for f in config.fields)


def _read_participants(
    session: Session,
    slug: str,
    keys: OpeningKeys,
    export: _Export,
    *,
    batch: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Open every confirmed participant of ``slug``, ``batch`` at a time, into ``export``; then name in
    problems.csv those without personal data."""
    for signups in personal_data.record_batches(session, Signup.campaign == slug, participant(), batch=batch):
        accepted = _accepted(session, [signup.id for signup, _record in signups])
        for signup, record in signups:
            export.add(signup, personal_data.open_record(record, keys), accepted[signup.id])
        session.expunge_all()
        if progress is not None:
            progress(len(signups))
    _without_personal_data(session, slug, export.problems)


def _first_of_claimant(row: _WaitingRow, index: _ClaimantIndex) -> tuple[int, str] | None:
    """(id, reference) of the sign-up kept for ``row``'s claimant; None when ``row`` has no claimant to compare."""
    return index.first(row.digest) if row.digest is not None else None


def _write_participants(package: PackageWriter, waiting: _Waiting, index: _ClaimantIndex) -> int:
    """participants.csv: each claimant's earliest-signed sign-up (and every sign-up without a claimant to
    compare); returns how many."""
    count = 0
    with package.text("participants.csv") as entry:
        out = csv.writer(entry)
        out.writerow([*PARTICIPANT_COLUMNS, *CHECK_COLUMNS])
        for row in waiting:
            first = _first_of_claimant(row, index)
            if first is None or first[0] == row.signup_id:
                out.writerow(row.row)
                count += 1
    return count


def _write_duplicates(package: PackageWriter, waiting: _Waiting, index: _ClaimantIndex) -> int:
    """duplicates.csv: the sign-ups of a claimant who signed earlier, with the reference of the one kept and
    why; returns how many."""
    count = 0
    with package.text("duplicates.csv") as entry:
        out = csv.writer(entry)
        out.writerow([*DUPLICATE_COLUMNS, *PARTICIPANT_COLUMNS, *CHECK_COLUMNS])
        for row in waiting:
            first = _first_of_claimant(row, index)
            if first is not None and first[0] != row.signup_id:
                reason = f"same {row.kind} ({BASES[row.basis]}), signed earlier as {first[1]}"
                out.writerow([first[1], reason, *row.row])
                count += 1
    return count


def _write_problems(package: PackageWriter, problems: _Problems) -> None:
    """problems.csv, copied from its scratch file."""
    problems.file.seek(0)
    with package.text("problems.csv") as entry:
        while chunk := problems.file.read(1 << 16):
            entry.write(chunk)


def _write_agreement_texts(package: PackageWriter, texts: _AgreementTexts) -> list[_Template]:
    """Each agreement template some exported sign-up accepted; returns them."""
    used = texts.used()
    for template in used:
        package.add(template.zip_path, template.source)
    return used


def _write(
    loaded: LoadedCampaign,
    keys: OpeningKeys,
    file: BinaryIO,
    *,
    batch: int,
    progress: Callable[[int], None] | None,
    scratch_dir: Path | None,
) -> EvidenceSummary:
    session = db_session()
    _begin_snapshot(session)
    exported_at = utcnow().replace(microsecond=0)
    texts = _AgreementTexts(site().settings.campaigns_dir, loaded)
    with contextlib.ExitStack() as stack:

        def scratch() -> IO[str]:
            return stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=scratch_dir))

        archive = stack.enter_context(zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED))
        package, problems = PackageWriter(archive, scratch(), exported_at), _Problems(scratch())
        export = _Export(package, problems, _Waiting(scratch()), texts, _asks_birth_date(loaded))
        _read_participants(session, loaded.slug, keys, export, batch=batch, progress=progress)
        participants = _write_participants(package, export.waiting, export.index)
        duplicates = _write_duplicates(package, export.waiting, export.index)
        _write_problems(package, problems)
        used = _write_agreement_texts(package, texts)
        readme = _readme(loaded, exported_at, participants, duplicates, export.mandates, problems.count, used)
        package.add(README, readme.encode("utf-8"))
        manifest_sha256 = package.finish()
    return EvidenceSummary(
        loaded.slug,
        exported_at,
        participants,
        duplicates,
        export.mandates,
        len(used),
        problems.count,
        tuple(problems.first),
        manifest_sha256,
    )


def write_evidence_package(
    campaign: LoadedCampaign | str,
    keys: OpeningKeys,
    out: Path | str | BinaryIO,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
    scratch_dir: Path | None = None,
) -> EvidenceSummary:
    """Write the evidence package of ``campaign``'s confirmed participants (see the module) to ``out``, and say
    what is in it. Needs an app context (the database and the campaign files).

    ``out`` as a path is written as a hidden temporary file beside it and renamed at the end, so a half-written
    package never looks finished (an existing file is kept unless ``overwrite``: :class:`FileExistsError`); a
    binary file is written as is. ``progress`` gets the number of sign-ups done after each batch. Raises
    :class:`core.sealing.SealingError` when ``keys`` do not open the data, and leaves no file behind then. The
    scratch files go to ``scratch_dir``, by default beside a path ``out`` (else the system's temporary folder).
    """
    loaded = _loaded(campaign)
    if not isinstance(out, str | os.PathLike):
        return _write(loaded, keys, out, batch=batch, progress=progress, scratch_dir=scratch_dir)
    target = Path(out)
    with written_in_place(target, overwrite) as file:
        return _write(loaded, keys, file, batch=batch, progress=progress, scratch_dir=scratch_dir or target.parent)


def _readme(
    loaded: LoadedCampaign,
    exported_at: dt.datetime,
    participants: int,
    duplicates: int,
    mandates: int,
    problems: int,
    templates: list[_Template],
) -> str:
    c = loaded.campaign
    origins = "\n".join(f"    {t.zip_path}  (from campaigns/{t.origin})" for t in templates) or "    (none)"
    return f"""\
Evidence package of {c.text(c.name, "en")} ({loaded.slug}), {c.organisation.name}
Made {exported_at.isoformat()} (UTC) with `flask export evidence`.
{participants} participant(s), {duplicates} duplicate(s), {mandates} mandate(s), {problems} problem(s).

WHAT EACH FILE IS (every CSV file is UTF-8, comma separated, with a header row)

participants.csv
    The confirmed participants of the campaign: signed, paid where the campaign asks a payment first, and not
    withdrawn; one row per claimant (see duplicates.csv), with their answers as they typed them. "reference" is
    the sign-up's public reference, also printed in its mandate. "mandate_sha256" is the SHA-256 recorded when
    the mandate PDF was made; "mandate_file" names the PDF in this package and "mandate_check" says whether
    that file's SHA-256 equals the recorded one ("matches", or "DIFFERS", or "missing"). "agreements_check"
    lists each agreement the participant accepted (id@version/language) and whether its template in
    agreements/, filled in again with the values recorded when they signed (the participant's or the child's
    name, and the campaign's own values such as the organisation's name), has the SHA-256 recorded when they
    accepted it: "matches", "DIFFERS", "template missing" (the campaign files
    no longer hold that version) or "template does not render".
duplicates.csv
    Sign-ups left out of participants.csv because the same claimant signed earlier under another e-mail
    address: "duplicate_of" is the reference of the sign-up kept, "reason" says what matched; then the same
    columns as participants.csv. The claimant is the child when someone joined for a child, else the person
    who joined. Two sign-ups are the same claimant when the name and the date of birth are the same (where the
    campaign asks the date of birth; the child's always is), else when the name, the postcode and the street
    address are. Names and streets are compared without accents, case or extra spaces; postcodes without
    spaces. Of each claimant the sign-up signed first is kept.
problems.csv
    What needs a look: a mandate missing or whose SHA-256 differs from the recorded one, an agreement text that
    does not match or whose template is missing, a participant without personal data. Empty but for its
    header when there is none.
mandates/<reference>.pdf
    The signed mandate of every sign-up in participants.csv and duplicates.csv, as the participant received
    it (opened from the copy sealed to the foundation's key).
agreements/<id>/<version>/<language>.md
    The versioned agreement templates the sign-ups accepted, as the campaign files hold them, placeholders
    such as {{{{ participant }}}} not filled in:
{origins}
manifest.sha256
    The SHA-256 of every other file, written last.

HOW TO CHECK THE PACKAGE

    unzip PACKAGE.zip -d package && cd package
    sha256sum -c manifest.sha256     # every line must end in OK
    sha256sum manifest.sha256        # must print the manifest SHA-256 the foundation sent you apart

or, with the claimsite tools: flask export verify PACKAGE.zip --manifest-sha256 <that SHA-256>
"""


# -- checking a package -------------------------------------------------------------------------------------------
def verify_package(
    path: Path | str | BinaryIO, manifest_sha256: str | None = None, trust_roots: Sequence[Path] | None = None
) -> PackageCheck:
    """Check an evidence package as ``sha256sum -c manifest.sha256`` does after unzipping it, and more
    (:func:`core.exports.package_zip.verify_package`: no file in the ZIP without being in the manifest or twice,
    and, given ``manifest_sha256`` (the value the export printed, sent apart from the package), the manifest must be
    that one). Given ``trust_roots`` (the CA certificates to trust), every mandate in it is checked as ``flask
    mandate verify --no-database`` does, one at a time."""
    if trust_roots is None:
        return package_zip.verify_package(path, manifest_sha256)

    def mandates(archive: zipfile.ZipFile, present: list[str]) -> Iterator[str]:
        for name in present:
            if name.startswith("mandates/") and name.endswith(".pdf"):
                check = verify_mandate(archive.read(name), trust_roots, None)
                yield from (f"{name}: {line}" for line in check.failed)

    return package_zip.verify_package(path, manifest_sha256, mandates)
