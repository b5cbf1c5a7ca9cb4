"""A company's answer uploaded from the console into a participant's vault, encrypted in the staff member's browser
(issue 21): the server side of the upload, piece by piece.

Why this shape: an answer may be 2 GB, and its plaintext must never reach the server, let alone a disk. The browser
encrypts the file as it reads it (``ClaimsiteVault.encryptStream``, the format of ``core/vault/FORMAT.md``) to the
key :func:`core.staff.vault_deposits.recipient_key` names, and sends the ciphertext in pieces of
:data:`PIECE_SIZE` bytes, one request each, in order. A piece is read from the request's body in blocks straight into
the store's unfinished file (:meth:`core.vault.store.VaultStore.put_part`): no form parsing, so Werkzeug never
spools it, and nothing is held between requests but the row (:mod:`core.data.vault_uploads`), so any app process
may take any piece. Finishing makes the file show in the store, reads it back once to check its header and size and
to compute its SHA-256, and records it as ``flask vault deposit`` does (:mod:`core.staff.vault_deposits`): the same
deposit token, so a file deposited either way is not deposited twice.

The server cannot check that the ciphertext opens (it has no key to open it): it checks what it can (the header's
magic, chunk size and ephemeral key, the exact size the announced plaintext makes), and the participant's browser
refuses a file that does not open, as it refuses any damaged file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.data import vault_files, vault_keys, vault_uploads
from core.data.models import Signup, StaffMember, VaultFile, VaultUpload
from core.site import site
from core.staff.lookup import REFERENCE_LENGTH
from core.staff.vault_deposits import (
    MAX_COMPANY,
    MAX_NAME,
    deposit_token,
    media_type_of,
    queue_arrival_mail,
    recipient_key,
    record,
)
from core.vault.store import COPY_BLOCK, PartsRefused, VaultStore, new_key
from core.vault.stream_format import (
    DEFAULT_CHUNK_SIZE,
    HEADER_SIZE,
    EncryptedInfo,
    VaultFormatError,
    encrypted_size,
    parse_header,
    read_exactly,
)

MAX_PLAIN = 2 << 30  # 2 GiB of plaintext per file: a company's largest answers (video exports) fit
PIECE_SIZE = 8 << 20  # ciphertext per request: each is one S3 part (S3 wants 5 MiB or more, but the last)
CHUNK_SIZE = DEFAULT_CHUNK_SIZE  # the vault file's chunk size the browser must use (so the size is known ahead)
ABANDONED_AFTER = dt.timedelta(days=1)
UNANNOUNCED_AFTER = dt.timedelta(hours=1)  # a staff member's batch of files is in long before this
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}")
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


class UploadRefused(Exception):
    """What a staff member is told when the server will not take (a piece of) an upload; ``status`` is the HTTP
    status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Finished:
    """A finished upload: the vault's file, and whether it was there before (deposited earlier, by the console or
    the command line)."""

    file: VaultFile
    already: bool


