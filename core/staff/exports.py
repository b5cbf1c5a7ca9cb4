"""Exports started on the staff console: run in a background thread of the console's process, with their progress
in ``staff_exports``, so the page can show how far an export of a large campaign got.

The staff member gives the private key file with the request. It is held in memory by that thread only, for that
export, and never written anywhere (not to the database, not to disk, not to a job queue): the web server that
serves campaigns still never has it. The finished file lies in ``instance/exports/`` (readable by the server's user
only) until it is downloaded or an hour has passed (:func:`remove_expired`, also run by ``flask retention run``).

The kinds in :data:`KINDS` are started from the campaign page's export form. A round of data requests is an export
too (:data:`ROUND_REQUESTS`, started from the campaign's Data requests page: :mod:`core.staff.request_rounds`),
whose writer is made for the round it prepares and handed to :func:`start`, so it runs, shows its progress, is
downloaded and expires exactly as the others do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.db import utcnow
from core.data.models import Signup, StaffExport, StaffMember, participant
from core.exports.evidence import write_evidence_package
from core.exports.participants import write_participants_csv
from core.sealing import OpeningKeys, SealingError

log = logging.getLogger(__name__)
KEPT_FOR = dt.timedelta(hours=1)
STALLED_AFTER = dt.timedelta(minutes=5)  # a running export that wrote no progress for this long has died


class ExportRefused(Exception):
    """An export that cannot be made as asked; its message, shown on the export's page, says why and what to do
    (a writer raises it; nothing of the export is kept)."""


@dataclass(frozen=True)
class Written:
    rows: int
    warning: str | None = None  # e.g. problems the evidence package lists


@dataclass(frozen=True)
class ExportKind:
    label: str
    suffix: str
    mimetype: str
    # (campaign, keys, file to write, progress callback taking the rows done so far) -> what was written
    write: Callable[[LoadedCampaign, OpeningKeys, Path, Callable[[int], None]], Written]


def _counting(progress: Callable[[int], None]) -> Callable[[int], None]:
    """A callback taking rows done since the last call (as click's progress bar does), for ``progress``."""
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        progress(done)

    return step


def _participants_csv(
    loaded: LoadedCampaign, keys: OpeningKeys, path: Path, progress: Callable[[int], None]
) -> Written:
    with path.open("w", encoding="utf-8", newline="") as out:
        return Written(write_participants_csv(loaded.slug, keys, out, progress=_counting(progress)))


def _evidence_package(
    loaded: LoadedCampaign, keys: OpeningKeys, path: Path, progress: Callable[[int], None]
) -> Written:
    summary = write_evidence_package(loaded, keys, path, progress=_counting(progress), overwrite=True)
    warning = f"{summary.problems} problem(s) listed in problems.csv in the package" if summary.problems else None
    return Written(summary.participants, warning)


Write = Callable[[LoadedCampaign, OpeningKeys, Path, Callable[[int], None]], Written]

KINDS = {
    "participants": ExportKind("Participants (CSV)", ".csv", "text/csv", _participants_csv),
    "evidence": ExportKind("Evidence package for the lawyers (zip)", ".zip", "application/zip", _evidence_package),
}

#: The kind of a round's data requests: its writer is made per round (:func:`core.staff.request_rounds.writer`).
ROUND_REQUESTS = "round-requests"


def _made_per_round(loaded: LoadedCampaign, keys: OpeningKeys, path: Path, progress: Callable[[int], None]) -> Written:
    raise ExportRefused("a round of data requests is prepared from the campaign's Data requests page")


#: Moving held files and mandates into the vaults (:mod:`core.staff.vault_moves`) runs as an export too, started from
#: the campaign page's Vaults section: its file is the run's report.
VAULT_MOVE = "vault-move"


def _made_by_the_vaults_section(
    loaded: LoadedCampaign, keys: OpeningKeys, path: Path, progress: Callable[[int], None]
) -> Written:
    raise ExportRefused("a move into the vaults is started from the campaign page's Vaults section")


#: Every kind an export may have, for its page and its download (the export form offers :data:`KINDS` only).
ALL_KINDS = {
    **KINDS,
    ROUND_REQUESTS: ExportKind(
        "Data requests of a round (zip of one package per company)", ".zip", "application/zip", _made_per_round
    ),
    VAULT_MOVE: ExportKind(
        "Move held files and mandates into the vaults (report)", ".txt", "text/plain", _made_by_the_vaults_section
    ),
}


def folder(app: Flask) -> Path:
    path = Path(app.instance_path) / "exports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def start(
    app: Flask,
    session: Session,
    staff: StaffMember,
    loaded: LoadedCampaign,
    kind: str,
    keys: OpeningKeys,
    *,
    write: Write | None = None,
    total: int | None = None,
) -> StaffExport:
    """Record a new export and start it in the background; the caller has checked ``kind``. ``write`` replaces the
    kind's own writer (a round's, made for that round), ``total`` the count of the campaign's participants that
    the progress is shown against."""
    if total is None:
        total = (
            session.scalar(
                select(func.count()).select_from(Signup).where(Signup.campaign == loaded.slug, participant())
            )
            or 0
        )
    export = StaffExport(
        token=secrets.token_urlsafe(32),
        staff_id=staff.id,
        campaign=loaded.slug,
        kind=kind,
        status="running",
        total=total,
        done=0,
    )
    session.add(export)
    session.commit()
    thread = threading.Thread(
        target=_run,
        args=(app, export.id, loaded, ALL_KINDS[kind].suffix, write or KINDS[kind].write, keys),
        name=f"export-{export.id}",
        daemon=True,
    )
    thread.start()
    return export


