"""The files in participants' vaults: the one module that reads or writes ``vault_files``.

A row says where a file's ciphertext is in the vault store and what its owner is shown about it; the store itself
(:mod:`core.vault.store`, handed in: this layer sits below it) holds only the encrypted bytes. Every read for the
owner's page takes the owner's address hash, so no caller can list or fetch another address's file by its id.

A file *held* for an owner without a vault (``held_key_id`` set) is encrypted to the foundation's holding key, which
the owner cannot open: it is counted on their page, never listed or served, until staff move it into the vault
(:mod:`core.staff.vault_moves` uses the functions at the end of this module).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.orm import Session

from core.data.models import FileKind, Signup, Stage, VaultFile, VaultKey

if TYPE_CHECKING:
    from core.vault.store import VaultStore


def add(session: Session, file: VaultFile) -> VaultFile:
    """Record a file already stored under ``file.store_key`` (the caller commits)."""
    session.add(file)
    return file


def deposited(session: Session, deposit_token: str) -> VaultFile | None:
    """The file deposited before with this token (:class:`VaultFile` says how it is made), or None."""
    return session.scalar(select(VaultFile).where(VaultFile.deposit_token == deposit_token))


def files_of(session: Session, email_hash: str) -> list[VaultFile]:
    """The files in the vault of ``email_hash`` (not those held for it), newest first."""
    return list(
        session.scalars(
            select(VaultFile)
            .where(VaultFile.email_hash == email_hash, VaultFile.held_key_id.is_(None))
            .order_by(VaultFile.deposited_at.desc(), VaultFile.id.desc())
        )
    )


def arrived_before(session: Session, campaign: str, before: dt.datetime) -> list[VaultFile]:
    """The files that came for ``campaign`` before ``before``, oldest first (retention asks which may be due)."""
    return list(
        session.scalars(
            select(VaultFile)
            .where(VaultFile.campaign == campaign, VaultFile.deposited_at < before)
            .order_by(VaultFile.deposited_at, VaultFile.id)
        )
    )


def get(session: Session, email_hash: str, file_id: int) -> VaultFile | None:
    """The file ``file_id`` when it is in the vault of ``email_hash``; None for another address's file, and for a
    file still held (its owner could not open it)."""
    return session.scalar(
        select(VaultFile).where(
            VaultFile.id == file_id, VaultFile.email_hash == email_hash, VaultFile.held_key_id.is_(None)
        )
    )


def held_count(session: Session, email_hash: str) -> int:
    """How many files are held for ``email_hash``, waiting to be moved into its vault."""
    return (
        session.scalar(
            select(func.count()).where(VaultFile.email_hash == email_hash, VaultFile.held_key_id.is_not(None))
        )
        or 0
    )


def invited(session: Session, email_hash: str) -> bool:
    """Whether ``email_hash`` was mailed an invitation to set up a vault for a file held for it (one invitation
    until the files are moved in: a file held later needs no second one)."""
    return (
        session.scalar(
            select(VaultFile.id)
            .where(
                VaultFile.email_hash == email_hash,
                VaultFile.held_key_id.is_not(None),
                VaultFile.notified_at.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def unnotified(session: Session, email_hash: str) -> list[VaultFile]:
    """The files of the vault of ``email_hash`` whose arrival mail was not queued yet."""
    return list(
        session.scalars(
            select(VaultFile)
            .where(VaultFile.email_hash == email_hash, VaultFile.notified_at.is_(None))
            .order_by(VaultFile.id)
        )
    )


def unnotified_before(session: Session, before: dt.datetime) -> list[VaultFile]:
    """Every file deposited before ``before`` whose arrival mail was not queued yet, oldest first."""
    return list(
        session.scalars(
            select(VaultFile)
            .where(VaultFile.notified_at.is_(None), VaultFile.deposited_at < before)
            .order_by(VaultFile.id)
        )
    )


def mark_notified(session: Session, files: list[VaultFile], now: dt.datetime) -> None:
    """The arrival mail of ``files`` was queued (the caller commits)."""
    for file in files:
        file.notified_at = now


def count_of_signup(session: Session, signup_id: int) -> int:
    """How many files came for sign-up ``signup_id`` (what withdrawing it removes)."""
    return session.scalar(select(func.count()).select_from(VaultFile).where(VaultFile.signup_id == signup_id)) or 0


def remove(session: Session, store: VaultStore, ids: Collection[int]) -> int:
    """Delete the files ``ids`` from ``store`` and their rows (the caller commits); returns how many. The stored
    files go first (held files too, and both copies of one caught midway through its move into a vault): should the
    transaction then fail, the rows still name files that are gone (running this again deletes them), never the
    reverse, which would leave ciphertext that nothing points to."""
    rows = session.execute(select(VaultFile.store_key, VaultFile.other_key).where(VaultFile.id.in_(ids))).all()
    for key, other in rows:
        store.delete(key)
        if other is not None:
            store.delete(other)
    if ids:
        session.execute(delete(VaultFile).where(VaultFile.id.in_(ids)).execution_options(synchronize_session=False))
    return len(rows)


def remove_of_signup(session: Session, store: VaultStore, signup_id: int) -> int:
    """Withdrawal: delete the files that came for sign-up ``signup_id`` (answers and copies alike) from ``store`` and
    their rows (the caller commits); the vault and the files of the address's other sign-ups stay. Returns how
    many."""
    return remove(session, store, list(session.scalars(select(VaultFile.id).where(VaultFile.signup_id == signup_id))))


def remove_all(session: Session, store: VaultStore, email_hash: str) -> int:
    """Erasure: delete every stored file of ``email_hash``'s vault from ``store`` and their rows (the caller
    commits); returns how many (see :func:`remove`; the vault's key is forgotten in the same erasure)."""
    return remove(session, store, list(session.scalars(select(VaultFile.id).where(VaultFile.email_hash == email_hash))))


# -- moving held files and mandates into vaults (core.staff.vault_moves) --------------------------------------------
def _of_campaigns(campaigns: Collection[str] | None) -> ColumnElement[bool]:
    return VaultFile.campaign.in_(campaigns) if campaigns is not None else VaultFile.id.is_not(None)


def half_moved(session: Session, campaigns: Collection[str] | None) -> list[VaultFile]:
    """Files whose move into a vault was cut off midway (``other_key`` set), to finish first."""
    return list(
        session.scalars(
            select(VaultFile).where(VaultFile.other_key.is_not(None), _of_campaigns(campaigns)).order_by(VaultFile.id)
        )
    )


def _held_with_vault(campaigns: Collection[str] | None) -> Select[tuple[VaultFile]]:
    return (
        select(VaultFile)
        .join(VaultKey, VaultKey.email_hash == VaultFile.email_hash)
        .where(VaultFile.held_key_id.is_not(None), _of_campaigns(campaigns))
    )


def held_with_vault(session: Session, campaigns: Collection[str] | None) -> list[VaultFile]:
    """Held files whose owner now has a vault: the ones to move in, oldest first."""
    return list(session.scalars(_held_with_vault(campaigns).order_by(VaultFile.id)))


def unmailed(session: Session, campaigns: Collection[str] | None) -> list[VaultFile]:
    """Files in a vault that no arrival mail was queued for yet (moved in by a run that stopped before its mails, or
    whose owner has no contact copy to mail), oldest first."""
    return list(
        session.scalars(
            select(VaultFile)
            .where(VaultFile.held_key_id.is_(None), VaultFile.notified_at.is_(None), _of_campaigns(campaigns))
            .order_by(VaultFile.id)
        )
    )


def _without_mandate(campaigns: Collection[str] | None) -> Select[tuple[Signup]]:
    has_copy = (
        select(VaultFile.id)
        .where(
            VaultFile.email_hash == Signup.email_hash,
            VaultFile.campaign == Signup.campaign,
            VaultFile.kind == FileKind.MANDATE,
        )
        .exists()
    )
    query = (
        select(Signup)
        .join(VaultKey, VaultKey.email_hash == Signup.email_hash)
        .where(
            Signup.stage == Stage.SIGNED,
            Signup.mandate_sha256.is_not(None),
            Signup.withdrawn_at.is_(None),
            Signup.erased_at.is_(None),
            ~has_copy,
        )
    )
    return query if campaigns is None else query.where(Signup.campaign.in_(campaigns))


def signups_without_mandate(session: Session, campaigns: Collection[str] | None) -> list[Signup]:
    """Signed sign-ups (not withdrawn, not erased) whose address has a vault that holds no copy of their mandate
    yet: the mandates to move in."""
    return list(session.scalars(_without_mandate(campaigns).order_by(Signup.id)))


def to_move(session: Session, campaign: str) -> tuple[int, int, int]:
    """For the console, counted in the database: files held for ``campaign``'s participants, those of them whose
    owner has a vault now (movable), and mandates to copy into vaults."""
    held = session.scalar(
        select(func.count()).where(VaultFile.campaign == campaign, VaultFile.held_key_id.is_not(None))
    )
    movable = session.scalar(select(func.count()).select_from(_held_with_vault([campaign]).subquery()))
    mandates = session.scalar(select(func.count()).select_from(_without_mandate([campaign]).subquery()))
    return held or 0, movable or 0, mandates or 0
