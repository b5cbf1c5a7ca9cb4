"""Who a round's request to one company is made for: the one place that decides it, so the package, the members
recorded with it and the count the command prints always agree.

A participant is in round R's request to company X of campaign C when they are all of:

- a confirmed participant of C (:func:`core.data.models.participant`: signed, paid where asked, not withdrawn),
  whose mandate PDF was made (the package encloses it; the worker makes it just after signing);
- someone who chose X (``request_choices``), or, where C offers X alone, chose nothing: they signed before C asked
  for a choice, and their mandate names C's company (:func:`chose`);
- signed on or before R's ``submit_on``, until the end of that day in the Netherlands, where the foundation files
  the requests (a participant who signs that evening is still in);
- not a member of another request to X of C (a participant is in one request per company: the first round that
  takes them; preparing a round again replaces only its own members);
- when C asks ID proof, someone whose latest proof is accepted and still has its image (the package encloses it; an
  image erased after ``proof_kept_days`` must be uploaded again).

A participant who named another company (``other``) is in no request through that choice: staff review those
names first (:func:`others_waiting` counts those still waiting for it, for the summary). A name matched to a
company of the catalogue adds a choice of that company (:mod:`core.data_requests.named_companies`), which the next
round takes like any other.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from core.data.models import (
    CompanyRequest,
    IdentityProof,
    ProofState,
    RequestChoice,
    RequestMember,
    Signup,
    participant,
)
from core.data_requests.choices import OTHER
from core.data_requests.settings import DataRequestSettings, Round

#: Where the foundation files the requests: a round's day ends at midnight here.
FOUNDATION_TIMEZONE = ZoneInfo("Europe/Amsterdam")


def round_of(settings: DataRequestSettings, round_id: str) -> Round:
    """The round ``round_id`` of a campaign's settings. Raises LookupError naming the rounds there are."""
    for round_ in settings.rounds:
        if round_.id == round_id:
            return round_
    known = ", ".join(round_.id for round_ in settings.rounds) or "none"
    raise LookupError(f"no round '{round_id}' in the campaign's data_request settings (its rounds: {known})")


def signed_before(submit_on: dt.date) -> dt.datetime:
    """The first moment (UTC) after ``submit_on`` in the Netherlands: who signed before it is in the round."""
    next_day = dt.datetime.combine(submit_on + dt.timedelta(days=1), dt.time(), tzinfo=FOUNDATION_TIMEZONE)
    return next_day.astimezone(dt.UTC)


def latest_proof_accepted() -> ColumnElement[bool]:
    """The SQL condition: the sign-up's newest ID proof is accepted and its image is still kept."""
    newest = aliased(IdentityProof)
    # Correlated to the outer query's sign-up explicitly: inside exists() it would otherwise look for the sign-up
    # in the enclosing select only, and take the newest proof of every sign-up.
    latest_id = select(func.max(newest.id)).where(newest.signup_id == Signup.id).correlate(Signup).scalar_subquery()
    return exists().where(
        IdentityProof.signup_id == Signup.id,
        IdentityProof.id == latest_id,
        IdentityProof.state == ProofState.ACCEPTED,
        IdentityProof.sealed_image.is_not(None),
    )


def in_round(
    campaign: str, settings: DataRequestSettings, round_: Round, company: str, request_id: int | None = None
) -> list[ColumnElement[bool]]:
    """The SQL conditions on :class:`~core.data.models.Signup` for the members of ``round_``'s request to
    ``company`` (see the module); ``request_id``, when that request exists already, is the one whose members do
    not count as taken (they are replaced when it is prepared again)."""
    taken = (
        select(RequestMember.signup_id)
        .join(CompanyRequest, CompanyRequest.id == RequestMember.company_request_id)
        .where(
            RequestMember.signup_id == Signup.id,
            CompanyRequest.campaign == campaign,
            CompanyRequest.company == company,
        )
    )
    if request_id is not None:
        taken = taken.where(CompanyRequest.id != request_id)
    conditions = [
        Signup.campaign == campaign,
        participant(),
        Signup.mandate_sha256.is_not(None),
        Signup.signed_at < signed_before(round_.submit_on),
        chose(settings, company),
        ~taken.exists(),
    ]
    if settings.identity_proof:
        conditions.append(latest_proof_accepted())
    return conditions


def chose(settings: DataRequestSettings, company: str) -> ColumnElement[bool]:
    """The SQL condition on :class:`~core.data.models.Signup`: the participant chose ``company``. Where the campaign
    offers that company alone, also a participant who chose nothing: they signed before the campaign asked for a
    choice (its data request was added to a running campaign), and their mandate names the campaign's company."""
    chosen = exists().where(RequestChoice.signup_id == Signup.id, RequestChoice.company == company)
    if settings.companies == [company]:
        return or_(chosen, ~exists().where(RequestChoice.signup_id == Signup.id))
    return chosen


def member_count(session: Session, conditions: list[ColumnElement[bool]]) -> int:
    """How many sign-ups the conditions of :func:`in_round` take."""
    return session.scalar(select(func.count()).select_from(Signup).where(and_(*conditions))) or 0


def others_waiting(session: Session, campaign: str, round_: Round) -> int:
    """Participants of ``campaign`` who named another company not reviewed yet and signed by ``round_``'s day:
    their requests wait for staff to review the names, and are in no package here."""
    chose_other = exists().where(
        RequestChoice.signup_id == Signup.id, RequestChoice.company == OTHER, RequestChoice.review.is_(None)
    )
    query = (
        select(func.count())
        .select_from(Signup)
        .where(
            Signup.campaign == campaign, participant(), Signup.signed_at < signed_before(round_.submit_on), chose_other
        )
    )
    return session.scalar(query) or 0
