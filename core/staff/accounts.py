"""Staff accounts: who may log in to the staff console, and the check of a login attempt.

A login needs three things at once: the e-mail address, the password (kept as an Argon2id hash, PyNaCl's
libsodium binding, already used for sealing) and a current code of the account's TOTP authenticator app
(RFC 6238, pyotp). Each code works once: its use is recorded in the same statement that checks it was not used.

Two limits keep guessing bounded without letting anyone lock a staff member out:

- Wrong passwords never lock the account (anyone who knows a staff address could otherwise keep its owner out).
  They are limited per account and network by the caller (``staff-login-account-network`` in
  :mod:`core.ratelimits`, counted before the password is compared): from a network that failed five times in a
  row on an account, more attempts on it are refused unchecked (``blocked``) for up to fifteen minutes.
- Wrong codes after the right password lock the account, everywhere, after five in a row, for fifteen minutes
  (``flask staff unlock`` ends that sooner). Only someone who has the password can do that; each try is counted
  in the database before its code is compared, so at most five codes are ever compared per lock.

Every refusal (unknown address, wrong password or code, locked, blocked, disabled) does the same work, one
Argon2id check, and the caller gives them all the same answer. Accounts are made and changed with
``flask staff ...`` only.
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
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.data.db import utcnow
from core.data.models import StaffMember
from core.sealing import WorkingBox
from core.staff.roles import Rights, Role

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
    """What an attempt came to; the visitor is told only OK or not (the audit log records which)."""

    OK = "ok"
    WRONG = "wrong"  # unknown address, wrong password or wrong code
    LOCKED = "locked"  # too many wrong codes after the right password: the account waits, nothing is compared
    BLOCKED = "blocked"  # too many failed attempts on this account from this network: not checked
    DISABLED = "disabled"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    staff: StaffMember | None = None
    locked_until: dt.datetime | None = None  # set when this attempt locked the account


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
    """A new account, seeing nothing until it is given its access (:func:`core.staff.roles.set_access`); returns
    it and its TOTP secret (base32), to be put in the staff member's authenticator."""
    email = normalise_login(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"'{email}' is not an e-mail address")
    if not name.strip():
        raise AccountError("give the staff member's name")
    if find(session, email) is not None:
        raise AccountError(f"there is already an account for {email}")
    secret = pyotp.random_base32()
    staff = StaffMember(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        totp_secret=box.lock_text(secret),
        failed_logins=0,
        # The least an account can be until the caller gives it its access (core.staff.roles.set_access).
        role=Role.STAFF.value,
        rights=Rights.VIEW.value,
        all_campaigns=False,
    )
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


def check_login(
    session: Session,
    box: WorkingBox,
    email: str,
    password: str,
    code: str,
    now: dt.datetime | None = None,
    *,
    blocked: bool = False,
) -> Attempt:
    """Check one login attempt and record its result on the account (wrong codes in a row, the lock, the code
    used). ``blocked``: the caller's limit per account and network is reached, so nothing is compared. The
    caller commits and writes the audit entry."""
    now = now or utcnow()
    staff = find(session, email)
    if staff is None or blocked:
        password_matches(_NOBODY_HASH.decode(), password)  # the same work as a real check
        return Attempt(Outcome.BLOCKED if blocked else Outcome.WRONG, staff)
    if not password_matches(staff.password_hash, password):
        return Attempt(Outcome.WRONG, staff)
    if staff.disabled_at is not None:
        return Attempt(Outcome.DISABLED, staff)
    table = StaffMember.__table__
    # Count this code try before comparing it, in one statement: tries sent at once each get their own number.
    tries = session.execute(
        update(table)
        .where(
            table.c.id == staff.id,
            table.c.failed_logins < MAX_FAILED_LOGINS,
            or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
        )
        .values(failed_logins=table.c.failed_logins + 1)
        .returning(table.c.failed_logins)
    ).scalar_one_or_none()
    if tries is None:
        return Attempt(Outcome.LOCKED, staff)
    step = _matching_step(box.unlock_text(staff.totp_secret), code, now.timestamp())
    # A code works once: it is used only if no later or equal step was used before (one statement, so two logins
    # with the same code at the same moment cannot both pass).
    if (
        step is not None
        and session.execute(
            update(table)
            .where(table.c.id == staff.id, or_(table.c.totp_last_step.is_(None), table.c.totp_last_step < step))
            .values(totp_last_step=step, failed_logins=0, locked_until=None, last_login_at=now)
        ).rowcount
    ):
        return Attempt(Outcome.OK, staff)
    if tries >= MAX_FAILED_LOGINS:  # this wrong code was the fifth in a row: lock the account from now on
        session.execute(
            update(table).where(table.c.id == staff.id).values(failed_logins=0, locked_until=now + LOCKED_FOR)
        )
        return Attempt(Outcome.WRONG, staff, now + LOCKED_FOR)
    return Attempt(Outcome.WRONG, staff)
