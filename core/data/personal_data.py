"""The one module that reads and writes personal data (``PersonalRecord``): no other module touches its columns.

Every personal field and file arrives here and is kept in up to three forms:

- **Sealed** (``sealed_*``): the permanent copy, sealed to the foundation's public key (:class:`core.sealing.
  SealingKey`). The web server writes it and can never read it back; staff commands open it with the private key
  file (:func:`open_record`: exports, evidence), and key rotation seals it again to a new key (:func:`reseal`).
- **Working** (``working_*``, ``pending``): what the sign-up flow itself must read back while it runs: the answers
  for the signing page and the mandate, the signature for the mandate PDF, a form waiting for its code, the
  one-off key of the participant's copy of the mandate (below) until the confirmation mail is composed. Locked
  with a key derived from ``CLAIMSITE_HASH_KEY`` (:class:`core.sealing.WorkingBox`), so the database alone does not
  open it, and **released** (deleted) once the confirmation mail is composed, or at withdrawal; a sign-up that never
  finishes is erased whole by retention. From then on the web process holds no readable personal data of it.
- **The participant's copy of the mandate** (``participant_mandate``): encrypted by the mandate job to a key pair
  made for that copy alone (:mod:`core.signup.mandate_copy`). Its private key is kept only in the working copy
  (``working_mandate_key``) until the confirmation mail, whose mandate link carries it in the fragment, is
  composed, and is released with the rest. From then on nothing the server holds opens the participant's copy.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.data.db import Dependent, Excluded, OnConflict
from core.data.hashing import keyed_hash
from core.data.models import PersonalRecord, Signup
from core.sealing import OpeningKeys, SealingKey
from core.site import site


def _encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def _seal(plaintext: bytes) -> bytes:
    return site().sealing_key.seal(plaintext)


def _lock(plaintext: bytes) -> bytes:
    return site().working_box.lock(plaintext)


def _unlock(locked: bytes | None) -> bytes | None:
    return None if locked is None else site().working_box.unlock(locked)


def _unlock_answers(locked: bytes | None) -> dict[str, Any] | None:
    plaintext = _unlock(locked)
    return None if plaintext is None else json.loads(plaintext.decode())


def _record(session: Session, signup: Signup) -> PersonalRecord | None:
    return session.get(PersonalRecord, signup.id)


def _answer_columns(data: dict[str, Any]) -> dict[str, bytes]:
    encoded = _encode(data)
    return {"sealed_answers": _seal(encoded), "working_answers": _lock(encoded)}


def form_record(data: dict[str, Any], browser: str) -> Dependent:
    """The answers of a sent form, as the row written with its sign-up (:func:`core.data.db.commit_upsert`): a new
    sign-up's answers; for a known address they wait as ``pending`` until that address is verified (so nobody
    can change another person's data by typing their e-mail address), with ``browser`` (a keyed hash of the
    browser that sent them), so that they count only where the address is proven in that same browser. The same
    row and the same work either way: the request does not show whether the address was known."""
    columns = _answer_columns(data)
    return Dependent(
        PersonalRecord.__table__,
        columns,
        parent_column="signup_id",
        on_conflict=OnConflict(("signup_id",), {"pending": Excluded("working_answers"), "pending_from": browser}),
    )


def pending_sender(session: Session, signup: Signup) -> str | None:
    """The browser (keyed hash) that sent the answers waiting for ``signup``'s address to be proven; ``""`` when
    it is not known (a form kept before browsers were recorded), ``None`` when no answers are waiting."""
    record = _record(session, signup)
    if record is None or record.pending is None:
        return None
    return record.pending_from or ""


def apply_pending(session: Session, signup: Signup) -> None:
    """After verification in the browser that sent them: the latest answers replace the earlier ones (before
    signing only)."""
    record = _record(session, signup)
    if record is not None and record.pending is not None:
        pending = _unlock(record.pending)
        assert pending is not None
        record.sealed_answers, record.working_answers, record.pending = _seal(pending), record.pending, None
        record.pending_from = None


def drop_pending(session: Session, signup: Signup) -> None:
    """Forget the answers waiting for verification (proven elsewhere, or the sign-up is signed already)."""
    record = _record(session, signup)
    if record is not None:
        record.pending = record.pending_from = None


def answers_digest(data: dict[str, Any]) -> str:
    """A keyed fingerprint of a sent form's answers, kept in the browser's session that sent them: it lets that
    browser, and no other, find its own answers again (:func:`typed_answers`) without the cookie holding any of
    them, and it reveals nothing to whoever reads the cookie."""
    return keyed_hash(site().hash_key, "typed-answers", _encode(data).decode())


def typed_answers(session: Session, signup: Signup, digest: object) -> dict[str, Any] | None:
    """The answers of ``signup`` that the browser holding ``digest`` (:func:`answers_digest`) sent itself: those
    waiting for the code, or the sign-up's own; None when neither is that browser's (another form was sent for the
    address since, the working copy was released, or the digest is missing)."""
    record = _record(session, signup)
    if record is None or not isinstance(digest, str):
        return None
    for locked in (record.pending, record.working_answers):
        answers = _unlock_answers(locked)
        if answers is not None and hmac.compare_digest(answers_digest(answers), digest):
            return answers
    return None


def drop_typed_pending(session: Session, signup: Signup, digest: str) -> None:
    """Forget the answers waiting for ``signup``'s code when they are the ones sent with ``digest`` (a correction
    sent them to another address); answers sent since by anyone else stay."""
    record = _record(session, signup)
    pending = None if record is None else _unlock_answers(record.pending)
    if pending is not None and hmac.compare_digest(answers_digest(pending), digest):
        drop_pending(session, signup)


def answers_waiting(signup_id: Any) -> ColumnElement[bool]:
    """The SQL condition that answers wait for the code of the sign-up ``signup_id`` (a column or value)."""
    return (
        select(PersonalRecord.signup_id)
        .where(PersonalRecord.signup_id == signup_id, PersonalRecord.pending.is_not(None))
        .exists()
    )


def only_typed(session: Session, signup: Signup, digest: str) -> bool:
    """Are ``signup``'s answers those sent with ``digest``, and nobody else's (none waiting for its code)?"""
    record = _record(session, signup)
    if record is None or record.pending is not None:
        return False
    answers = _unlock_answers(record.working_answers)
    return answers is not None and hmac.compare_digest(answers_digest(answers), digest)


def load(session: Session, signup: Signup) -> dict[str, Any]:
    """The working copy of the answers; empty once it was released (after the confirmation mail) or erased."""
    record = _record(session, signup)
    return (_unlock_answers(record.working_answers) or {}) if record else {}


def load_pending(session: Session, signup: Signup) -> dict[str, Any] | None:
    record = _record(session, signup)
    return _unlock_answers(record.pending) if record else None


def store_signature(session: Session, signup: Signup, png: bytes | None) -> None:
    record = _record(session, signup)
    assert record is not None
    record.sealed_signature = None if png is None else _seal(png)
    record.working_signature = None if png is None else _lock(png)


def store_typed_signature(session: Session, signup: Signup, name: str) -> None:
    """A signature typed as a name (the fallback for people who cannot draw one), kept with the answers."""
    store_answers(session, signup, {"signature_typed": name})


def store_answers(session: Session, signup: Signup, values: dict[str, Any]) -> None:
    """Add ``values`` to ``signup``'s answers while the flow runs (a typed signature, the companies chosen for a data
    request): sealed again whole from the working copy, which is kept too."""
    record = _record(session, signup)
    assert record is not None and record.working_answers is not None, "the flow needs the working copy"
    data = load(session, signup)
    data.update(values)
    record.sealed_answers, record.working_answers = _answer_columns(data).values()


def store_placeholders(session: Session, signup: Signup, values: dict[str, str]) -> None:
    """Keep the participant's values filled into the agreement texts they sign (their name, as plain text), so each
    text can be made again exactly as signed: sealed for the evidence, and a working copy for the mandate PDF."""
    record = _record(session, signup)
    assert record is not None
    encoded = _encode(values)
    record.sealed_placeholders, record.working_placeholders = _seal(encoded), _lock(encoded)


def load_placeholders(session: Session, signup: Signup) -> dict[str, str] | None:
    """The working copy of :func:`store_placeholders`' values; None once released, or for a sign-up that signed
    before they were kept."""
    record = _record(session, signup)
    return _unlock_answers(record.working_placeholders) if record else None


def load_signature(session: Session, signup: Signup) -> bytes | None:
    """The working copy of the drawn signature (for the mandate PDF); None once released."""
    record = _record(session, signup)
    return _unlock(record.working_signature) if record else None


def store_mandate(session: Session, signup: Signup, pdf: bytes, participant_copy: bytes, one_off_key: bytes) -> None:
    """Keep the signed mandate PDF: sealed for the foundation, and the participant's copy (``pdf`` encrypted by
    :func:`core.signup.mandate_copy.encrypt_copy`) with its one-off private key ``one_off_key`` in the working copy
    only, until :func:`release`."""
    record = _record(session, signup)
    assert record is not None, "the mandate is made while the sign-up's personal record is there"
    record.sealed_mandate = _seal(pdf)
    record.participant_mandate = participant_copy
    record.working_mandate_key = _lock(one_off_key)


def mandate_copy_key(session: Session, signup: Signup) -> bytes | None:
    """The one-off private key of ``signup``'s copy of the mandate, while the working copy holds it (for the
    confirmation mail and the done page); None once released, or before the mandate was made."""
    record = _record(session, signup)
    return _unlock(record.working_mandate_key) if record else None


def participant_copy(session: Session, signup: Signup) -> bytes | None:
    """The participant's copy of the mandate, encrypted (only the key in their link opens it); None when there is
    none (erased, or made before revision 0020a and dropped by it)."""
    record = _record(session, signup)
    return record.participant_mandate if record else None


def release(session: Session, signup: Signup) -> None:
    """Delete the working copy: the flow needs no more of ``signup``'s personal data (the confirmation mail is
    composed, or the mandate was withdrawn), the one-off key of the participant's copy of the mandate with it. The
    sealed copy and the participant's copy stay: from then on only the key in the participant's link opens theirs."""
    record = _record(session, signup)
    if record is not None:
        record.working_answers = record.working_signature = record.pending = record.working_placeholders = None
        record.pending_from = record.working_mandate_key = None


def kept_after_withdrawal() -> ColumnElement[bool]:
    """The SQL condition for a withdrawn sign-up, its mandate made, whose working copy is still kept (a fault
    between the withdrawal and the mandate job left it): :func:`release` it."""
    return (
        Signup.withdrawn_at.is_not(None)
        & Signup.mandate_sha256.is_not(None)
        & select(PersonalRecord.signup_id)
        .where(
            PersonalRecord.signup_id == Signup.id,
            (PersonalRecord.working_answers.is_not(None))
            | (PersonalRecord.working_signature.is_not(None))
            | (PersonalRecord.pending.is_not(None))
            | (PersonalRecord.working_mandate_key.is_not(None)),
        )
        .exists()
    )


def erase(session: Session, signup: Signup) -> None:
    """Remove every piece of ``signup``'s personal data: every copy of the answers, the signature and the mandate."""
    record = _record(session, signup)
    if record is not None:
        session.delete(record)


