"""The companies a participant asks the foundation to request their data from, chosen in the join flow before they
sign (the mandate names them), and the details each company needs to find them.

What is kept where:

- ``request_choices`` holds which companies, by the catalogue's slug (``other`` for one the participant named):
  a round finds its participants by it, and it says nothing about the person by itself.
- The name typed for ``other`` and the details for each company (an account's e-mail address, a user name...) are
  the participant's personal data: they go with the form's answers (sealed, and a working copy while the flow runs:
  :func:`core.data.personal_data.store_answers`), under :data:`ANSWERS_KEY`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from babel.lists import format_list
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.data import personal_data
from core.data.models import RequestChoice, Signup

OTHER = "other"  # the choice of a company the participant names themselves
ANSWERS_KEY = "data_request"  # where the answers keep what was chosen: {"other": name, "details": {slug: {id: value}}}
MAX_NAME = 200


class Identifier(Protocol):
    id: str
    type: str
    required: bool

    @property
    def label(self) -> Mapping[str, str]: ...


class Company(Protocol):
    slug: str
    name: str

    @property
    def identifiers(self) -> Sequence[Identifier]: ...


@dataclass(frozen=True)
class Chosen:
    """What a participant chose: companies of the catalogue by slug (in the campaign's order), the name of another
    one (or None), and the details for each, by company and identifier id."""

    companies: tuple[str, ...]
    other: str | None = None
    details: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def as_answers(self) -> dict[str, Any]:
        return {
            "companies": list(self.companies),
            "other": self.other,
            "details": {k: dict(v) for k, v in self.details.items()},
        }


def record(session: Session, signup: Signup, chosen: Chosen, now: dt.datetime) -> None:
    """Keep ``chosen`` for ``signup`` (replacing an earlier choice: they may go back before signing)."""
    session.execute(delete(RequestChoice).where(RequestChoice.signup_id == signup.id))
    slugs = [*chosen.companies, *([OTHER] if chosen.other else [])]
    session.add_all(RequestChoice(signup_id=signup.id, company=slug, chosen_at=now) for slug in slugs)
    personal_data.store_answers(session, signup, {ANSWERS_KEY: chosen.as_answers()})


def chosen_slugs(session: Session, signup: Signup) -> list[str]:
    """The slugs ``signup`` chose (``other`` included), in no particular order; empty before the choice."""
    return list(session.scalars(select(RequestChoice.company).where(RequestChoice.signup_id == signup.id)))


def chosen_from_answers(answers: Mapping[str, Any]) -> Chosen | None:
    """The choice as the working copy of the answers holds it (None before it was made, or once released)."""
    data = answers.get(ANSWERS_KEY)
    if not isinstance(data, dict):
        return None
    return Chosen(tuple(data.get("companies") or ()), data.get("other") or None, data.get("details") or {})


def companies_in_words(chosen: Chosen, companies: Mapping[str, Company], language: str) -> str:
    """The chosen companies as the mandate names them: their legal names, the one the participant named last and
    quoted (``TikTok Technology Ltd., Zoom Video Communications, Inc. and ‘Acme BV’``)."""
    names = [companies[slug].name if slug in companies else slug for slug in chosen.companies]
    if chosen.other:
        names.append(f"‘{chosen.other}’")
    return format_list(names, locale=language) if names else ""
