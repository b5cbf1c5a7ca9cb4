"""The data breach check's funnel, counted per campaign and day for the staff console: numbers checked, found in a
leak, SMS codes sent, numbers proved, and sign-up forms sent with the checked number.

The counts are kept in the shared counter store of the rate limits (:meth:`core.ratelimits.RateLimits.add`: Redis
in production, so every worker and app server counts into one total, atomically), for :data:`KEEP_DAYS` days. Not
in the database: a check is asked for often and does nothing else that writes, and a write and commit per check
cost as much as the rest of the check together (bench/breach_http.py). They are counts only: no number, digest or
network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.ratelimits import RateLimits

STEPS = ("checks", "found", "codes_sent", "verified", "joined")
KEEP_DAYS = 400  # a campaign's funnel over more than a year


def _key(campaign: str, day: dt.date, step: str) -> str:
    return f"breach-funnel/{campaign}/{day.isoformat()}/{step}"


def count(counters: RateLimits, campaign: str, now: dt.datetime, **steps: int) -> None:
    """Add ``steps`` (e.g. ``checks=1, found=0``) to ``campaign``'s counts of the day (UTC) of ``now``. A step given
    as 0 is still counted (adds 0), so a check costs the same whatever it found."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"no such funnel step: {', '.join(sorted(unknown))}")
    day = now.astimezone(dt.UTC).date()
    for step, amount in steps.items():
        counters.add(_key(campaign, day, step), amount, KEEP_DAYS * 86400)


@dataclass(frozen=True)
class FunnelDay:
    day: dt.date
    checks: int
    found: int
    codes_sent: int
    verified: int
    joined: int


def funnel(counters: RateLimits, campaign: str, since: dt.date, until: dt.date) -> list[FunnelDay]:
    """``campaign``'s counts per day from ``since`` to ``until``, newest first (days without a count left out)."""
    days = []
    day = until
    while day >= since:
        counts = [counters.total(_key(campaign, day, step)) for step in STEPS]
        if any(counts):
            days.append(FunnelDay(day, *counts))
        day -= dt.timedelta(days=1)
    return days
