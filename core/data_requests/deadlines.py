"""When a company must answer an Art. 15 GDPR request: its receipt, the one-month period of Art. 12(3) GDPR and its
extension, counted as Regulation (EEC, Euratom) No 1182/71 counts periods, and a request's state on a given day.

Art. 12(3) GDPR gives the company "one month of receipt of the request", which "may be extended by two further
months where necessary", provided it tells the person "within one month of receipt of the request" with the
reasons. The GDPR does not say how a month is counted; the EDPB (Guidelines 01/2022 on the right of access, on
the timing of an answer) counts it under Regulation 1182/71, the rules for every period of EU law that the Court of
Justice applies too, and this module follows that Regulation to the letter:

- Art. 3(1): the day of the event (the day of receipt) is not counted: the period begins the day after.
- Art. 3(2)(c): a period in months ends at the end of the day in the last month that has the same date as the
  day from which the period runs (the day of receipt): 15 March gives 15 April. If the last month has no such
  date, the period ends at the end of that month's last day: 31 January gives 28 February (29 in a leap year).
- Art. 3(3): Saturdays, Sundays and public holidays inside the period count like any day.
- Art. 3(4): when the last day is a Saturday, Sunday or public holiday, the period ends at the end of the following
  working day (a day that is none of these), however many such days follow one another.
- Art. 2(1): the holidays are those of the Member State where the act is to be done: answering is the company's
  act, so its own country's (:func:`holidays_country_for`).

A date here is a calendar day in that country: a period ends "with the expiry of the last hour" of its last day,
so a request is overdue from the next day on (:func:`status_on`); the daily reminder passes today's date as it is
in the Netherlands, where staff work.

Nothing here reads a database, a clock or a request: every function takes the days it needs and returns a day,
so the console, the participant's page and the reminder compute the same dates, and the tests pin them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Literal

import holidays

# The EU and EEA states, as ISO 3166-1 codes, with the EU regions that have codes of their own (AX, GF, GP, MQ, RE,
# YT, MF). The list was written for phone numbers; its states are those where the GDPR applies.
from core.phones.limits import EU_EEA_REGIONS

#: Calendar days a letter is taken to travel, unless its receipt is recorded (:func:`received_on`).
LETTER_DAYS = 3
#: Art. 12(3) GDPR: the one month may be extended "by two further months", and by no more.
MAX_EXTENSION_MONTHS = 2
#: A request whose due day is at most this many days away is "due soon" (:func:`status_on`).
DUE_SOON_DAYS = 7

# Days a country counts as public holidays for periods that the `holidays` package does not count as public every
# year. The Netherlands: Art. 3(1) of the Algemene termijnenwet names 5 May among the generally recognised
# holidays every year; the package counts Liberation Day as a public holiday only once in five years.
_EXTRA_HOLIDAYS: dict[str, tuple[tuple[int, int], ...]] = {"NL": ((5, 5),)}

DeadlineState = Literal["open", "due_soon", "overdue", "answered"]


class Channel(StrEnum):
    """How a request was sent: the values of the company catalogue's ``suggested-transport-medium``."""

    EMAIL = "email"
    WEBFORM = "webform"
    FAX = "fax"
    LETTER = "letter"


class ExtensionOutcome(StrEnum):
    """What became of an extension the company claimed (Art. 12(3) GDPR), for staff and for the participant."""

    #: No extension was claimed: the one month stands.
    NOT_CLAIMED = "not-claimed"
    #: Claimed within the first month: the months claimed are added.
    COUNTED = "counted"
    #: Claimed within the first month, but for more than two further months: two are added, the law's most.
    CAPPED = "capped"
    #: Claimed after the first month had ended: too late to move the deadline, which stays at one month.
    CLAIMED_LATE = "claimed-late"


@dataclass(frozen=True)
class Deadline:
    """The day a company must have answered a request by, and how an extension it claimed was counted."""

    received: dt.date
    #: The end of the first month (Art. 12(3) GDPR, first sentence), moved off weekends and holidays.
    first_month_due: dt.date
    #: The deadline that counts: the first month's end, or with the extension counted.
    due: dt.date
    #: Further months the company claimed, as it wrote them (0 when it claimed none).
    claimed_months: int
    #: Further months counted: 0, 1 or 2.
    extension_months: int
    reason: ExtensionOutcome

    @property
    def extension_counted(self) -> bool:
        """Whether a claimed extension moved the deadline (counted in full, or capped at two months)."""
        return self.reason in (ExtensionOutcome.COUNTED, ExtensionOutcome.CAPPED)


