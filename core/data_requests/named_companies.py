"""Staff review of the company a participant named themselves (``other`` in ``request_choices``): matched to a
company of the catalogue, or declined with a reason that is mailed to the participant. The console's Named
companies page and ``flask requests named | match | decline`` call these same functions.

- **The name typed is personal data**: it is in the participant's sealed answers (:data:`choices.ANSWERS_KEY`), so
  it is listed only with the foundation's private key (:func:`waiting`); counting the waiting ones opens nothing.
- **One decision counts**: the review is written in one ``UPDATE ... WHERE review IS NULL``; a second reviewer
  gets :attr:`Outcome.NOT_WAITING` and nothing is added or mailed.
- **A match adds the participant to that company**: a ``request_choices`` row for its slug (unless they chose it
  already), so the next round takes them (:func:`core.data_requests.rounds.in_round`), and the round prepares a
  request to every catalogue company some participant was matched to (:func:`matched_companies`). The participant
  gave no details for it (an account's address...): its annex holds their name, reference and birth date only.
- **A decline's reason is kept as the participant reads it**, in their language and the campaign's form of address,
  and mailed through the contact copy of their address (as :mod:`core.data_requests.proof_review` does); their page
  shows it. The other companies they chose are not affected, and the mail says so.

The caller commits: the decision, its mail and the caller's audit entry go in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.companies import Company, current_catalogue
from core.data import personal_data
from core.data.models import PersonalRecord, RequestChoice, Signup, participant
from core.data_requests import proof_review
from core.data_requests.choices import ANSWERS_KEY, OTHER
from core.i18n import AddressForm, addressing
from core.sealing import OpeningKeys

MAIL_TEMPLATE = "company_declined"  # mail/company_declined.{subject.txt,txt,html}
MAIL_KIND = "company-declined"
MAX_REASON = proof_review.MAX_REASON  # request_choices.review_reason is String(500), as identity_proofs.reason
OTHER_REASON = "other"  # the staff member writes the reason
SHOWN_WAITING = 200
# The common reasons, by code, as the (English-only) console names them ...
REASONS = {
    "not-found": "We cannot find this company",
    "outside-eea": "It is not established in the EU/EEA and does not offer its services here",
}
# ... and as the participant reads them, after "We will not send a request to the company you named:".
_WORDED = {
    "not-found": _l("we cannot find this company."),
    "outside-eea": _l("it is not established in the EU or the EEA and does not offer its services here."),
}


class Review(StrEnum):
    MATCHED = "matched"
    DECLINED = "declined"


class Outcome(StrEnum):
    MATCHED = "matched"
    DECLINED_MAILED = "declined-mailed"
    DECLINED_NOT_MAILED = "declined-not-mailed"  # no contact copy: the participant cannot be told by mail
    NOT_WAITING = "not-waiting"  # decided by someone else just now: nothing was changed


class ReviewError(ValueError):
    """A decision that cannot be made as asked (no reason, an unknown company); the message says what to give."""


@dataclass(frozen=True)
class Named:
    """A participant's named company waiting for review, as the console lists it (with the key file)."""

    signup_id: int
    reference: str  # the first 12 characters of the sign-up's token, as everywhere in the console
    name: str  # as the participant typed it ("" when their answers hold none)
    chosen_at: dt.datetime


def catalogue_of(loaded: LoadedCampaign) -> Mapping[str, Company]:
    """Every company of the catalogue (that loaded), by slug: a named company may be matched to any of them."""
    catalogue, _problems = current_catalogue(loaded.path.parent)
    return catalogue.companies


def _waiting_conditions(campaign: str) -> list[Any]:
    return [
        Signup.campaign == campaign,
        participant(),
        RequestChoice.signup_id == Signup.id,
        RequestChoice.company == OTHER,
        RequestChoice.review.is_(None),
    ]


def waiting_count(session: Session, campaign: str) -> int:
    """How many participants of ``campaign`` named a company that waits for review (opens nothing)."""
    query = select(func.count()).select_from(RequestChoice).join(Signup, Signup.id == RequestChoice.signup_id)
    return session.scalar(query.where(*_waiting_conditions(campaign))) or 0


def waiting(session: Session, campaign: str, keys: OpeningKeys, limit: int = SHOWN_WAITING) -> list[Named]:
    """The named companies of ``campaign`` waiting for review, oldest first, each with the name typed (opened from
    the participant's sealed answers with ``keys``: raises :class:`core.sealing.SealingError` without the right
    key). The caller audits each one shown."""
    rows = session.execute(
        select(Signup.id, Signup.token, RequestChoice.chosen_at, PersonalRecord)
        .join(RequestChoice, RequestChoice.signup_id == Signup.id)
        .outerjoin(PersonalRecord, PersonalRecord.signup_id == Signup.id)
        .where(*_waiting_conditions(campaign))
        .order_by(RequestChoice.chosen_at, Signup.id)
        .limit(limit)
    ).all()
    found = []
    for signup_id, token, chosen_at, record in rows:
        name = ""
        if record is not None:
            answers = personal_data.open_record(record, keys).answers
            name = str((answers.get(ANSWERS_KEY) or {}).get(OTHER) or "")
        found.append(Named(signup_id, token[:12], name, chosen_at))
    return found


