"""The rules every 6-digit verification code follows, whatever it proves (an e-mail address: core.signup.codes; a
phone number: core.phones.verification): valid 15 minutes, 5 tries, a new one after 60 seconds, stored only as a
keyed hash, and every try counted in the database before the code is compared.

The row that holds a code has the columns ``id``, ``code_hash``, ``code_expires_at``, ``code_sent_at``,
``code_attempts`` and ``codes_sent``; each caller keys the hash with what identifies its code.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from enum import Enum
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

CODE_VALID = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
RESEND_AFTER = dt.timedelta(seconds=60)


class CodeCheck(Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY = "too-many"  # this code is used up: ask for a new one
    NO_CODE = "no-code"


def new_code() -> str:
    """Six random digits."""
    return f"{secrets.randbelow(1_000_000):06d}"


def seconds_until_resend(sent_at: dt.datetime | None, now: dt.datetime) -> int:
    """0 when a new code may be sent now (the last went out at ``sent_at``), else the whole seconds to wait."""
    if sent_at is None:
        return 0
    left = (sent_at + RESEND_AFTER - now).total_seconds()
    return max(0, int(left + 0.999))


def check_try(
    session: Session, table: Table, row_id: Any, code: str, now: dt.datetime, hash_of: Callable[[str], str]
) -> tuple[CodeCheck, dict[str, Any]]:
    """Count one try of ``code`` against the code of row ``row_id`` of ``table``, then compare it (``hash_of``
    gives the keyed hash of six typed digits). Returns the outcome and the code columns as the database holds them
    now (for the caller's object).

    The try is counted before the code is compared, in one statement that also reads the current code (``UPDATE
    ... SET code_attempts = code_attempts + 1 ... RETURNING``): tries sent at the same moment each get their own
    number, so at most :data:`MAX_ATTEMPTS` comparisons ever happen per code, whatever the concurrency. The row
    stays locked until the caller commits, so a right code is spent before any other try of the same code is
    counted."""
    counted = session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.code_hash.is_not(None), table.c.code_attempts < MAX_ATTEMPTS)
        .values(code_attempts=table.c.code_attempts + 1)
        .returning(table.c.code_attempts, table.c.code_hash, table.c.code_expires_at)
    ).one_or_none()
    if counted is None:  # no code, or used up: nothing was counted, nothing is compared
        current = session.execute(select(table.c.code_hash).where(table.c.id == row_id)).scalar_one_or_none()
        return (CodeCheck.NO_CODE if current is None else CodeCheck.TOO_MANY), {"code_hash": current}
    attempts, code_hash, expires_at = counted
    now_held = {"code_attempts": attempts, "code_hash": code_hash, "code_expires_at": expires_at}
    if expires_at is None or now > expires_at:
        return CodeCheck.EXPIRED, now_held
    typed = "".join(ch for ch in code if ch.isdigit())
    if len(typed) == 6 and hmac.compare_digest(hash_of(typed), code_hash):
        return CodeCheck.OK, now_held
    return (CodeCheck.TOO_MANY if attempts >= MAX_ATTEMPTS else CodeCheck.WRONG), now_held
