"""The participants' vault keys: the one module that reads or writes ``vault_keys``.

One vault per address (its keyed hash, as ``signups.email_hash``). Its public key never changes once set up: files
already encrypted to it must stay readable. Only the wrapped copies of the private key change, when the participant
chooses a new passphrase. What is stored was checked by :mod:`core.vault.wrapped_keys` first.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.data.models import VaultKey


class SetUp(StrEnum):
    DONE = "done"
    EXISTS = "exists"  # this address has a vault already (set up in another tab, perhaps at the same moment)


class Wrapping(StrEnum):
    """Which wrapped copy of the private key :func:`rewrap` replaces."""

    PASSPHRASE = "passphrase"  # noqa: S105 (a name, not a password)
    RECOVERY = "recovery"


def vault_key_of(session: Session, email_hash: str) -> VaultKey | None:
    """The vault of the address whose keyed hash is ``email_hash``, or None: not set up."""
    return session.get(VaultKey, email_hash)


def set_up(
    session: Session, email_hash: str, public_raw: bytes, by_passphrase: str, by_recovery: str, now: dt.datetime
) -> SetUp:
    """Create the vault of ``email_hash``, committed; :attr:`SetUp.EXISTS` (and nothing changed) when it has one.
    Two tabs setting up at once are told apart by the primary key: the second one's insert fails, not overwrites."""
    if vault_key_of(session, email_hash) is not None:
        return SetUp.EXISTS
    session.add(
        VaultKey(
            email_hash=email_hash,
            public_raw=public_raw,
            wrapped_by_passphrase=by_passphrase,
            wrapped_by_recovery=by_recovery,
            created_at=now,
            updated_at=now,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return SetUp.EXISTS
    return SetUp.DONE


def rewrap(session: Session, email_hash: str, wrapping: Wrapping, wrapped_json: str, now: dt.datetime) -> bool:
    """Replace one wrapped copy of ``email_hash``'s private key (the caller commits); False when there is no vault.
    The public key stays as it is."""
    vault = vault_key_of(session, email_hash)
    if vault is None:
        return False
    if wrapping is Wrapping.PASSPHRASE:
        vault.wrapped_by_passphrase = wrapped_json
    else:
        vault.wrapped_by_recovery = wrapped_json
    vault.updated_at = now
    return True


def forget(session: Session, email_hash: str) -> None:
    """Delete the vault of ``email_hash`` (erasure of the address; the caller commits). Files encrypted to it can
    then never be opened by anyone."""
    session.execute(delete(VaultKey).where(VaultKey.email_hash == email_hash))