def pieces_of(upload: VaultUpload) -> int:
    return -(-upload.size_cipher // upload.piece_size)


def piece_length(upload: VaultUpload, number: int) -> int:
    """How many bytes piece ``number`` holds: :data:`PIECE_SIZE`, but the last; 0 beyond the last."""
    return max(0, min(upload.piece_size, upload.size_cipher - number * upload.piece_size))


def clean_name(name: str) -> str:
    """The file's name as the participant will see it: no folders, no control characters, at most 200 characters."""
    return _UNSAFE_IN_NAME.sub("_", name.strip())[:MAX_NAME]


def start(
    session: Session,
    store: VaultStore,
    staff: StaffMember,
    signup: Signup,
    *,
    company: str,
    name: str,
    size_plain: int,
    media_type: str,
    now: dt.datetime,
) -> VaultUpload | VaultFile:
    """Begin the upload of one file for ``signup`` (committed); the vault's file instead when this deposit was
    made before (nothing to send). An unfinished upload of the same deposit (a tab closed midway, or the same file
    chosen again) is aborted: the newest one goes on. Raises :class:`UploadRefused` with what is wrong."""
    company, name = company.strip(), clean_name(name)
    if not company or len(company) > MAX_COMPANY:
        raise UploadRefused(f"Choose the company, or type its name (at most {MAX_COMPANY} characters).")
    if not name:
        raise UploadRefused("The file has no name: rename it and choose it again.")
    if not 0 <= size_plain <= MAX_PLAIN:
        raise UploadRefused(f"{name} is larger than {MAX_PLAIN >> 30} GB, the most one file may be: split it.")
    if signup.erased_at is not None:
        raise UploadRefused("This sign-up was erased: nothing can be put in its vault.", 409)
    recipient = recipient_key(session, signup)
    if recipient is None:
        raise UploadRefused(
            "This participant has no vault yet, and no holding key is configured to keep the file for them until they "
            "set one up (CLAIMSITE_VAULT_HOLDING_KEY): nothing can be deposited for them now.",
            409,
        )
    token = deposit_token(signup.campaign, signup.token[:REFERENCE_LENGTH], company, name, size_plain)
    before = vault_files.deposited(session, token)
    if before is not None:
        return before
    for earlier in vault_uploads.unfinished_with(session, token):
        store.abort_parts(earlier.store_key, earlier.store_handle)
        vault_uploads.remove(session, earlier.id)
    key = new_key()
    upload = vault_uploads.add(
        session,
        VaultUpload(
            token=secrets.token_hex(16),
            staff_id=staff.id,
            signup_id=signup.id,
            email_hash=signup.email_hash,
            campaign=signup.campaign,
            public_raw=recipient.public_raw,
            company=company,
            file_name=name,
            media_type=media_type if _MEDIA_TYPE.fullmatch(media_type or "") else media_type_of(name),
            size_plain=size_plain,
            size_cipher=encrypted_size(size_plain, CHUNK_SIZE),
            chunk_size=CHUNK_SIZE,
            piece_size=max(PIECE_SIZE, store.min_part_size),
            pieces_received=0,
            store_key=key,
            store_handle=store.start_parts(key),
            deposit_token=token,
            started_at=now,
            touched_at=now,
        ),
    )
    try:
        session.commit()
    except BaseException:
        session.rollback()
        store.abort_parts(upload.store_key, upload.store_handle)
        raise
    return upload


def put_piece(
    session: Session, store: VaultStore, upload: VaultUpload, number: int, source: BinaryIO, length: int | None
) -> int:
    """Store piece ``number`` of ``upload``, ``length`` bytes read from ``source`` (a request's body, as a
    stream); returns how many pieces have arrived. The piece expected next is taken, and the one before it again
    (its answer was lost, and the browser retried): any other is refused, as is a piece of another length than
    the announced size makes it."""
    if upload.finished_at is not None:
        raise UploadRefused("This upload is finished already.", 409)
    expected = piece_length(upload, number)
    if number not in (upload.pieces_received, upload.pieces_received - 1):
        raise UploadRefused(f"Piece {number} came out of order: piece {upload.pieces_received} was expected next.", 409)
    if expected == 0:
        raise UploadRefused(f"Piece {number} goes beyond the size announced for this file.", 400)
    if length != expected:
        raise UploadRefused(f"Piece {number} must be {expected} bytes long, not {length}.", 400)
    try:
        store.put_part(upload.store_key, upload.store_handle, number, number * upload.piece_size, source, expected)
    except PartsRefused as error:
        raise UploadRefused(f"Piece {number} was not stored: {error}.", 400) from None
    if not vault_uploads.advance(session, upload.id, number, _now()):
        session.rollback()
        raise UploadRefused("This upload was finished, aborted or replaced meanwhile.", 409)
    session.commit()
    return max(upload.pieces_received, number + 1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_back(store: VaultStore, upload: VaultUpload) -> EncryptedInfo:
    """The stored file's size and SHA-256, read back as a stream, once its header was checked."""
    digest, size = hashlib.sha256(), 0
    with store.open(upload.store_key) as stored:
        header = read_exactly(stored, HEADER_SIZE)
        parsed = parse_header(header)
        if parsed.chunk_size != upload.chunk_size:
            raise VaultFormatError(
                "bad_header", f"it was encrypted in chunks of {parsed.chunk_size} bytes, not {upload.chunk_size}"
            )
        digest.update(header)
        size += len(header)
        while block := stored.read(COPY_BLOCK):
            digest.update(block)
            size += len(block)
    if size != upload.size_cipher:
        raise VaultFormatError("truncated", f"it is {size} bytes long, not {upload.size_cipher}")
    return EncryptedInfo(upload.size_plain, size, digest.hexdigest())


def finish(session: Session, store: VaultStore, upload: VaultUpload, *, deposited_by: str) -> Finished:
    """Make the upload a file of the participant's vault (committed), once every piece arrived. A finish sent again
    gets the first one's answer. Raises :class:`UploadRefused`; a file that fails its checks is thrown away, and
    must be uploaded again. The arrival mail waits for :func:`notify`, once the staff member's last file is in."""
    if upload.finished_at is not None:
        found = session.get(VaultFile, upload.vault_file_id) if upload.vault_file_id else None
        if found is None:
            raise UploadRefused("This upload is being finished by another request: look at it again in a minute.", 409)
        return Finished(found, already=True)
    pieces = pieces_of(upload)
    if upload.pieces_received != pieces:
        raise UploadRefused(f"Only {upload.pieces_received} of the {pieces} pieces arrived: send the rest first.", 409)
    if not vault_uploads.claim_finish(session, upload.id, _now()):
        session.rollback()
        raise UploadRefused("This upload is being finished by another request: look at it again in a minute.", 409)
    session.commit()
    signup = session.get(Signup, upload.signup_id)
    try:
        store.finish_parts(upload.store_key, upload.store_handle, pieces, upload.size_cipher)
        info = _read_back(store, upload)
        if signup is None or signup.erased_at is not None:
            raise UploadRefused("The participant's vault is gone (erased) since the upload began.", 409)
        held_key_id = _held_under(session, signup, upload.public_raw)
    except (PartsRefused, VaultFormatError) as error:
        _discard(session, store, upload)
        raise UploadRefused(f"The file was not stored: it is not a whole vault file ({error}).", 400) from None
    except BaseException:  # the store failed, or this request is stopped: the upload cannot go on
        _discard(session, store, upload)
        raise
    assert signup is not None
    try:
        stored = record(
            session,
            signup,
            company=upload.company,
            name=upload.file_name,
            media_type=upload.media_type,
            store_key=upload.store_key,
            info=info,
            token=upload.deposit_token,
            deposited_by=deposited_by,
            held_key_id=held_key_id,
        )
        session.flush()
        upload.vault_file_id = stored.id
        session.commit()
        already = False
    except IntegrityError:  # the same deposit was recorded meanwhile (the command line, another tab): keep that one
        session.rollback()
        store.delete(upload.store_key)
        existing = vault_files.deposited(session, upload.deposit_token)
        if existing is None:
            raise
        upload.vault_file_id, stored, already = existing.id, existing, True
        session.commit()
    return Finished(stored, already)


def _held_under(session: Session, signup: Signup, public_raw: bytes) -> str | None:
    """The holding key id a file encrypted to ``public_raw`` is held under, None when ``public_raw`` is the owner's
    vault key (which the owner may have set up while the file was uploaded to the holding key: it is then held, and
    moved in by staff as any other). Raises :class:`UploadRefused` for a key that is neither any more (a vault
    erased and made again meanwhile)."""
    vault = vault_keys.vault_key_of(session, signup.email_hash)
    if vault is not None and vault.public_raw == public_raw:
        return None
    holding = site().vault_holding_key
    if holding is not None and holding.public_raw == public_raw:
        return holding.id
    raise UploadRefused("The participant's vault changed since the upload began: upload the file again.", 409)


def notify(session: Session, signup: Signup) -> bool:
    """Queue the arrival mail for the files of ``signup``'s vault not told about yet (committed): one mail for all
    the files a staff member uploaded in one go. False when there is nothing new, or no way to mail."""
    files = vault_files.unnotified(session, signup.email_hash)
    if not files or not queue_arrival_mail(session, signup, files):
        return False
    session.commit()
    return True


def _discard(session: Session, store: VaultStore, upload: VaultUpload) -> None:
    """Throw a failed upload away: its unfinished or finished file, then its row (committed)."""
    store.abort_parts(upload.store_key, upload.store_handle)
    store.delete(upload.store_key)
    vault_uploads.remove(session, upload.id)
    session.commit()


def abort(session: Session, store: VaultStore, upload: VaultUpload) -> None:
    """Stop an upload (the staff member cancelled, or the browser gave up): its parts are thrown away. A finished
    upload stays finished: its file is the vault's now."""
    if upload.finished_at is not None:
        return
    _discard(session, store, upload)


def remove_abandoned(session: Session, store: VaultStore, now: dt.datetime, dry_run: bool = False) -> int:
    """Throw away the uploads untouched for :data:`ABANDONED_AFTER` (a tab closed, a finish that died midway),
    and forget the finished ones kept to answer a repeated finish; returns how many were unfinished."""
    unfinished = 0
    for upload in vault_uploads.abandoned(session, now - ABANDONED_AFTER):
        if upload.vault_file_id is None:
            unfinished += 1
            if dry_run:
                continue
            store.abort_parts(upload.store_key, upload.store_handle)
            store.delete(upload.store_key)  # a finish that died after the file showed, before it was recorded
        if not dry_run:
            vault_uploads.remove(session, upload.id)
            session.commit()
    return unfinished


def announce_forgotten(session: Session, now: dt.datetime, dry_run: bool = False) -> int:
    """Queue the arrival mail of files deposited :data:`UNANNOUNCED_AFTER` ago or more that no mail told about
    yet: a console upload whose page was closed before its last file (the mail waits for the last one), or a
    deposit run that stopped before its mails. One mail per participant, through the sign-up of the file's campaign;
    returns how many were queued (would be, with ``dry_run``)."""
    owners: dict[tuple[str, str], list[VaultFile]] = {}
    for file in vault_files.unnotified_before(session, now - UNANNOUNCED_AFTER):
        owners.setdefault((file.email_hash, file.campaign), []).append(file)
    queued = 0
    for (email_hash, campaign), files in owners.items():
        signup = session.scalar(
            select(Signup)
            .where(Signup.email_hash == email_hash, Signup.campaign == campaign, Signup.erased_at.is_(None))
            .order_by(Signup.id)
            .limit(1)
        )
        if signup is None:
            continue
        if dry_run:
            queued += 1
        elif queue_arrival_mail(session, signup, files):
            session.commit()
            queued += 1
    return queued
