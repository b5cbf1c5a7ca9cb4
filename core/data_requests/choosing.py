"""The join flow's step that chooses the companies: what the form sent, read into a :class:`~core.data_requests.
choices.Chosen` or the problems to show, field by field.

The form has a checkbox per company offered (``company``, its slug), one for all of them (``all``) when the campaign
offers it, a text field for another company (``other``) when it allows one, and for each company the details it
needs to find the participant (``detail-<slug>-<identifier id>``): those are asked only of the companies chosen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.data_requests.choices import MAX_NAME, Chosen, Company, Identifier
from core.data_requests.settings import DataRequestSettings

MAX_DETAIL = 200


class ChoiceProblem(Enum):
    NOTHING_CHOSEN = "nothing-chosen"
    OTHER_TOO_LONG = "other-too-long"
    DETAIL_MISSING = "detail-missing"
    DETAIL_TOO_LONG = "detail-too-long"
    NOT_AN_EMAIL = "not-an-email"
    NOT_A_PHONE = "not-a-phone"
    NOT_A_DATE = "not-a-date"


@dataclass(frozen=True)
class ChoiceForm:
    """What the step's form sent, as typed (shown again with the problems, so nothing typed is lost)."""

    companies: frozenset[str]
    all_of_them: bool
    other: str
    details: Mapping[str, str]  # by field name, detail-<slug>-<id>

    @classmethod
    def read(cls, form: Mapping[str, str], companies: Sequence[str], all_of_them: bool) -> ChoiceForm:
        getlist = getattr(form, "getlist", None)
        ticked = set(getlist("company") if getlist else [form.get("company", "")])
        return cls(
            frozenset(slug for slug in companies if slug in ticked),
            all_of_them and form.get("all") == "yes",
            " ".join(str(form.get("other", "")).split()),
            {name: str(value).strip() for name, value in form.items() if name.startswith("detail-")},
        )


def detail_field(slug: str, identifier: Identifier) -> str:
    return f"detail-{slug}-{identifier.id}"


def _detail_problem(identifier: Identifier, value: str, region: str) -> ChoiceProblem | None:
    if not value:
        return ChoiceProblem.DETAIL_MISSING if identifier.required else None
    if len(value) > MAX_DETAIL:
        return ChoiceProblem.DETAIL_TOO_LONG
    if identifier.type == "email":
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            return ChoiceProblem.NOT_AN_EMAIL
    elif identifier.type == "phone":
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return ChoiceProblem.NOT_A_PHONE
        if not phonenumbers.is_possible_number(number):
            return ChoiceProblem.NOT_A_PHONE
    elif identifier.type == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return ChoiceProblem.NOT_A_DATE
    return None


def read_choice(
    form: ChoiceForm, settings: DataRequestSettings, companies: Mapping[str, Company], region: str = "NL"
) -> tuple[Chosen | None, dict[str, ChoiceProblem]]:
    """The choice the form makes, or the problems that keep it from being one (by field name; ``company`` for the
    choice itself). ``region`` reads a phone number written without its country code."""
    problems: dict[str, ChoiceProblem] = {}
    slugs = [slug for slug in settings.companies if form.all_of_them or slug in form.companies]
    other = form.other if settings.other_company else ""
    if len(other) > MAX_NAME:
        problems["other"] = ChoiceProblem.OTHER_TOO_LONG
    if not slugs and not other:
        problems["company"] = ChoiceProblem.NOTHING_CHOSEN
    details: dict[str, dict[str, str]] = {}
    for slug in slugs:
        company = companies.get(slug)
        for identifier in company.identifiers if company else ():
            name = detail_field(slug, identifier)
            value = form.details.get(name, "")
            problem = _detail_problem(identifier, value, region)
            if problem is not None:
                problems[name] = problem
            elif value:
                details.setdefault(slug, {})[identifier.id] = value
    if problems:
        return None, problems
    return Chosen(tuple(slugs), other or None, details), {}
