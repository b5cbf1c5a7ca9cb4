"""Staff accounts: who may log in to the staff console, and the check of a login attempt.

A login needs three things at once: the e-mail address, the password (kept as an Argon2id hash, PyNaCl's
libsodium binding, already used for sealing) and a current code of the account's TOTP authenticator app
(RFC 6238, pyotp). Each code works once. Five failed attempts in a row lock the account for fifteen minutes;
``flask staff unlock`` ends that sooner. Accounts are made and changed with ``flask staff ...`` only.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum

import nacl.exceptions
import nacl.pwhash
import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import StaffMember
from ..sealing import WorkingBox

MIN_PASSWORD_LENGTH = 12
MAX_FAILED_LOGINS = 5
LOCKED_FOR = dt.timedelta(minutes=15)
TOTP_ISSUER = "Claimsite staff"
# Argon2id with libsodium's "interactive" limits (64 MiB, 2 passes): about 0.07 s per check here, well above
# OWASP's minimum (19 MiB, 2 passes).
_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
# Checked against when the address is unknown, so an unknown address takes as long as a wrong password.
_NOBODY_HASH = nacl.pwhash.argon2id.str(b"nobody has this password", opslimit=_OPSLIMIT, memlimit=_MEMLIMIT)


class AccountError(Exception):
    """A staff command was given something it cannot use; the message says what to do."""


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown address, wrong password or wrong code: the visitor is not told which
    LOCKED = "locked"  # too many failed attempts; try again later
    DISABLED = "disabled"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    staff: StaffMember | None = None
    locked_until: dt.datetime | None = None


def normalise_login(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return nacl.pwhash.argon2id.str(password.encode(), opslimit=_OPSLIMIT, memlimit=_MEMLIMIT).decode()


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return nacl.pwhash.verify(password_hash.encode(), password.encode())
    except nacl.exceptions.InvalidkeyError:
        return False


def find(session: Session, email: str) -> StaffMember | None:
    return session.scalar(select(StaffMember).where(StaffMember.email == normalise_login(email)))


def add(session: Session, box: WorkingBox, email: str, name: str, password: str) -> tuple[StaffMember, str]:
    """A new account; returns it and its TOTP secret (base32), to be put in the staff member's authenticator."""
    email = normalise_login(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"'{email}' is not an e-mail address")
    if not name.strip():
        raise AccountError("give the staff member's name")
    if find(session, email) is not None:
        raise AccountError(f"there is already an account for {email}")
    secret = pyotp.random_base32()
    staff = StaffMember(email=email, name=name.strip(), password_hash=hash_password(password),
                        totp_secret=box.lock_text(secret), failed_logins=0)
    session.add(staff)
    return staff, secret


def new_totp_secret(staff: StaffMember, box: WorkingBox) -> str:
    """Replace the account's TOTP secret (a lost phone); returns the new one."""
    secret = pyotp.random_base32()
    staff.totp_secret, staff.totp_last_step = box.lock_text(secret), None
    return secret


def provisioning_uri(staff: StaffMember, secret: str) -> str:
    """The ``otpauth://`` link an authenticator app reads (also as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=TOTP_ISSUER)


def current_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows now (for tests and for checking a new setup)."""
    return pyotp.TOTP(secret).at(int(at if at is not None else time.time()))


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The 30-second step whose code ``code`` is, allowing one step of clock drift either way."""
    code = "".join(code.split())
    totp = pyotp.TOTP(secret)
    current = int(now) // totp.interval
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_login(session: Session, box: WorkingBox, email: str, password: str, code: str,
                now: dt.datetime | None = None) -> Attempt:
    """Check one login attempt and record its result on the account (failed attempts, lockout, the code used).
    The caller commits and writes the audit entry."""
    now = now or utcnow()
    staff = find(session, email)
    if staff is None:
        password_matches(_NOBODY_HASH.decode(), password)
        return Attempt(Outcome.WRONG)
    if staff.disabled_at is not None:
        return Attempt(Outcome.DISABLED, staff)
    if staff.locked_until is not None and staff.locked_until > now:
        return Attempt(Outcome.LOCKED, staff, staff.locked_until)
    step = None
    if password_matches(staff.password_hash, password):
        step = _matching_step(box.unlock_text(staff.totp_secret), code, now.timestamp())
    if step is None or (staff.totp_last_step is not None and step <= staff.totp_last_step):
        staff.failed_logins = (staff.failed_logins or 0) + 1
        if staff.failed_logins >= MAX_FAILED_LOGINS:
            staff.failed_logins, staff.locked_until = 0, now + LOCKED_FOR
            return Attempt(Outcome.LOCKED, staff, staff.locked_until)
        return Attempt(Outcome.WRONG, staff)
    staff.failed_logins, staff.locked_until, staff.totp_last_step = 0, None, step
    staff.last_login_at = now
    return Attempt(Outcome.OK, staff)

