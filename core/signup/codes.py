"""E-mail verification: a 6-digit code (stored hashed), valid 15 minutes, 5 tries, a new one after 60 seconds;
and a signed link in the same mail that verifies, with the button on the page it opens, while that code is current."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from enum import Enum

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.data.hashing import keyed_hash, signing_serializer
from core.data.models import Signup

CODE_VALID = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
RESEND_AFTER = dt.timedelta(seconds=60)


class CodeCheck(Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY = "too-many"  # this code is used up: ask for a new one
    NO_CODE = "no-code"


def _code_hash(key: str, signup: Signup, code: str) -> str:
    # Keyed by the campaign and address, not the sign-up's token: a form for a known address is written in the
    # same statement as a new one (core.signup.flow.start), before the request knows which sign-up it is.
    return keyed_hash(key, "code", f"{signup.campaign}:{signup.email_hash}:{code}")


def issue_code(key: str, signup: Signup, now: dt.datetime) -> str:
    """A fresh code for ``signup`` (the previous one stops working); returns it for the mail."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    signup.code_hash = _code_hash(key, signup, code)
    signup.code_expires_at = now + CODE_VALID
    signup.code_sent_at = now
    signup.code_attempts = 0
    signup.codes_sent = (signup.codes_sent or 0) + 1
    return code


def seconds_until_resend(signup: Signup, now: dt.datetime) -> int:
    """0 when a new code may be sent now, else the whole seconds to wait."""
    if signup.code_sent_at is None:
        return 0
    left = (signup.code_sent_at + RESEND_AFTER - now).total_seconds()
    return max(0, int(left + 0.999))


def check_code(session: Session, key: str, signup: Signup, code: str, now: dt.datetime) -> CodeCheck:
    """Check a typed code; every try counts, and a code is used up after its fifth wrong one.

    The try is counted in the database before the code is compared, in one statement that also reads the current
    code (``UPDATE ... SET code_attempts = code_attempts + 1 ... RETURNING``): tries sent at the same moment each
    get their own number, so at most :data:`MAX_ATTEMPTS` comparisons ever happen per code, whatever the
    concurrency. The row stays locked until the caller commits, so a right code is spent before any other try of
    the same code is counted."""
    table = Signup.__table__
    counted = session.execute(
        update(table)
        .where(table.c.id == signup.id, table.c.code_hash.is_not(None), table.c.code_attempts < MAX_ATTEMPTS)
        .values(code_attempts=table.c.code_attempts + 1)
        .returning(table.c.code_attempts, table.c.code_hash, table.c.code_expires_at)
    ).one_or_none()
    if counted is None:  # no code, or used up: nothing was counted, nothing is compared
        current = session.execute(select(table.c.code_hash).where(table.c.id == signup.id)).scalar_one_or_none()
        set_committed_value(signup, "code_hash", current)
        return CodeCheck.NO_CODE if current is None else CodeCheck.TOO_MANY
    attempts, code_hash, expires_at = counted
    # What the database holds now, not what this request read before (without marking the object changed).
    for name, value in (("code_attempts", attempts), ("code_hash", code_hash), ("code_expires_at", expires_at)):
        set_committed_value(signup, name, value)
    if expires_at is None or now > expires_at:
        return CodeCheck.EXPIRED
    typed = "".join(ch for ch in code if ch.isdigit())
    if len(typed) == 6 and hmac.compare_digest(_code_hash(key, signup, typed), code_hash):
        return CodeCheck.OK
    return CodeCheck.TOO_MANY if attempts >= MAX_ATTEMPTS else CodeCheck.WRONG


def spend_code(signup: Signup) -> None:
    """A code (or its link) verifies once."""
    signup.code_hash = None
    signup.code_expires_at = None


def _link_serializer(secret_key: str, campaign: str) -> URLSafeTimedSerializer:
    return signing_serializer(secret_key, f"verify-email:{campaign}")


def link_token(secret_key: str, signup: Signup) -> str:
    """The token of the verification link: names the sign-up (by its address's keyed hash, which the form's
    request knows before it knows whether the address is new) and the code it was sent with."""
    assert signup.code_hash is not None
    return _link_serializer(secret_key, signup.campaign).dumps([signup.email_hash, signup.code_hash[:16]])


def read_link_token(secret_key: str, campaign: str, token: str) -> tuple[str, str] | None:
    """(address hash, code fingerprint) of a valid, unexpired link, else None."""
    try:
        value = _link_serializer(secret_key, campaign).loads(token, max_age=int(CODE_VALID.total_seconds()))
    except BadData:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return None
    return value[0], value[1]
