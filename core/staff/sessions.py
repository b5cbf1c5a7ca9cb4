"""Logged-in staff browsers. The console's cookie holds a random token; ``staff_sessions`` holds only its hash,
the account, and when the session ends: after ``staff_idle_minutes`` unused, ``staff_session_hours`` after login
whatever happens, at logout, or as soon as the account is disabled. Kept in the database (not only in a signed
cookie) so that logout and disabling really end a session everywhere."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.data.db import utcnow
from core.data.hashing import sha256_hex
from core.data.models import StaffMember, StaffSession


def start(session: Session, staff: StaffMember, lasts: dt.timedelta, now: dt.datetime | None = None) -> str:
    """A new session for ``staff``; returns the token for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=sha256_hex(token), staff_id=staff.id, created_at=now, last_seen_at=now, ends_at=now + lasts
        )
    )
    return token


def resume(
    session: Session, token: str | None, idle: dt.timedelta, now: dt.datetime | None = None
) -> StaffMember | None:
    """The staff member of a live session, marking it used now; None (and the session deleted) when it ended."""
    if not token:
        return None
    now = now or utcnow()
    found = session.scalar(select(StaffSession).where(StaffSession.token_hash == sha256_hex(token)))
    if found is None:
        return None
    staff = found.staff
    if found.ends_at <= now or found.last_seen_at + idle <= now or staff.disabled_at is not None:
        session.delete(found)
        return None
    found.last_seen_at = now
    return staff


def end(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == sha256_hex(token)))


def end_all(session: Session, staff: StaffMember) -> int:
    """End every session of ``staff`` (disabled, or a new password); returns how many there were."""
    return session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id)).rowcount
