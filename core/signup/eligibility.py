"""Who may join a campaign: residence and age rules, checked on the server with a reason the visitor can read."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l

from core.campaigns.schema import Eligibility

# The EU and EEA member states, and Switzerland (the foundation's campaigns accept it too), as ISO 3166 codes.
EU_EEA_CH = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "CH",
    }
)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Whole years between ``birth_date`` and ``day`` (someone born on 29 February turns a year older on 1 March)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def residence_problem(rules: Eligibility, country: str | None) -> str | None:
    if rules.residence == "eu-eea" and country not in EU_EEA_CH:
        return str(_l("Only people who live in the EU, the EEA or Switzerland can join this campaign."))
    return None


def age_problem(rules: Eligibility, birth_date: dt.date | None, today: dt.date, for_child: bool) -> str | None:
    """For a sign-up for oneself, the person must be old enough; a parent joining for a child must be an adult."""
    if birth_date is None or not rules.minimum_age:
        return None
    if birth_date > today:
        return str(_l("This date of birth lies in the future."))
    if age_on(birth_date, today) > 120:
        return str(_l("Please check the year of this date of birth."))
    if age_on(birth_date, today) >= rules.minimum_age:
        return None
    if for_child:
        return str(_l("A parent or guardian who joins for a child must be %(age)s or older.", age=rules.minimum_age))
    if rules.minors == "parent":
        return str(
            _l("You must be %(age)s or older to join. A parent or guardian can join for you.", age=rules.minimum_age)
        )
    return str(_l("You must be %(age)s or older to join.", age=rules.minimum_age))


def child_problem(rules: Eligibility, child_birth_date: dt.date | None, today: dt.date) -> str | None:
    """A child signed up by a parent must really be under the minimum age (older children join themselves)."""
    if child_birth_date is None:
        return None
    if child_birth_date > today:
        return str(_l("This date of birth lies in the future."))
    if age_on(child_birth_date, today) >= rules.minimum_age:
        return str(
            _l("Your child is %(age)s or older and can join with their own e-mail address.", age=rules.minimum_age)
        )
    return None