def addresses(session: Session, signup: Signup) -> set[str]:
    """The e-mail addresses the working copy holds (the confirmed one and one typed again, waiting for its code);
    empty once it was released."""
    found = {load(session, signup).get("email"), (load_pending(session, signup) or {}).get("email")}
    return {address for address in found if address}


# -- staff commands: opening with the private key file, and sealing again to a new key -----------------------------
@dataclass(frozen=True)
class OpenedRecord:
    """A sign-up's sealed personal data, opened with the foundation's private key."""

    answers: dict[str, Any]
    signature_png: bytes | None
    mandate_pdf: bytes | None
    placeholders: dict[str, str] | None = None  # the name(s) filled into the agreement texts (None before 0006)


def open_record(record: PersonalRecord, keys: OpeningKeys) -> OpenedRecord:
    """Open ``record``'s sealed copy (raises :class:`core.sealing.SealingError` without the right private key)."""
    return OpenedRecord(
        answers=json.loads(keys.open(record.sealed_answers).decode()),
        signature_png=None if record.sealed_signature is None else keys.open(record.sealed_signature),
        mandate_pdf=None if record.sealed_mandate is None else keys.open(record.sealed_mandate),
        placeholders=None
        if record.sealed_placeholders is None
        else json.loads(keys.open(record.sealed_placeholders).decode()),
    )


