"""When a campaign takes sign-ups: its written ``status`` read against the clock and its ``opens``/``closes``.

A campaign file writes ``opens`` and ``closes`` as a date (``2026-11-30``) or a date and time (``2026-11-30 18:00``,
ISO ``2026-11-30T18:00``, or with an explicit UTC offset), in the campaign's ``timezone`` (an IANA name, Europe/
Amsterdam by default). A date alone opens at the start of that day and closes at its end: the campaign takes
sign-ups up to 23:59:59.999999 local time, and is closed from the next day's 00:00. A date and time is that moment.
A wall time that a change to or from summer time skips or repeats is read as the clock showed it first.

Nothing here is computed when a file is loaded and kept: the status is asked for with ``now`` each time (the web
layer passes its clock, tests pass fixed times), so a campaign opens and closes on time without a restart or a
reload. The rule, for the written status:

- ``closed``: closed, whatever the dates say (staff closed it by hand).
- ``open``: "not yet open" before ``opens`` (the join form is closed and the pages say when it opens), open until
  ``closes``, closed from then on.
- ``pre-registration``: pre-registration before ``opens`` (or, without ``opens``, until ``closes``), open from
  ``opens``, closed from ``closes``: pre-registration is what a campaign takes while it waits for its opening day.

A sign-up that had confirmed its e-mail address before its campaign closed by ``closes`` may still finish (accept
the agreements, sign, pay) for :data:`GRACE` after it: someone halfway through the form at the deadline is not
turned away mid-way. One closed by hand (written ``closed``) gets no such time: staff close a campaign by hand when
it must stop now.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import force_locale, gettext

from core import i18n

if TYPE_CHECKING:
    from core.campaigns.schema import Campaign

DEFAULT_TIMEZONE = "Europe/Amsterdam"
GRACE = dt.timedelta(hours=24)

# What a campaign file writes: the status it was given by hand.
WrittenStatus = Literal["draft", "pre-registration", "open", "closed"]
# What the campaign is at one moment: the written status read against the clock.
Status = Literal["draft", "not-yet-open", "pre-registration", "open", "closed"]
TAKING_SIGNUPS: frozenset[Status] = frozenset({"pre-registration", "open"})

# A written opens/closes: a date alone, or a date and time (naive: the campaign's wall clock; or with an offset).
Moment = dt.date | dt.datetime

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?")


def read_moment(value: Any) -> Moment:
    """A written ``opens``/``closes``: YAML gives a date, or a datetime when seconds are written; the forms without
    seconds ('2026-11-30 18:00', '2026-11-30T18:00') arrive as text. Raises ValueError with words for the file's
    editor."""
    if isinstance(value, dt.date):  # a datetime is a date too
        return value
    expected = "expected a date written as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM"
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {value!r}")
    text = value.strip()
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
        if _DATE_TIME.fullmatch(text):
            return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is no date on the calendar (check the month, day and time)") from None
    raise ValueError(f"{expected}, got {value!r}")


def read_zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name ('Europe/Amsterdam'); ValueError with words for the file's editor."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: write an IANA name such as 'Europe/Amsterdam' or 'Europe/Brussels'"
        ) from None


def starts(moment: Moment, zone: ZoneInfo) -> dt.datetime:
    """The first instant of ``moment`` (aware): a date's midnight in ``zone``, or the date and time itself."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def ends(moment: Moment, zone: ZoneInfo) -> dt.datetime:
    """The first instant after ``moment`` (aware): a date's next midnight in ``zone`` (the whole day is still in
    it), or the date and time itself."""
    if not isinstance(moment, dt.datetime):
        return starts(moment + dt.timedelta(days=1), zone)
    return starts(moment, zone)


def written(moment: Moment) -> str:
    """``moment`` as a campaign file would write it ('2026-11-30', '2026-11-30 18:00'), for staff and messages."""
    if not isinstance(moment, dt.datetime):
        return moment.isoformat()
    return moment.isoformat(" ", "minutes" if not (moment.second or moment.microsecond) else "auto")