def entry_of(session: Session, campaign: str, reference: str) -> tuple[Signup, RequestChoice] | None:
    """The sign-up of ``campaign`` whose reference is ``reference`` and its named company (None: no such entry)."""
    if len(reference) != 12:
        return None
    row = session.execute(
        select(Signup, RequestChoice)
        .join(RequestChoice, RequestChoice.signup_id == Signup.id)
        .where(Signup.campaign == campaign, Signup.token.startswith(reference), RequestChoice.company == OTHER)
    ).first()
    return None if row is None else (row[0], row[1])


def decline_reason(choice: str, text: str, language: str, form: AddressForm) -> str:
    """The reason chosen in a form, as the participant reads it: one of :data:`REASONS` (worded in ``language`` and
    ``form``: needs an app context of the campaign app, which has the UI catalogs), or :data:`OTHER_REASON` with
    ``text``, 1 to :data:`MAX_REASON` characters. Raises :class:`ReviewError` with what to give instead."""
    if choice in _WORDED:
        with force_locale(language), addressing(form):
            return str(_WORDED[choice])
    if choice != OTHER_REASON:
        raise ReviewError("Choose why no request is sent to this company.")
    try:
        return proof_review.written_reason(text)  # the same rules as an ID copy's rejection (MAX_REASON is theirs)
    except proof_review.ReasonError as exc:
        raise ReviewError(str(exc)) from None


def _review(session: Session, signup: Signup, values: dict[str, Any]) -> bool:
    done = session.execute(
        update(RequestChoice)
        .where(RequestChoice.signup_id == signup.id, RequestChoice.company == OTHER, RequestChoice.review.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)


def match(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    company: str,
    staff_id: int | None,
    now: dt.datetime,
) -> Outcome:
    """Match ``signup``'s named company to ``company`` (a slug of the catalogue) and add the participant to it.
    Raises :class:`ReviewError` for a slug the catalogue does not have."""
    if company not in catalogue_of(loaded):
        raise ReviewError(
            f"'{company}' is not a company of the catalogue (campaigns/_shared/companies/): choose one of the list, or "
            "add the company first (flask companies import)"
        )
    values = {"review": Review.MATCHED, "matched_company": company, "reviewed_at": now, "reviewed_by": staff_id}
    if not _review(session, signup, values):
        return Outcome.NOT_WAITING
    chosen = exists().where(RequestChoice.signup_id == signup.id, RequestChoice.company == company)
    if not session.scalar(select(chosen)):
        session.execute(insert(RequestChoice).values(signup_id=signup.id, company=company, chosen_at=now))
    return Outcome.MATCHED


def decline(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    reason: str,
    staff_id: int | None,
    now: dt.datetime,
) -> Outcome:
    """Decline ``signup``'s named company for ``reason`` (as the participant reads it: :func:`decline_reason`) and
    queue the mail that tells them."""
    if not reason.strip():
        raise ReviewError("A decline needs a reason.")
    if len(reason) > MAX_REASON:
        raise ReviewError(f"The reason is {len(reason)} characters long: shorten it to at most {MAX_REASON}.")
    values = {"review": Review.DECLINED, "review_reason": reason, "reviewed_at": now, "reviewed_by": staff_id}
    if not _review(session, signup, values):
        return Outcome.NOT_WAITING
    # Never the name typed in the mail: the queue keeps its context, and the name is sealed personal data.
    mailed = proof_review.queue_reason_mail(session, loaded, signup, reason, MAIL_TEMPLATE, MAIL_KIND)
    return Outcome.DECLINED_MAILED if mailed else Outcome.DECLINED_NOT_MAILED


def matched_companies(session: Session, campaign: str) -> list[str]:
    """The catalogue companies some participant of ``campaign`` was matched to, by slug, sorted."""
    query = (
        select(RequestChoice.matched_company)
        .join(Signup, Signup.id == RequestChoice.signup_id)
        .where(Signup.campaign == campaign, RequestChoice.review == Review.MATCHED)
        .distinct()
    )
    return sorted(slug for slug in session.scalars(query) if slug)


def review_of(session: Session, signup: Signup) -> RequestChoice | None:
    """``signup``'s named company with its review (None: they named none)."""
    return session.get(RequestChoice, (signup.id, OTHER))