def _run(app: Flask, export_id: int, loaded: LoadedCampaign, suffix: str, write: Write, keys: OpeningKeys) -> None:
    database = app.extensions["claimsite.db"]
    target = folder(app) / f"{export_id}-{secrets.token_hex(8)}{suffix}"
    partial = target.with_name(target.name + ".part")

    def progress(done: int) -> None:
        with database.sessions() as session, session.begin():
            session.execute(
                update(StaffExport).where(StaffExport.id == export_id).values(done=done, heartbeat_at=utcnow())
            )

    try:
        with app.app_context():
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(descriptor)
            written = write(loaded, keys, partial, progress)
        digest = _sha256(partial)
        partial.rename(target)
        values = {
            "status": "done",
            "done": written.rows,
            "file_name": target.name,
            "sha256": digest,
            "error": written.warning,
        }
    except SealingError as exc:
        values = {"status": "failed", "error": f"{exc}: give every private key the data was sealed to"}
    except ExportRefused as exc:
        values = {"status": "failed", "error": str(exc)}
    except Exception as exc:  # the export failed; the console says so and the traceback goes to the log
        log.exception("export %s of %s failed", export_id, loaded.slug)
        values = {"status": "failed", "error": f"{type(exc).__name__}: the export failed; see the server log"}
    if values["status"] != "done":
        partial.unlink(missing_ok=True)
    with database.sessions() as session, session.begin():
        session.execute(
            update(StaffExport)
            .where(StaffExport.id == export_id)
            .values(finished_at=utcnow(), heartbeat_at=utcnow(), **values)
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def path_of(app: Flask, export: StaffExport) -> Path | None:
    """The finished file, while it is there."""
    if export.status != "done" or export.removed_at is not None or not export.file_name:
        return None
    path = folder(app) / export.file_name
    return path if path.is_file() else None


def remove_expired(app: Flask, session: Session, now: dt.datetime | None = None) -> int:
    """Delete finished files older than :data:`KEPT_FOR`, and mark exports that stopped writing progress (their
    process ended) as failed; returns how many files were deleted. The caller commits."""
    now = now or utcnow()
    removed = 0
    exports_folder = folder(app)
    for export in session.scalars(
        select(StaffExport).where(
            StaffExport.status == "done", StaffExport.removed_at.is_(None), StaffExport.finished_at < now - KEPT_FOR
        )
    ):
        if export.file_name:
            (exports_folder / export.file_name).unlink(missing_ok=True)
        export.removed_at = now
        removed += 1
    for export in session.scalars(
        select(StaffExport).where(StaffExport.status == "running", StaffExport.heartbeat_at < now - STALLED_AFTER)
    ):
        export.status, export.finished_at = "failed", now
        export.error = "stopped without finishing (the server was restarted?); start it again"
        for stale in exports_folder.glob(f"{export.id}-*.part"):
            stale.unlink(missing_ok=True)
    return removed
