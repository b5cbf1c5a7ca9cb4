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
COUNTED_ALONE = ("codes_sent", "verified", "joined")  # checks and found share one counter: see count_check
KEEP_DAYS = 400  # a campaign's funnel over more than a year
FOUND_SHIFT = 32  # a check counter holds checks in its low 32 bits and found numbers above them


def _key(campaign: str, day: dt.date, step: str) -> str:
    return f"breach-funnel/{campaign}/{day.isoformat()}/{step}"


def count_check(counters: RateLimits, campaign: str, now: dt.datetime, found: bool) -> None:
    """Count one check of ``campaign`` on the day (UTC) of ``now``, and whether it ``found`` the number: one atomic
    addition to one counter either way (1, plus 2**32 when found), so a check costs one round trip to the store,
    the same whatever it found. (A day would need four billion checks to overflow the low half.)"""
    day = now.astimezone(dt.UTC).date()
    counters.add(_key(campaign, day, "checks"), 1 + (int(found) << FOUND_SHIFT), KEEP_DAYS * 86400)


def count(counters: RateLimits, campaign: str, now: dt.datetime, **steps: int) -> None:
    """Add ``steps`` (``codes_sent``, ``verified``, ``joined``: e.g. ``verified=1``) to ``campaign``'s counts of the
    day (UTC) of ``now``."""
    unknown = set(steps) - set(COUNTED_ALONE)
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
        checked = counters.total(_key(campaign, day, "checks"))
        counts = [checked & ((1 << FOUND_SHIFT) - 1), checked >> FOUND_SHIFT]
        counts += [counters.total(_key(campaign, day, step)) for step in COUNTED_ALONE]
        if any(counts):
            days.append(FunnelDay(day, *counts))
        day -= dt.timedelta(days=1)
    return days
