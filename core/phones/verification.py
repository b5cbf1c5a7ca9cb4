"""Proving a phone number by an SMS code: start, send a code, check it, read the proved number.

The code follows the e-mail code's rules (:mod:`core.data.one_time_codes`): six digits stored only as a keyed hash,
valid 15 minutes, five tries counted in the database before comparing, a new code after 60 seconds. A code is sent
only when every SMS limit allows it (:mod:`core.phones.limits`); a limit that refuses is counted and told to staff
(:mod:`core.phones.alerts`), and the visitor is told in plain words, never anything about other numbers.

The page keeps only the verification's random ``id`` in its session. The number is kept locked with the contact
key (:class:`core.sealing.ContactBox`, as the contact copy of an e-mail address is): the worker needs it to send
the code, and the join page to fill it in. Retention erases it after a day
(:func:`core.data.retention.erase_phone_verifications`).

Callers (the check page) pass numbers already in E.164 form, commit the session after each call, and say nothing
of the number or code in their logs::

    verification = start(db, campaign="facebookleak", e164="+31612345678", purpose="breach-check", now=now)
    sending = send_code(db, verification, settings.sms, network_hash(key, ip), now, language="nl")
    db.commit()
    flash(str(sending.message))  # in the visitor's language
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.data import one_time_codes
from core.data.hashing import keyed_hash, phone_hash
from core.data.models import PhoneVerification
from core.data.one_time_codes import CODE_VALID, RESEND_AFTER, CodeCheck, new_code
from core.jobs.queue import enqueue
from core.phones.alerts import record_trip
from core.phones.limits import LimitKind, SmsLimits, country_of, take_sms
from core.sealing import SealingError
from core.site import site

__all__ = ["CodeCheck", "SendStatus", "SmsSending", "check_code", "find", "send_code", "start", "verified_number"]

SMS_JOB = "phone-sms-code"  # the worker's job that sends a code (core.phones.sms_job)


class SendStatus(StrEnum):
    SENT = "sent"  # a code is queued for the SMS provider
    WAIT = "wait"  # the last code went out less than a minute ago
    REFUSED = "refused"  # a limit refused it (SmsSending.limit says which)
    UNAVAILABLE = "unavailable"  # this deployment sends no SMS (no provider in production)
    VERIFIED = "verified"  # the number is proved already: no code needed


REFUSALS: dict[LimitKind, LazyString] = {
    LimitKind.COUNTRY_NOT_ALLOWED: _l("We cannot send a code by SMS to phone numbers of this country."),
    LimitKind.NETWORK: _l("Too many codes were asked for from your internet connection. Please try again later."),
    LimitKind.NUMBER: _l("This number has had as many codes as we send to one number. Please try again tomorrow."),
    LimitKind.COUNTRY: _l("We cannot send more codes to this country right now. Please try again later."),
    LimitKind.BUDGET: _l("We cannot send any more codes by SMS today. Please try again tomorrow."),
}


@dataclass(frozen=True)
class SmsSending:
    """What became of a request for a code: the status, the seconds to wait (``WAIT``) or the limit that refused it
    (``REFUSED``), and :attr:`message`, what to tell the visitor (in the language of the request)."""

    status: SendStatus
    wait_seconds: int = 0
    limit: LimitKind | None = None

    @property
    def sent(self) -> bool:
        return self.status is SendStatus.SENT

    @property
    def message(self) -> LazyString:
        if self.status is SendStatus.SENT:
            return _l("We sent a code by SMS. It is valid for %(minutes)s minutes.", minutes=_minutes_valid())
        if self.status is SendStatus.WAIT:
            return _l("A new code can be sent in %(seconds)s seconds.", seconds=self.wait_seconds)
        if self.status is SendStatus.REFUSED and self.limit is not None:
            return REFUSALS[self.limit]
        if self.status is SendStatus.VERIFIED:
            return _l("This phone number is verified already.")
        return _l("Codes by SMS cannot be sent at the moment. Please try again later.")


def _minutes_valid() -> int:
    return int(CODE_VALID.total_seconds() // 60)


def start(session: Session, campaign: str, e164: str, purpose: str, now: dt.datetime) -> PhoneVerification:
    """A new verification of the number ``e164`` (``+31612345678``) for ``purpose`` on ``campaign``, added to
    ``session`` (no code is sent yet: :func:`send_code`). Raises ``ValueError`` for text that is not an E.164
    number (the message does not repeat it)."""
    calling_code, _region = country_of(e164)
    verification = PhoneVerification(
        id=secrets.token_urlsafe(32),
        campaign=campaign,
        purpose=purpose,
        number_digest=phone_hash(site().hash_key, e164),
        locked_number=site().contact_box.lock(e164.encode()),
        country_code=calling_code,
        code_attempts=0,
        codes_sent=0,
        created_at=now,
    )
    session.add(verification)
    session.flush()
    return verification


def find(session: Session, verification_id: str) -> PhoneVerification | None:
    """The verification with this id, or None (unknown, or erased by retention)."""
    return session.get(PhoneVerification, verification_id)


def _code_hash(verification: PhoneVerification, code: str) -> str:
    return keyed_hash(site().hash_key, "sms-code", f"{verification.id}:{code}")


def code_is_current(verification: PhoneVerification, code: str, now: dt.datetime) -> bool:
    """Is ``code`` the verification's current code, unexpired (the worker sends only such a code)?"""
    return (
        verification.code_hash is not None
        and verification.code_expires_at is not None
        and now <= verification.code_expires_at
        and secrets.compare_digest(_code_hash(verification, code), verification.code_hash)
    )