def moment_words(moment: Moment | None, timezone: str, language: str) -> str:
    """An ``opens``/``closes`` as a person reads it in ``language``: the date alone ('30 november 2026'), or the date
    and the time on the campaign's clock (``timezone``) ('30 November 2026 at 18:00'); "" when the file names none.
    Works outside a request too (a mail)."""
    if moment is None:
        return ""
    if not isinstance(moment, dt.datetime):
        return i18n.long_date(moment, language)
    local = wall_clock(moment, ZoneInfo(timezone))
    with force_locale(language):
        return gettext(
            "%(date)s at %(time)s", date=i18n.long_date(local, language), time=i18n.short_time(local, language)
        )


def wall_clock(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """``moment`` as the campaign's clock shows it (naive, as written, or converted from its UTC offset)."""
    return moment if moment.tzinfo is None else moment.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class Schedule:
    """A campaign's written status and the instants (aware) its ``opens`` and ``closes`` stand for."""

    written: WrittenStatus
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None  # the first instant it is closed

    @classmethod
    def of(cls, campaign: Campaign) -> Schedule:
        zone = ZoneInfo(campaign.timezone)
        return cls(
            campaign.status,
            starts(campaign.opens, zone) if campaign.opens is not None else None,
            ends(campaign.closes, zone) if campaign.closes is not None else None,
        )

    def status_at(self, now: dt.datetime) -> Status:
        """What the campaign is at ``now`` (aware). A draft stays one whatever the clock says: it is served only
        as a staff preview (core.web.tenancy never serves it publicly)."""
        if self.written == "draft":
            return "draft"
        if self.written == "closed" or self.closed_by_clock(now):
            return "closed"
        if self.opens_at is not None and now < self.opens_at:
            return "not-yet-open" if self.written == "open" else "pre-registration"
        if self.opens_at is not None or self.written == "open":
            return "open"
        return "pre-registration"

    def closed_by_clock(self, now: dt.datetime) -> bool:
        """Closed at ``now`` because its ``closes`` passed (not by hand): the pages can say since when."""
        return self.written != "closed" and self.closes_at is not None and now >= self.closes_at

    @property
    def finish_until(self) -> dt.datetime | None:
        """Until when a sign-up confirmed before ``closes`` may finish (None without ``closes``)."""
        return None if self.closes_at is None else self.closes_at + GRACE

    def may_finish(self, verified_at: dt.datetime | None, now: dt.datetime) -> bool:
        """Whether a sign-up whose address was confirmed at ``verified_at`` (None: not yet) may go on at ``now``
        to the agreements, signing and paying: while the campaign takes sign-ups, or within :data:`GRACE` after it
        closed by ``closes`` when the address was confirmed before that."""
        if self.status_at(now) in TAKING_SIGNUPS:
            return True
        if not self.closed_by_clock(now) or verified_at is None:
            return False
        assert self.closes_at is not None and self.finish_until is not None
        return verified_at < self.closes_at and now < self.finish_until


def status_at(campaign: Campaign, now: dt.datetime) -> Status:
    """What ``campaign`` is at ``now`` (aware): the one rule, for callers that need nothing else."""
    return Schedule.of(campaign).status_at(now)


def status_for_staff(campaign: Campaign, now: dt.datetime) -> str:
    """The status at ``now``, with the written one when the clock made it another: 'closed (file: open)'."""
    status = status_at(campaign, now)
    return status if status == campaign.status else f"{status} (file: {campaign.status})"


def moment_for_staff(campaign: Campaign, moment: Moment | None, closing: bool = False) -> str:
    """An ``opens``/``closes`` as staff read it: as written, with what a date alone means and the time zone."""
    if moment is None:
        return "-"
    if not isinstance(moment, dt.datetime):
        return f"{written(moment)} ({'to the end' if closing else 'from the start'} of the day, {campaign.timezone})"
    return f"{written(moment)} ({campaign.timezone})" if moment.tzinfo is None else written(moment)
