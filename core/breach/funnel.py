"""The data breach check's funnel, counted per campaign and day for the staff console: numbers checked, found in a
leak, SMS codes sent, numbers proved, and sign-up forms sent with the checked number. Each step is one atomic
upsert of counts, never a row per visitor: the funnel holds no number, digest or network."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.data.db import dialect_insert
from core.data.models import BreachCheckDay

STEPS = ("checks", "found", "codes_sent", "verified", "joined")


def count(session: Session, campaign: str, now: dt.datetime, **steps: int) -> None:
    """Add ``steps`` (e.g. ``checks=1, found=0``) to ``campaign``'s counts of the day (UTC) of ``now``, in the
    caller's transaction. A step given as 0 still writes the row, so a check costs the same whatever it found."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"no such funnel step: {', '.join(sorted(unknown))}")
    values = {step: steps.get(step, 0) for step in STEPS}
    session.execute(
        _upsert(session.get_bind().dialect.name),
        {"campaign": campaign, "day": now.astimezone(dt.UTC).date(), **values},
    )


@cache
def _upsert(dialect: str) -> Any:
    """The upsert of a day's counts, built once per dialect (a check counts on every request)."""
    table = BreachCheckDay.__table__
    columns = ("campaign", "day", *STEPS)
    statement = dialect_insert(dialect, table).values({column: bindparam(column) for column in columns})
    return statement.on_conflict_do_update(
        index_elements=["campaign", "day"], set_={step: table.c[step] + statement.excluded[step] for step in STEPS}
    )


@dataclass(frozen=True)
class FunnelDay:
    day: dt.date
    checks: int
    found: int
    codes_sent: int
    verified: int
    joined: int


def funnel(session: Session, campaign: str, since: dt.date) -> list[FunnelDay]:
    """``campaign``'s counts per day from ``since`` on, newest first (days without a check are left out)."""
    rows = session.scalars(
        select(BreachCheckDay)
        .where(BreachCheckDay.campaign == campaign, BreachCheckDay.day >= since)
        .order_by(BreachCheckDay.day.desc())
    )
    return [FunnelDay(row.day, row.checks, row.found, row.codes_sent, row.verified, row.joined) for row in rows]
