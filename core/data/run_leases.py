"""Leases for staff jobs that must not run twice at once: the one module that reads or writes ``run_leases``.

A run takes the lease of its job's name before it starts and gives it back when it ends; while it runs, it renews
it now and then. A second run finds the lease taken and is refused, told who holds it since when. A run that was
killed stops renewing: once its lease expires, the next run takes it over. Taking is one INSERT (the primary key
lets exactly one of two runs in) or one conditional UPDATE of an expired row (its row count says who won), so it
holds across processes and machines on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.data.models import RunLease


def take(session: Session, name: str, holder: str, now: dt.datetime, lasts: dt.timedelta) -> RunLease | None:
    """Take the lease ``name`` for ``holder`` until ``now + lasts`` (committed): None when it was taken; else the
    lease that holds it (another run's, still valid), for the refusal's message."""
    session.add(RunLease(name=name, holder=holder, started_at=now, expires_at=now + lasts))
    try:
        session.commit()
        return None
    except IntegrityError:
        session.rollback()
    taken_over = session.execute(
        update(RunLease)
        .where(RunLease.name == name, RunLease.expires_at < now)
        .values(holder=holder, started_at=now, expires_at=now + lasts)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if taken_over == 1:
        return None
    held = session.scalar(select(RunLease).where(RunLease.name == name).execution_options(populate_existing=True))
    if held is None:  # given back between the insert and the update: try again
        return take(session, name, holder, now, lasts)
    return held


def renew(session: Session, name: str, holder: str, now: dt.datetime, lasts: dt.timedelta) -> bool:
    """Extend ``holder``'s lease ``name`` (committed); False when it is no longer theirs (it expired and another run
    took it over: the caller must stop)."""
    renewed = session.execute(
        update(RunLease)
        .where(RunLease.name == name, RunLease.holder == holder)
        .values(expires_at=now + lasts)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return renewed == 1


def give_back(session: Session, name: str, holder: str) -> None:
    """End ``holder``'s lease ``name`` (committed); nothing when it is no longer theirs."""
    session.execute(delete(RunLease).where(RunLease.name == name, RunLease.holder == holder))
    session.commit()
