"""Deadlines of data requests (issue 20, item 6): receipt by channel, the month of Art. 12(3) GDPR counted under
Regulation 1182/71 (month ends, leap years, weekends, Dutch and Irish public holidays), extensions counted, capped
and claimed too late, and a request's state on a day.

The expected days are written out by hand from a calendar, not computed by the code under test; the property
tests then check the rules on dates and countries hypothesis picks (a fixed set of examples each run).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data_requests.deadlines import (
    Channel,
    ExtensionOutcome,
    answer_due,
    deadline,
    holidays_country_for,
    is_working_day,
    period_end,
    public_holidays,
    received_on,
    status_on,
)
from core.phones.limits import EU_EEA_REGIONS

D = dt.date.fromisoformat


# --- Regulation 1182/71, Art. 3(2)(c): the same date in the last month, or that month's last day -------------------


@pytest.mark.parametrize(
    ("received", "months", "end"),
    [
        ("2026-03-15", 1, "2026-04-15"),  # the same date, the day of receipt not counted
        ("2026-01-31", 1, "2026-02-28"),  # no 31 February: the month's last day
        ("2024-01-31", 1, "2024-02-29"),  # 2024 is a leap year
        ("2024-01-30", 1, "2024-02-29"),
        ("2024-01-29", 1, "2024-02-29"),
        ("2100-01-31", 1, "2100-02-28"),  # divisible by 100 and not by 400: no leap year
        ("2100-01-29", 1, "2100-02-28"),
        ("2000-01-31", 1, "2000-02-29"),  # divisible by 400: a leap year
        ("2026-08-31", 1, "2026-09-30"),
        ("2026-12-15", 1, "2027-01-15"),  # into the next year
        ("2026-02-28", 1, "2026-03-28"),  # the 28th, not the month's end: the same date
        ("2026-01-31", 3, "2026-04-30"),
        ("2026-11-30", 3, "2027-02-28"),
        ("2024-02-29", 12, "2025-02-28"),
    ],
)
def test_a_period_in_months_ends_on_the_same_date_or_the_months_last_day(received: str, months: int, end: str) -> None:
    assert period_end(D(received), months) == D(end)


def test_a_negative_period_is_refused() -> None:
    with pytest.raises(ValueError, match="-1 months"):
        period_end(D("2026-03-15"), -1)


# --- one month, moved off weekends and holidays (Art. 3(4)) -------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due", "why"),
    [
        ("2026-03-15", "2026-04-15", "a Wednesday: stays"),
        ("2026-04-16", "2026-05-18", "16 May 2026 is a Saturday: the Monday"),
        ("2026-01-31", "2026-03-02", "28 February 2026 is a Saturday: Monday 2 March"),
        ("2024-01-31", "2024-02-29", "a Thursday in a leap year"),
        ("2024-01-30", "2024-02-29", "30 January 2024 gives 29 February"),
        ("2100-01-31", "2100-03-01", "28 February 2100 is a Sunday, and no 29th: Monday 1 March"),
        ("2000-01-31", "2000-02-29", "a Tuesday in a leap year"),
        ("2026-03-06", "2026-04-07", "Easter Monday 6 April 2026: the Tuesday"),
        ("2026-03-03", "2026-04-07", "Good Friday 3 April 2026 (NL), the weekend, Easter Monday: the Tuesday"),
        ("2026-03-27", "2026-04-28", "King's Day, Monday 27 April 2026: the Tuesday"),
        ("2026-04-05", "2026-05-06", "5 May, every year in the Algemene termijnenwet: Wednesday 6 May 2026"),
        ("2026-11-25", "2026-12-28", "Christmas on a Friday, then the weekend: Monday 28 December"),
        ("2022-11-25", "2022-12-27", "Christmas on a Sunday, Boxing Day on the Monday: the Tuesday"),
        ("2021-11-26", "2021-12-27", "Boxing Day on a Sunday: Monday 27 December"),
        ("2026-02-17", "2026-03-17", "St Patrick's Day is no Dutch holiday"),
    ],
)
def test_one_month_in_the_netherlands(received: str, due: str, why: str) -> None:
    assert answer_due(D(received), "NL") == D(due), why


@pytest.mark.parametrize(
    ("received", "due", "why"),
    [
        ("2026-02-17", "2026-03-18", "St Patrick's Day, Tuesday 17 March 2026: the Wednesday"),
        ("2026-03-06", "2026-04-07", "Easter Monday is an Irish holiday too"),
        ("2026-03-03", "2026-04-03", "Good Friday is no Irish public holiday"),
        ("2026-03-27", "2026-04-27", "King's Day is no Irish holiday"),
        ("2026-04-05", "2026-05-05", "5 May is no Irish holiday (the May bank holiday is the 4th in 2026)"),
        ("2022-11-25", "2022-12-27", "Christmas on a Sunday, St Stephen's Day on the Monday: the Tuesday"),
    ],
)
def test_one_month_in_ireland(received: str, due: str, why: str) -> None:
    assert answer_due(D(received), "IE") == D(due), why


def test_kings_day_is_the_26th_when_the_27th_is_a_sunday() -> None:
    # 27 April 2025 and 2014 were Sundays: King's Day moved to the Saturday before. It can never move a deadline by
    # itself (it is then a Saturday), but the holiday list must be right for the console's calendar.
    for year in (2014, 2025):
        assert D(f"{year}-04-26") in public_holidays("NL", year)
        assert D(f"{year}-04-27") not in public_holidays("NL", year)
    assert D("2026-04-27") in public_holidays("NL", 2026)
    assert D("2026-04-26") not in public_holidays("NL", 2026)


def test_liberation_day_counts_every_year_in_the_netherlands() -> None:
    for year in (2026, 2027, 2029, 2030):
        assert D(f"{year}-05-05") in public_holidays("NL", year)
    assert not is_working_day(D("2027-05-05"), "NL")  # a Wednesday
    assert is_working_day(D("2027-05-05"), "BE")


def test_a_year_turn_with_new_years_day_on_a_sunday() -> None:
    # 31 October 2022 + 2 months is Saturday 31 December; 1 January 2023 is a Sunday and New Year's Day.
    assert answer_due(D("2022-10-31"), "NL", extension_months=1) == D("2023-01-02")


def test_an_unknown_holidays_country_says_what_to_give() -> None:
    with pytest.raises(ValueError, match=r"'XX'.*ISO 3166-1 code such as NL or IE"):
        answer_due(D("2026-03-15"), "XX")


def test_a_country_code_in_lower_case_counts_the_same_holidays() -> None:
    assert public_holidays("nl", 2026) == public_holidays("NL", 2026)
    assert answer_due(D("2026-04-05"), " nl ") == D("2026-05-06")


# --- extensions (Art. 12(3) GDPR) ---------------------------------------------------------------------------------


def test_an_extension_is_counted_from_receipt() -> None:
    # Received 31 January: three months from receipt end on 30 April, two months after 28 February would be 28 April.
    assert answer_due(D("2026-01-31"), "NL", extension_months=2) == D("2026-04-30")
    # 27 January + 3 months is King's Day 2026: moved again, to the Tuesday.
    assert answer_due(D("2026-01-27"), "NL", extension_months=2) == D("2026-04-28")


def test_an_extension_claimed_within_the_first_month_counts() -> None:
    result = deadline(D("2026-03-15"), "NL", extension_claimed_on=D("2026-04-10"), extension_months=2)
    assert result.first_month_due == D("2026-04-15")
    assert result.due == D("2026-06-15")
    assert result.extension_counted
    assert result.reason is ExtensionOutcome.COUNTED
    assert (result.claimed_months, result.extension_months) == (2, 2)


def test_an_extension_of_more_than_two_months_is_capped_at_two() -> None:
    result = deadline(D("2026-03-15"), "NL", extension_claimed_on=D("2026-04-10"), extension_months=5)
    assert result.due == D("2026-06-15")
    assert result.extension_counted
    assert result.reason is ExtensionOutcome.CAPPED
    assert (result.claimed_months, result.extension_months) == (5, 2)
    assert answer_due(D("2026-03-15"), "NL", extension_months=5) == D("2026-06-15")


def test_an_extension_claimed_on_the_moved_last_day_of_the_first_month_still_counts() -> None:
    # Received 31 January 2026: the month ends on Saturday 28 February, so it lasts until Monday 2 March.
    result = deadline(D("2026-01-31"), "NL", extension_claimed_on=D("2026-03-02"), extension_months=1)
    assert result.first_month_due == D("2026-03-02")
    assert result.extension_counted
    assert result.due == D("2026-03-31")


def test_an_extension_claimed_after_the_first_month_does_not_move_the_deadline() -> None:
    result = deadline(D("2026-01-31"), "NL", extension_claimed_on=D("2026-03-03"), extension_months=2)
    assert result.due == result.first_month_due == D("2026-03-02")
    assert not result.extension_counted
    assert result.reason is ExtensionOutcome.CLAIMED_LATE
    assert (result.claimed_months, result.extension_months) == (2, 0)
    assert status_on(D("2026-03-03"), result.due) == "overdue"


def test_without_an_extension_the_first_month_stands() -> None:
    result = deadline(D("2026-03-15"), "IE")
    assert result.due == result.first_month_due == D("2026-04-15")
    assert result.reason is ExtensionOutcome.NOT_CLAIMED
    assert not result.extension_counted


def test_an_extension_needs_both_its_day_and_its_months() -> None:
    with pytest.raises(ValueError, match="needs the day the company claimed it"):
        deadline(D("2026-03-15"), "NL", extension_months=2)
    with pytest.raises(ValueError, match="record the number of further months"):
        deadline(D("2026-03-15"), "NL", extension_claimed_on=D("2026-04-01"))
    with pytest.raises(ValueError, match="-1 months"):
        answer_due(D("2026-03-15"), "NL", extension_months=-1)


# --- receipt ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WEBFORM, Channel.FAX, "email", "webform"])
def test_electronic_requests_arrive_the_day_they_are_sent(channel: Channel | str) -> None:
    assert received_on(D("2026-07-28"), channel) == D("2026-07-28")


def test_a_letter_arrives_after_calendar_days() -> None:
    # Posted Thursday 23 July 2026: three calendar days is Sunday 26 July (weekend days count).
    assert received_on(D("2026-07-23"), Channel.LETTER) == D("2026-07-26")
    assert received_on(D("2026-07-23"), "letter", letter_days=5) == D("2026-07-28")
    assert received_on(D("2026-07-23"), Channel.LETTER, letter_days=0) == D("2026-07-23")


def test_a_recorded_receipt_wins() -> None:
    assert received_on(D("2026-07-23"), Channel.LETTER, recorded=D("2026-07-30")) == D("2026-07-30")
    assert received_on(D("2026-07-23"), Channel.LETTER, recorded=D("2026-07-24")) == D("2026-07-24")
    assert received_on(D("2026-07-28"), Channel.EMAIL, recorded=D("2026-07-29")) == D("2026-07-29")


def test_receipt_mistakes_are_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"2026-07-20 lies before the request was sent \(2026-07-23\)"):
        received_on(D("2026-07-23"), Channel.LETTER, recorded=D("2026-07-20"))
    with pytest.raises(ValueError, match="give 0 days or more"):
        received_on(D("2026-07-23"), Channel.LETTER, letter_days=-1)
    with pytest.raises(ValueError, match="pigeon"):
        received_on(D("2026-07-23"), "pigeon")


# --- whose holidays -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("company_country", "foundation_country", "expected"),
    [
        ("IE", "NL", "IE"),
        (" ie ", "NL", "IE"),
        ("DE", "NL", "DE"),
        ("NO", "NL", "NO"),  # the EEA
        ("US", "NL", "NL"),
        ("GB", "NL", "NL"),
        ("CH", "NL", "NL"),  # neither EU nor EEA
        (None, "NL", "NL"),
        ("", "NL", "NL"),
        ("US", "be", "BE"),
    ],
)
def test_holidays_country(company_country: str | None, foundation_country: str, expected: str) -> None:
    assert holidays_country_for(company_country, foundation_country) == expected


def test_every_eu_and_eea_country_has_its_holidays() -> None:
    for country in EU_EEA_REGIONS:
        assert public_holidays(holidays_country_for(country), 2026), country


# --- state on a day -----------------------------------------------------------------------------------------------


def test_status_on() -> None:
    due = D("2026-04-15")
    assert status_on(D("2026-04-07"), due) == "open"  # eight days to go
    assert status_on(D("2026-04-08"), due) == "due_soon"  # seven
    assert status_on(due, due) == "due_soon"  # the period ends at the end of the due day
    assert status_on(D("2026-04-16"), due) == "overdue"
    assert status_on(D("2026-04-16"), due, answered_on=D("2026-04-16")) == "answered"
    assert status_on(D("2026-05-01"), due, answered_on=D("2026-04-20")) == "answered"  # late, but answered
    assert status_on(D("2026-04-10"), due, answered_on=D("2026-04-20")) == "due_soon"  # not answered yet that day
    assert status_on(D("2026-04-01"), due, answered_on=D("2026-04-01")) == "answered"


# --- properties ---------------------------------------------------------------------------------------------------

PROPERTIES = settings(max_examples=300, derandomize=True, deadline=None)
receipts = st.dates(min_value=D("1980-01-01"), max_value=D("2099-12-31"))
countries = st.sampled_from(sorted({*EU_EEA_REGIONS, "NL", "IE"}))


@PROPERTIES
@given(receipts, countries)
def test_the_due_day_is_the_first_working_day_from_the_months_end(received: dt.date, country: str) -> None:
    due = answer_due(received, country)
    end = period_end(received, 1)
    assert received + dt.timedelta(days=28) <= end <= received + dt.timedelta(days=31)
    # A week at most for weekends and holidays in a row (Easter from Thursday to Monday is the longest in the list).
    assert end <= due <= received + dt.timedelta(days=31 + 7)
    assert due.weekday() < 5
    assert due not in public_holidays(country, due.year)
    day = end
    while day < due:  # every day it was moved across is a weekend day or a holiday
        assert not is_working_day(day, country)
        day += dt.timedelta(days=1)


@PROPERTIES
@given(receipts, countries)
def test_an_extension_always_ends_later(received: dt.date, country: str) -> None:
    plain = answer_due(received, country)
    one_more = answer_due(received, country, extension_months=1)
    two_more = answer_due(received, country, extension_months=2)
    assert plain < one_more < two_more
    assert two_more == answer_due(received, country, extension_months=3)
    for due in (one_more, two_more):
        assert is_working_day(due, country)