def received_on(
    sent_on: dt.date, channel: Channel | str, letter_days: int = LETTER_DAYS, *, recorded: dt.date | None = None
) -> dt.date:
    """The day the company is taken to have received a request: the ``recorded`` day when staff know it (a
    company's acknowledgement, a letter's track and trace); otherwise the day it was sent for e-mail, a web form
    and fax, which arrive at once, and ``letter_days`` calendar days after posting for a letter.

    Calendar days, not working days, on purpose: Dutch practice presumes a posted letter arrived a fixed number of
    calendar days after posting (German administrative law writes such a presumption into its statutes), and post
    is not delivered on every working day either (PostNL delivers no letters on Mondays), so counting working days
    would be no truer. A fixed count is what staff and participants can check by hand; three days covers a letter
    posted on any weekday in the usual case, and a letter known to have arrived later is recorded: its recorded day
    wins.

    Raises ValueError for a recorded day before the request was sent, a negative ``letter_days`` or an unknown
    channel: each is a typing mistake by staff, and a wrong receipt day would move every deadline after it."""
    channel = Channel(channel)
    if recorded is not None:
        if recorded < sent_on:
            raise ValueError(
                f"The receipt date {recorded.isoformat()} lies before the request was sent ({sent_on.isoformat()}):"
                " check both dates and record the day the company received it."
            )
        return recorded
    if letter_days < 0:
        raise ValueError(f"A letter cannot arrive {letter_days} days after posting: give 0 days or more.")
    if channel is Channel.LETTER:
        return sent_on + dt.timedelta(days=letter_days)
    return sent_on


def period_end(received: dt.date, months: int) -> dt.date:
    """The last day of a period of ``months`` months that runs from ``received`` (Art. 3(2)(c) of Regulation
    1182/71), before Art. 3(4) moves it off a weekend or holiday: the same date ``months`` months later, or the
    last day of that month when it has no such date (31 January + 1 month is 28 February, 29 in a leap year)."""
    if months < 0:
        raise ValueError(f"A period of {months} months cannot be counted: give 0 months or more.")
    month_index = received.month - 1 + months
    year, month = received.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(received.day, calendar.monthrange(year, month)[1]))


def public_holidays(holidays_country: str, year: int) -> frozenset[dt.date]:
    """The public holidays of one year in one country (an ISO 3166-1 code), as periods count them (Art. 2(1) of
    Regulation 1182/71): the nationwide public holidays of the `holidays` package, with the days in
    ``_EXTRA_HOLIDAYS`` (the Netherlands: 5 May every year).

    Two kinds of days are not counted, so a deadline can end a day or two before the company could argue it does:
    regional holidays (a German Land's), and the days the Dutch government equates with holidays for a few years
    at a time (Art. 3(3) of the Algemene termijnenwet, such as the Friday after Ascension Day). Staff check the
    calendar before a complaint about a request only just overdue.

    Raises ValueError for a country the package does not know."""
    return _public_holidays(holidays_country.strip().upper(), year)


@lru_cache(maxsize=1024)
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    try:
        days = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        raise ValueError(
            f"No public holidays are known for the country '{country}': give an ISO 3166-1 code such as NL or IE"
            " (holidays_country_for picks it from a company's country)."
        ) from None
    extra = {dt.date(year, month, day) for month, day in _EXTRA_HOLIDAYS.get(country, ())}
    return frozenset(days.keys()) | extra


def is_working_day(day: dt.date, holidays_country: str) -> bool:
    """Neither a Saturday, a Sunday nor a public holiday of ``holidays_country`` (Art. 2(2) of Regulation 1182/71
    calls such days working days)."""
    return day.weekday() < 5 and day not in public_holidays(holidays_country, day.year)


def working_day_on_or_after(day: dt.date, holidays_country: str) -> dt.date:
    """``day`` itself when it is a working day, else the first working day after it: where a period whose last day
    is a Saturday, Sunday or public holiday ends (Art. 3(4) of Regulation 1182/71)."""
    while not is_working_day(day, holidays_country):
        day += dt.timedelta(days=1)
    return day


