"""The dashboard's figures, counted in the database (never by loading sign-ups): the stages of the flow, sign-ups
per day, the fee options chosen, payments, and the background jobs (mail) that wait for a retry or gave up
(:mod:`core.staff.mail_queue`). Figures across campaigns count only the campaigns asked for (those the staff
account sees: :mod:`core.staff.roles`).

Days are the foundation's days (Europe/Amsterdam). Rows are grouped per UTC hour in SQL, which both SQLite and
PostgreSQL can do, and the hours are put into local days here: Amsterdam's offset is always whole hours.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.data.models import Payment, Signup, Stage, participant
from core.staff import mail_queue
from core.staff.mail_queue import QueuedJob, among

ZONE = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class Funnel:
    """How far a campaign's sign-ups got. ``started`` counts every sign-up; each later stage those that reached
    it (whatever happened after). ``participants`` is what the public counter counts live."""

    started: int = 0
    verified: int = 0
    signed: int = 0
    payment_required: int = 0  # signed where the fee model asks a payment first
    paid: int = 0
    participants: int = 0
    withdrawn: int = 0
    erased: int = 0
    today: int = 0  # sign-ups started today
    pre_registered: int = 0  # waiting for the campaign to open, or invited and not back yet: not participants
    invited: int = 0  # of those, invited (the campaign opened)


@dataclass(frozen=True)
class Day:
    day: dt.date
    started: int
    signed: int


@dataclass(frozen=True)
class PaymentLine:
    state: str
    count: int
    amount_cents: int


@dataclass
class CampaignFigures:
    funnel: Funnel
    days: list[Day]
    fee_options: list[tuple[str, int]]
    payments: list[PaymentLine]
    failed_jobs: list[QueuedJob]
    retrying_jobs: list[QueuedJob] = field(default_factory=list)
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    retrying_by_kind: dict[str, int] = field(default_factory=dict)
    first_signup: dt.datetime | None = None
    last_signup: dt.datetime | None = None


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZONE).astimezone(dt.UTC)


def today_local(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZONE).date()


def funnels(
    session: Session,
    now: dt.datetime | None = None,
    campaign: str | None = None,
    campaigns: Collection[str] | None = None,
) -> dict[str, Funnel]:
    """The funnel of every campaign that has sign-ups (or only of ``campaign``, or of ``campaigns``), in one
    query."""
    today_starts = local_midnight(today_local(now))
    rows = session.execute(
        select(
            Signup.campaign,
            func.count(),
            func.count(Signup.verified_at),
            func.sum(case((Signup.stage == Stage.SIGNED.value, 1), else_=0)),
            func.sum(case(((Signup.stage == Stage.SIGNED.value) & Signup.payment_required.is_(True), 1), else_=0)),
            func.count(Signup.paid_at),
            func.sum(case((participant(), 1), else_=0)),
            func.count(Signup.withdrawn_at),
            func.count(Signup.erased_at),
            func.sum(case((Signup.created_at >= today_starts, 1), else_=0)),
            func.sum(case((Signup.stage.in_((Stage.INTERESTED.value, Stage.INVITED.value)), 1), else_=0)),
            func.sum(case((Signup.stage == Stage.INVITED.value, 1), else_=0)),
        )
        .where(*([Signup.campaign == campaign] if campaign else []), *among(Signup.campaign, campaigns))
        .group_by(Signup.campaign)
    ).all()
    return {campaign: Funnel(*(int(value or 0) for value in values)) for campaign, *values in rows}


def _hour_of(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def _per_local_day(session: Session, column: Any, since: dt.datetime, *conditions: Any) -> Counter[dt.date]:
    hour = _hour_of(session, column)
    rows = session.execute(select(hour, func.count()).where(column >= since, *conditions).group_by(hour)).all()
    found: Counter[dt.date] = Counter()
    for text, n in rows:
        at = dt.datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        found[at.astimezone(ZONE).date()] += n
    return found


def per_day(
    session: Session,
    campaign: str | None,
    days: int,
    now: dt.datetime | None = None,
    campaigns: Collection[str] | None = None,
) -> list[Day]:
    """Sign-ups started and signed on each of the last ``days`` local days (today included), oldest first; of one
    campaign, or with ``campaign=None`` of all ``campaigns`` (None: every one)."""
    last = today_local(now)
    first = last - dt.timedelta(days=days - 1)
    since = local_midnight(first)
    where = [Signup.campaign == campaign] if campaign else among(Signup.campaign, campaigns)
    started = _per_local_day(session, Signup.created_at, since, *where)
    signed = _per_local_day(session, Signup.signed_at, since, *where)
    return [Day(day, started[day], signed[day]) for day in (first + dt.timedelta(n) for n in range(days))]


def campaign_figures(
    session: Session, campaign: str, days: int = 60, now: dt.datetime | None = None, failed_shown: int = 20
) -> CampaignFigures:
    funnel = funnels(session, now, campaign).get(campaign, Funnel())
    fee_options = [
        (option or "none (the fee model offers no choice)", n)
        for option, n in session.execute(
            select(Signup.fee_option, func.count())
            .where(Signup.campaign == campaign, Signup.stage == Stage.SIGNED.value, Signup.withdrawn_at.is_(None))
            .group_by(Signup.fee_option)
            .order_by(func.count().desc())
        )
    ]
    payments = [
        PaymentLine(state, n, int(amount or 0))
        for state, n, amount in session.execute(
            select(Payment.state, func.count(), func.sum(Payment.amount_cents))
            .where(Payment.campaign == campaign)
            .group_by(Payment.state)
            .order_by(Payment.state)
        )
    ]
    jobs = mail_queue.counts(session, [campaign])
    first, last = session.execute(
        select(func.min(Signup.created_at), func.max(Signup.created_at)).where(Signup.campaign == campaign)
    ).one()
    return CampaignFigures(
        funnel=funnel,
        days=per_day(session, campaign, days, now),
        fee_options=fee_options,
        payments=payments,
        failed_jobs=mail_queue.gave_up(session, [campaign], failed_shown),
        retrying_jobs=mail_queue.retrying(session, [campaign], failed_shown),
        failed_by_kind=jobs["failed"],
        retrying_by_kind=jobs["retrying"],
        first_signup=first,
        last_signup=last,
    )
