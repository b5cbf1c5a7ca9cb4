"""The staff console's figures of a campaign's data breach check: each dataset's index (records, size, import date
and version, or that it was never imported), and the check's funnel per day (numbers checked, found, SMS codes
sent, numbers proved, sign-ups started with the checked number) beside the SMS limits that tripped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.breach.datasets import Dataset, breach_settings_of
from core.breach.funnel import FunnelDay, funnel
from core.breach.index_file import current_index
from core.campaigns import LoadedCampaign
from core.data.models import SmsLimitTrip
from core.site import site


@dataclass(frozen=True)
class IndexFigures:
    dataset: Dataset
    records: int | None  # None: never imported
    size_bytes: int | None
    imported_at: dt.datetime | None
    version: str | None


@dataclass(frozen=True)
class CheckDay:
    day: FunnelDay
    trips: dict[str, int] = field(default_factory=dict)  # kind of SMS limit -> times it refused a code

    @property
    def found_share(self) -> str:
        return f"{100 * self.day.found / self.day.checks:.0f}%" if self.day.checks else "–"


@dataclass(frozen=True)
class BreachFigures:
    indexes: list[IndexFigures]
    days: list[CheckDay]
    totals: dict[str, int]
    trips: dict[str, int]


def breach_figures(session: Session, loaded: LoadedCampaign, days: int, today: dt.date) -> BreachFigures | None:
    """``loaded``'s breach-check figures over the last ``days`` days up to ``today`` (UTC), or None when it has
    no breach check."""
    settings = breach_settings_of(loaded)
    if settings is None:
        return None
    folder = site().settings.resolved_breach_dir()
    indexes = []
    for dataset in settings.datasets:
        index = current_index(folder, dataset.id)
        if index is None:
            indexes.append(IndexFigures(dataset, None, None, None, None))
        else:
            indexes.append(IndexFigures(dataset, index.records, index.size_bytes, index.imported_at, index.version))
    since = today - dt.timedelta(days=days - 1)
    trips: dict[dt.date, dict[str, int]] = {}
    for row in session.scalars(
        select(SmsLimitTrip).where(SmsLimitTrip.campaign == loaded.slug, SmsLimitTrip.day >= since)
    ):
        trips.setdefault(row.day, {})[row.kind] = row.trips
    counted = {day.day: day for day in funnel(site().limits, loaded.slug, since, today)}
    rows = [
        CheckDay(counted.get(day) or FunnelDay(day, 0, 0, 0, 0, 0), trips.get(day, {}))
        for day in sorted(set(counted) | set(trips), reverse=True)
    ]
    totals = {
        step: sum(getattr(row.day, step) for row in rows)
        for step in ("checks", "found", "codes_sent", "verified", "joined")
    }
    all_trips: dict[str, int] = {}
    for row in rows:
        for kind, n in row.trips.items():
            all_trips[kind] = all_trips.get(kind, 0) + n
    return BreachFigures(indexes, rows, totals, all_trips)
