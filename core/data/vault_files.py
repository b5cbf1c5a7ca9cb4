"""The files in participants' vaults: the one module that reads or writes ``vault_files``.

A row says where a file's ciphertext is in the vault store and what its owner is shown about it; the store itself
(:mod:`core.vault.store`, handed in: this layer sits below it) holds only the encrypted bytes. Every read takes the
owner's address hash, so no caller can list or fetch another address's file by its id.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.data.models import VaultFile

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
    """The files of the vault of ``email_hash``, newest first."""
    return list(
        session.scalars(
            select(VaultFile)
            .where(VaultFile.email_hash == email_hash)
            .order_by(VaultFile.deposited_at.desc(), VaultFile.id.desc())
        )
    )


def get(session: Session, email_hash: str, file_id: int) -> VaultFile | None:
    """The file ``file_id`` when it is in the vault of ``email_hash``; None for another address's file too."""
    return session.scalar(select(VaultFile).where(VaultFile.id == file_id, VaultFile.email_hash == email_hash))


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


def remove_all(session: Session, store: VaultStore, email_hash: str) -> int:
    """Erasure: delete every stored file of ``email_hash``'s vault from ``store`` and their rows (the caller
    commits); returns how many. The store's files go first: should the transaction then fail, the rows still name
    files that are gone (harmless: the vault's key is forgotten in the same erasure), never the reverse, which would
    leave ciphertext that nothing points to."""
    keys = list(session.scalars(select(VaultFile.store_key).where(VaultFile.email_hash == email_hash)))
    for key in keys:
        store.delete(key)
    session.execute(delete(VaultFile).where(VaultFile.email_hash == email_hash))
    return len(keys)