def answer_due(received: dt.date, holidays_country: str, extension_months: int = 0) -> dt.date:
    """The last day on which the company may answer a request it received on ``received``: one month later (Art.
    12(3) GDPR), plus ``extension_months`` further months when an extension counts, counted from the receipt
    under Art. 3(2)(c) of Regulation 1182/71 and then moved to the next working day of ``holidays_country`` when
    it falls on a weekend or public holiday (Art. 3(4)).

    The extension is counted from the receipt (1 + n months), not from the first month's end: received on
    31 January, the extended period ends on 30 April, not 28 April. More than two further months count as two, the
    most Art. 12(3) allows; whether a claim counts at all is :func:`deadline`'s question."""
    if extension_months < 0:
        raise ValueError(f"An extension of {extension_months} months cannot be counted: give 0, 1 or 2 months.")
    months = 1 + min(extension_months, MAX_EXTENSION_MONTHS)
    return working_day_on_or_after(period_end(received, months), holidays_country)


def deadline(
    received: dt.date,
    holidays_country: str,
    *,
    extension_claimed_on: dt.date | None = None,
    extension_months: int = 0,
) -> Deadline:
    """The deadline of a request received on ``received``, with an extension the company claimed on
    ``extension_claimed_on`` for ``extension_months`` further months, if any.

    Art. 12(3) GDPR lets the company extend the month by at most two further months only if it informs the person
    "within one month of receipt": a claim made on or before the first month's due day (itself moved off weekends
    and holidays, since the month lasts until then) counts, capped at two months; a later claim does not move the
    deadline, and the result says so (``reason``), so staff can answer the company and the reminder still calls
    the request overdue after the first month.

    Raises ValueError for a claim without a number of months, or months without the day they were claimed."""
    first_month_due = answer_due(received, holidays_country)
    if extension_claimed_on is None:
        if extension_months:
            raise ValueError(
                f"An extension of {extension_months} months needs the day the company claimed it: record that day."
            )
        return Deadline(received, first_month_due, first_month_due, 0, 0, ExtensionOutcome.NOT_CLAIMED)
    if extension_months < 1:
        raise ValueError(
            f"The extension claimed on {extension_claimed_on.isoformat()} has {extension_months} months: record the"
            " number of further months the company claimed (1 or 2)."
        )
    if extension_claimed_on > first_month_due:
        return Deadline(received, first_month_due, first_month_due, extension_months, 0, ExtensionOutcome.CLAIMED_LATE)
    counted = min(extension_months, MAX_EXTENSION_MONTHS)
    reason = ExtensionOutcome.CAPPED if extension_months > counted else ExtensionOutcome.COUNTED
    due = answer_due(received, holidays_country, counted)
    return Deadline(received, first_month_due, due, extension_months, counted, reason)


def holidays_country_for(company_country: str | None, foundation_country: str = "NL") -> str:
    """Whose public holidays move a company's deadline: its own country's when that is in the EU or the EEA (Art.
    2(1) of Regulation 1182/71: the Member State where the act, the answer, is to be done); for a company
    elsewhere, or whose country is unknown, the foundation's, where the answer is to arrive and where the
    foundation would complain to the supervisory authority (Art. 77 GDPR). The result is an upper-case ISO 3166-1
    code for :func:`answer_due`."""
    country = (company_country or "").strip().upper()
    if country in EU_EEA_REGIONS:
        return country
    return foundation_country.strip().upper()


def status_on(today: dt.date, due: dt.date, answered_on: dt.date | None = None) -> DeadlineState:
    """A request's state on ``today``, for the daily reminder and the console's timeline:

    - ``answered``: an answer was recorded on or before ``today`` (late or not: compare ``answered_on`` with
      ``due`` for that); an answer recorded for a later day leaves the earlier days as they were;
    - ``overdue``: ``today`` is after ``due`` (the period ends at the end of the due day, Art. 3(2)(c) of
      Regulation 1182/71, so the due day itself is not overdue);
    - ``due_soon``: ``due`` is today or within :data:`DUE_SOON_DAYS` days;
    - ``open``: otherwise."""
    if answered_on is not None and answered_on <= today:
        return "answered"
    if today > due:
        return "overdue"
    if (due - today).days <= DUE_SOON_DAYS:
        return "due_soon"
    return "open"