def open_mandate(session: Session, signup: Signup, keys: OpeningKeys) -> bytes | None:
    """The signed mandate PDF of ``signup`` from its sealed copy, opened with the private key file (to move a copy
    into the participant's vault: :mod:`core.staff.vault_moves`); None when there is none. Raises
    :class:`core.sealing.SealingError` without the right private key."""
    record = _record(session, signup)
    if record is None or record.sealed_mandate is None:
        return None
    return keys.open(record.sealed_mandate)


def reseal(record: PersonalRecord, keys: OpeningKeys, to: SealingKey) -> bool:
    """Seal ``record``'s sealed copy again, to ``to``; False when it was sealed to ``to`` already."""
    if keys.sealed_to(record.sealed_answers) == to.id:
        return False
    record.sealed_answers = to.seal(keys.open(record.sealed_answers))
    if record.sealed_signature is not None:
        record.sealed_signature = to.seal(keys.open(record.sealed_signature))
    if record.sealed_mandate is not None:
        record.sealed_mandate = to.seal(keys.open(record.sealed_mandate))
    if record.sealed_placeholders is not None:
        record.sealed_placeholders = to.seal(keys.open(record.sealed_placeholders))
    return True


def record_batches(
    session: Session, *conditions: Any, batch: int = 500
) -> Iterator[list[tuple[Signup, PersonalRecord]]]:
    """Sign-ups (those matching ``conditions``) with their personal records, in order, ``batch`` at a time, so that no
    command holds a whole campaign in memory: the caller commits or expunges each batch before the next."""
    query = (
        select(Signup, PersonalRecord)
        .join(PersonalRecord, PersonalRecord.signup_id == Signup.id)
        .where(*conditions)
        .order_by(Signup.id)
        .limit(batch)
    )
    last = 0
    while True:
        rows = [(signup, record) for signup, record in session.execute(query.where(Signup.id > last))]
        if not rows:
            return
        last = rows[-1][0].id
        yield rows
