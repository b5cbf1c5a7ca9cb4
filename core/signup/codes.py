"""E-mail verification: a 6-digit code (stored hashed), valid 15 minutes, 5 tries, a new one after 60 seconds;
and a signed link in the same mail that verifies, with the button on the page it opens, while that code is current."""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.data import one_time_codes
from core.data.hashing import keyed_hash, signing_serializer
from core.data.models import Signup
from core.data.one_time_codes import CODE_VALID, MAX_ATTEMPTS, RESEND_AFTER, CodeCheck, new_code

__all__ = ["CODE_VALID", "MAX_ATTEMPTS", "RESEND_AFTER", "CodeCheck"]


def _code_hash(key: str, signup: Signup, code: str) -> str:
    # Keyed by the campaign and address, not the sign-up's token: a form for a known address is written in the
    # same statement as a new one (core.signup.flow.start), before the request knows which sign-up it is.
    return keyed_hash(key, "code", f"{signup.campaign}:{signup.email_hash}:{code}")


def issue_code(key: str, signup: Signup, now: dt.datetime) -> str:
    """A fresh code for ``signup`` (the previous one stops working); returns it for the mail."""
    code = new_code()
    signup.code_hash = _code_hash(key, signup, code)
    signup.code_expires_at = now + CODE_VALID
    signup.code_sent_at = now
    signup.code_attempts = 0
    signup.codes_sent = (signup.codes_sent or 0) + 1
    return code


def seconds_until_resend(signup: Signup, now: dt.datetime) -> int:
    """0 when a new code may be sent now, else the whole seconds to wait."""
    return one_time_codes.seconds_until_resend(signup.code_sent_at, now)


def check_code(session: Session, key: str, signup: Signup, code: str, now: dt.datetime) -> CodeCheck:
    """Check a typed code; every try counts, and a code is used up after its fifth wrong one (counted atomically
    before comparing: :func:`core.data.one_time_codes.check_try`)."""
    outcome, held = one_time_codes.check_try(
        session, Signup.__table__, signup.id, code, now, lambda typed: _code_hash(key, signup, typed)
    )
    # What the database holds now, not what this request read before (without marking the object changed).
    for name, value in held.items():
        set_committed_value(signup, name, value)
    return outcome


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