def send_code(
    session: Session,
    verification: PhoneVerification,
    limits: SmsLimits,
    network: str | None,
    now: dt.datetime,
    language: str | None = None,
) -> SmsSending:
    """Issue a new code and queue its SMS (in ``language``; default: the campaign's), if the wait and every limit
    allow it; the previous code stops working. ``network`` is the keyed hash of the requester's network
    (:func:`core.data.hashing.network_hash`). A limit that refuses is counted for the console and may queue the
    day's alert to staff, in ``session``'s transaction: the caller commits either way. Every outcome has a
    :attr:`SmsSending.message` for the visitor."""
    if verification.verified_at is not None:
        return SmsSending(SendStatus.VERIFIED)
    wait = one_time_codes.seconds_until_resend(verification.code_sent_at, now)
    if wait:
        return SmsSending(SendStatus.WAIT, wait_seconds=wait)
    number = unlocked_number(verification)
    loaded = site().registry.snapshot.campaigns.get(verification.campaign)
    if site().sms_provider is None or number is None or loaded is None:
        return SmsSending(SendStatus.UNAVAILABLE)
    tripped = take_sms(
        site().limits,
        limits,
        campaign=verification.campaign,
        number_digest=verification.number_digest,
        e164=number,
        network=network,
    )
    if tripped is not None:
        record_trip(session, loaded, tripped, now)
        return SmsSending(SendStatus.REFUSED, limit=tripped)
    code = new_code()
    if not _claim_new_code(session, verification, _code_hash(verification, code), now):
        # Another request issued a code in the meantime: that one is on its way.
        left = one_time_codes.seconds_until_resend(verification.code_sent_at, now)
        return SmsSending(SendStatus.WAIT, wait_seconds=max(left, 1))
    # The code rests in the job (locked, as every payload is) only until it is sent: a done job keeps no payload.
    payload = {"verification": verification.id, "code": code, "language": language or loaded.campaign.default_language}
    enqueue(session, SMS_JOB, payload, campaign=loaded.slug)
    return SmsSending(SendStatus.SENT)


def _claim_new_code(session: Session, verification: PhoneVerification, code_hash: str, now: dt.datetime) -> bool:
    """Store the new code, in one statement that applies only while no code went out in the last minute (two
    requests at once issue one code); False when another request came first."""
    table = PhoneVerification.__table__
    values = {
        "code_hash": code_hash,
        "code_expires_at": now + CODE_VALID,
        "code_sent_at": now,
        "code_attempts": 0,
        "codes_sent": table.c.codes_sent + 1,
    }
    claimed = session.execute(
        update(table)
        .where(
            table.c.id == verification.id,
            table.c.verified_at.is_(None),
            or_(table.c.code_sent_at.is_(None), table.c.code_sent_at <= now - RESEND_AFTER),
        )
        .values(values)
        .returning(table.c.codes_sent, table.c.code_sent_at)
    ).one_or_none()
    if claimed is None:
        session.refresh(verification)
        return False
    for name, value in (
        ("code_hash", code_hash),
        ("code_expires_at", now + CODE_VALID),
        ("code_attempts", 0),
        ("codes_sent", claimed.codes_sent),
        ("code_sent_at", claimed.code_sent_at),
    ):
        set_committed_value(verification, name, value)
    return True


def check_code(session: Session, verification: PhoneVerification, code: str, now: dt.datetime) -> CodeCheck:
    """Check a typed code (every try counts; a code is used up after its fifth wrong one). On ``OK`` the number is
    proved: the code is spent and ``verified_at`` set. The caller commits."""
    if verification.verified_at is not None:
        return CodeCheck.NO_CODE
    outcome, held = one_time_codes.check_try(
        session,
        PhoneVerification.__table__,
        verification.id,
        code,
        now,
        lambda typed: _code_hash(verification, typed),
    )
    for name, value in held.items():
        set_committed_value(verification, name, value)
    if outcome is CodeCheck.OK:
        verification.verified_at = now
        verification.code_hash = None
        verification.code_expires_at = None
    return outcome


def verified_number(session: Session, verification_id: str) -> str | None:
    """The E.164 number of a verification that was proved, while it is kept (a day at most); else None."""
    verification = session.execute(
        select(PhoneVerification).where(
            PhoneVerification.id == verification_id, PhoneVerification.verified_at.is_not(None)
        )
    ).scalar_one_or_none()
    return unlocked_number(verification) if verification is not None else None


def unlocked_number(verification: PhoneVerification) -> str | None:
    """The verification's number, while it is kept and opens with this deployment's contact key; else None."""
    if verification.locked_number is None:
        return None
    try:
        return site().contact_box.unlock(verification.locked_number).decode()
    except SealingError:  # locked under another contact key: nothing to send to or fill in
        return None
