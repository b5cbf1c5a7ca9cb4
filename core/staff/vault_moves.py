"""Moving into the participants' vaults what was kept for them under the foundation's key (issue 21, items 2 and 4):
``flask vault move`` and the console's button of the same name, both with the private key file, run by staff.

- **Held files** (deposited while their owner had no vault: :mod:`core.cli.vault`) whose owner now has one: each
  streams out of the store, is decrypted with the holding key derived from the key file (:mod:`core.vault.holding`;
  every file given is tried by key id, so files held before a key rotation move too) and encrypted again to the vault
  key on the way into a new store object, a chunk at a time: no plaintext byte on disk, memory a few chunks
  whatever the size.
- **Mandates**: each signed sign-up (not withdrawn, not erased) whose address has a vault gets a copy of its signed
  mandate PDF, opened from the sealed copy, in that vault (``mandate-<campaign>.pdf``), once.
- **Mail**: one arrival mail per participant with something new (:mod:`core.staff.vault_mail`).

Why it survives being killed at any point: a held file's row records the new object's key (``other_key``) before
a byte is written, then switches to it in one commit, then deletes the old object. A run that finds ``other_key``
set finishes the job: before the switch it deletes the half-written copy and moves the file again; after it, it
deletes the old one. No file is lost (the row always names a whole copy) or doubled (one row per file). A mandate's
object key is derived from its deposit token, so a run cut off between storing and recording it overwrites the same
object next time instead of leaving one behind; files moved but not yet mailed about are mailed by the next run.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data import personal_data, run_leases, vault_files, vault_keys
from core.data.db import db_session, utcnow
from core.data.models import RunLease, Signup, VaultFile
from core.sealing import OpeningKeys, SealingError
from core.signup.mandate_copy import put_mandate_in_vault
from core.site import site
from core.staff import audit
from core.staff.exports import Write, Written
from core.staff.vault_mail import mail_participants
from core.vault.holding import HoldingKeys
from core.vault.store import VaultStore, new_key
from core.vault.stream_format import DecryptingReader, EncryptingReader


@dataclass
class MoveOutcome:
    """What a run did; ``problems`` are lines of the report, naming a file by its row id or a sign-up by its
    reference (as the console shows it), never a file name or an address."""

    moved: int = 0
    mandates: int = 0
    finished: int = 0  # moves cut off by an earlier run, finished by this one
    mails: int = 0
    problems: list[str] = field(default_factory=list)

    def count(self) -> int:
        return self.moved + self.mandates

    def summary(self) -> str:
        return (
            f"{self.moved} held file(s) and {self.mandates} mandate(s) moved into vaults, {self.finished} move(s) cut "
            f"off before finished, {self.mails} arrival mail(s) queued; {len(self.problems)} problem(s)"
        )


LEASE = "vault-move"
LEASE_LASTS = dt.timedelta(minutes=15)  # renewed after every file: a file of 2 GB moves in a few minutes at most


class MoveBusy(Exception):
    """Another move is running (its cleanup of cut-off moves would delete the copies this one writes, and the other
    way round): this one did nothing."""

    def __init__(self, lease: RunLease) -> None:
        who = lease.holder.split("|", 1)[0]
        super().__init__(
            f"another move into the vaults is running (started {lease.started_at:%Y-%m-%d %H:%M} UTC by {who}); "
            "nothing was done: run this one again once it has finished"
        )


def move_into_vaults(
    session: Session,
    store: VaultStore,
    keys: OpeningKeys,
    moved_by: str,
    campaigns: Collection[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> MoveOutcome:
    """Finish moves cut off before, move every held file whose owner has a vault, copy in the mandates, and mail
    each participant with something new; only of ``campaigns`` when given. Each file is committed on its own: a
    file that cannot be moved is a problem of its own, the others go on. ``progress`` gets the files done so far."""
    holding = HoldingKeys.of(keys)
    holder = f"{moved_by}|{secrets.token_hex(8)}"[:140]
    held_by = run_leases.take(session, LEASE, holder, utcnow(), LEASE_LASTS)
    if held_by is not None:
        raise MoveBusy(held_by)
    outcome = MoveOutcome()
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done)
        if not run_leases.renew(session, LEASE, holder, utcnow(), LEASE_LASTS):
            raise RuntimeError("the move's lease was taken over by another run; this one stopped (run it again)")

    try:
        for file in vault_files.half_moved(session, campaigns):
            _clean_up(session, store, file)
            outcome.finished += 1
        for file in vault_files.held_with_vault(session, campaigns):
            _move(session, store, holding, file, outcome)
            step()
        for signup in vault_files.signups_without_mandate(session, campaigns):
            _copy_mandate(session, store, keys, signup, moved_by, outcome)
            step()
        unmailed = _by_signup(session, vault_files.unmailed(session, campaigns))
        outcome.mails = mail_participants(session, unmailed).arrivals
    finally:
        session.rollback()
        run_leases.give_back(session, LEASE, holder)
    return outcome


def _clean_up(session: Session, store: VaultStore, file: VaultFile) -> None:
    """Delete the copy a cut-off move left: the half-written new one (still held: it is moved again), or the old
    held one (already switched)."""
    assert file.other_key is not None
    store.delete(file.other_key)
    file.other_key = None
    session.commit()


def _move(session: Session, store: VaultStore, holding: HoldingKeys, file: VaultFile, outcome: MoveOutcome) -> None:
    vault = vault_keys.vault_key_of(session, file.email_hash)
    assert vault is not None and file.held_key_id is not None  # vault_files.held_with_vault
    try:
        private = holding.private_for(file.held_key_id)
    except SealingError as error:
        outcome.problems.append(f"file {file.id}: {error}")
        return
    new = new_key()
    file.other_key = new  # recorded before a byte is written: a run cut off from here on finds it
    session.commit()
    try:
        with store.open(file.store_key) as stored:
            reader = EncryptingReader(DecryptingReader(stored, private), vault.public_raw)
            store.put(new, reader)  # type: ignore[arg-type]
        info = reader.info
        if info.size_plain != file.size_plain:
            raise ValueError(f"{info.size_plain} bytes opened where {file.size_plain} were deposited")
    except Exception as error:  # a damaged or missing held copy, a store that fails: this file's problem only
        store.delete(new)
        file.other_key = None
        session.commit()
        outcome.problems.append(f"file {file.id}: could not be moved ({error}); it stays held")
        return
    old = file.store_key
    file.store_key, file.other_key, file.held_key_id = new, old, None
    file.size_cipher, file.sha256_cipher, file.notified_at = info.size_cipher, info.sha256_cipher, None
    session.commit()  # the switch: from here the file is in the vault
    store.delete(old)
    file.other_key = None
    session.commit()
    outcome.moved += 1


def _copy_mandate(
    session: Session, store: VaultStore, keys: OpeningKeys, signup: Signup, moved_by: str, outcome: MoveOutcome
) -> None:
    where = f"mandate of {signup.token[:12]}"
    try:
        pdf = personal_data.open_mandate(session, signup, keys)
    except SealingError as error:
        outcome.problems.append(f"{where}: {error}")
        return
    if pdf is None:
        return  # signed before mandates were kept, or erased since
    vault = vault_keys.vault_key_of(session, signup.email_hash)
    assert vault is not None  # vault_files.signups_without_mandate
    try:
        stored = put_mandate_in_vault(session, store, signup, vault.public_raw, pdf, moved_by)
    except Exception as error:
        outcome.problems.append(f"{where}: could not be stored ({error}); run the move again")
        return
    if stored is None:
        return  # copied in before
    session.commit()
    outcome.mandates += 1


def _by_signup(session: Session, files: list[VaultFile]) -> dict[int, list[VaultFile]]:
    """``files`` by the id of the sign-up of their campaign and address (the one mail goes to its contact copy)."""
    grouped: dict[int, list[VaultFile]] = {}
    for file in files:
        signup_id = session.scalar(
            select(Signup.id).where(
                Signup.campaign == file.campaign, Signup.email_hash == file.email_hash, Signup.erased_at.is_(None)
            )
        )
        if signup_id is not None:
            grouped.setdefault(signup_id, []).append(file)
    return grouped


# -- the console's button: the move as a background export (core.staff.exports), its file the run's report --------
def console_writer(campaign_app: Flask, actor: str) -> Write:
    """The export writer of a move started on the console by ``actor`` (``staff:<id>``): it moves the campaign's
    files and mandates with the key file given, records the run in the audit log, and writes its report. It runs
    in ``campaign_app``'s context: the arrival mails link the campaign's pages, which only that app can build."""

    def write(loaded: LoadedCampaign, keys: OpeningKeys, path: Path, progress: Callable[[int], None]) -> Written:
        with campaign_app.app_context():
            session = db_session()
            try:
                outcome = move_into_vaults(session, site().vault_store, keys, actor, [loaded.slug], progress)
            except MoveBusy as busy:
                path.write_text(f"Move into the vaults, {loaded.slug}: {busy}\n", encoding="utf-8")
                return Written(0, str(busy))
            audit.record(session, actor, "vault-move", campaign=loaded.slug, detail=outcome.summary())
            session.commit()
        with path.open("w", encoding="utf-8") as report:
            report.write(f"Move into the vaults, {loaded.slug}, {utcnow().isoformat(timespec='seconds')}\n")
            report.write(outcome.summary() + "\n")
            report.writelines(f"{problem}\n" for problem in outcome.problems)
        warning = f"{len(outcome.problems)} problem(s), listed in the report" if outcome.problems else None
        return Written(outcome.count(), warning)

    return write
