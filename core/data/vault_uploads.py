"""Console uploads into participants' vaults while they are under way: the one module that reads or writes
``vault_uploads`` (:class:`core.data.models.VaultUpload` says what a row holds).

Between two pieces of an upload nothing is kept in any process's memory: each request reads the row, writes its
piece to the store, and moves the row on with one conditional update (:func:`advance`), so two app processes may
serve one upload's pieces, and a piece sent twice (its answer lost) moves nothing twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.data.models import VaultUpload


def add(session: Session, upload: VaultUpload) -> VaultUpload:
    """Record an upload whose unfinished file the store has begun (the caller commits)."""
    session.add(upload)
    return upload


def by_token(session: Session, token: str) -> VaultUpload | None:
    return session.scalar(select(VaultUpload).where(VaultUpload.token == token))


def unfinished_with(session: Session, deposit_token: str) -> list[VaultUpload]:
    """The unfinished uploads of the same deposit (the same file for the same sign-up), started before."""
    return list(
        session.scalars(
            select(VaultUpload).where(VaultUpload.deposit_token == deposit_token, VaultUpload.finished_at.is_(None))
        )
    )


def advance(session: Session, upload_id: int, number: int, now: dt.datetime) -> bool:
    """Piece ``number`` is stored: the upload expects the next one (the caller commits). False when the upload was
    finished, aborted or moved past this piece meanwhile (by another request)."""
    moved = session.execute(
        update(VaultUpload)
        .where(
            VaultUpload.id == upload_id,
            VaultUpload.finished_at.is_(None),
            VaultUpload.pieces_received.in_([number, number + 1]),
        )
        .values(pieces_received=number + 1, touched_at=now)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def claim_finish(session: Session, upload_id: int, now: dt.datetime) -> bool:
    """Mark the upload as being finished, for one request only (the caller commits at once): False when another
    request claimed it first."""
    claimed = session.execute(
        update(VaultUpload)
        .where(VaultUpload.id == upload_id, VaultUpload.finished_at.is_(None))
        .values(finished_at=now, touched_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def abandoned(session: Session, before: dt.datetime) -> list[VaultUpload]:
    """Uploads untouched since ``before``: unfinished ones (a closed tab, a lost connection), finishes that died
    midway, and finished ones kept only to answer a finish sent again."""
    return list(session.scalars(select(VaultUpload).where(VaultUpload.touched_at < before)))


def remove(session: Session, upload_id: int) -> None:
    """Forget the upload (the caller commits; the store's unfinished file must be gone first)."""
    session.execute(delete(VaultUpload).where(VaultUpload.id == upload_id))
