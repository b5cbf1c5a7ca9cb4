"""Retention: what is kept no longer than needed.

A sign-up that never became a participant (no verified address, no signature, or a payment never made) is
erased, with everything about it (personal data, evidence, payment attempts), a set number of days after it
started (``signup.erase_unfinished_after_days`` in the campaign file, 60 by default: more than the 30 days a
payment link stays valid). A sign-up whose payment is on its way (a bank transfer being processed, a checkout
still open) is left until that is settled; a withdrawn one is never erased here (its participant ended it, and it
is kept as evidence of that: :mod:`core.signup.withdrawal`). Jobs that ended long ago keep no payload (a failed
mail may still hold the address it was for), and login links to the participant's page go a day after they were
mailed. Files exported on the staff console are deleted an hour after they were made (:mod:`core.staff.exports`).
``flask retention run`` does all of this and reports the counts; run it daily (hourly, if staff export often).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.models import Job, JobStatus, LoginLink, Payment, PaymentState, Signup, participant
from core.jobs.queue import EMPTY_PAYLOAD

BATCH = 500
JOB_PAYLOADS_KEPT = dt.timedelta(days=30)
LOGIN_LINKS_KEPT = dt.timedelta(days=1)


@dataclass(frozen=True)
class Erased:
    campaign: str
    days: int
    signups: int


def _in_flight(now: dt.datetime):  # type: ignore[no-untyped-def]
    """A payment that may still arrive: being processed, or a checkout not yet expired."""
    return exists().where(
        Payment.signup_id == Signup.id,
        or_(
            Payment.state == PaymentState.PROCESSING,
            and_(
                Payment.state.in_((PaymentState.OPEN, PaymentState.CANCELLED, PaymentState.CREATED)),
                or_(Payment.expires_at.is_(None), Payment.expires_at > now),
            ),
        ),
    )


def _batches(session: Session, query) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    while ids := list(session.scalars(query.limit(BATCH))):
        yield ids


def delete_signups(session: Session, ids: list[int]) -> None:
    """Delete sign-ups whole: their evidence, personal data, agreements and payments go with them (ON DELETE
    CASCADE). For what never became a mandate; see :mod:`core.signup.withdrawal` for what a signed one keeps."""
    session.execute(delete(Signup).where(Signup.id.in_(ids)))


def erase_unfinished(
    session: Session, campaigns: Iterable[LoadedCampaign], now: dt.datetime, dry_run: bool = False
) -> list[Erased]:
    """Erase every campaign's unfinished sign-ups older than its limit; commits each batch. Returns the counts."""
    results = []
    for loaded in campaigns:
        signup_config = loaded.campaign.signup
        days = signup_config.erase_unfinished_after_days if signup_config else 60
        # A withdrawn sign-up was signed and ended by its participant: it is kept as evidence of that.
        query = select(Signup.id).where(
            Signup.campaign == loaded.slug,
            not_(participant()),
            Signup.withdrawn_at.is_(None),
            Signup.created_at < now - dt.timedelta(days=days),
            not_(_in_flight(now)),
        )
        if dry_run:
            count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        else:
            count = 0
            for ids in _batches(session, query.order_by(Signup.id)):
                delete_signups(session, ids)
                session.commit()
                count += len(ids)
        results.append(Erased(loaded.slug, days, count))
    return results


def empty_old_job_payloads(session: Session, now: dt.datetime, dry_run: bool = False) -> int:
    """Empty the payloads of jobs that ended more than 30 days ago (failed ones keep theirs until then, for staff
    to see what failed)."""
    ended = and_(
        Job.status.in_((JobStatus.DONE, JobStatus.FAILED)),
        Job.payload != EMPTY_PAYLOAD,
        Job.finished_at < now - JOB_PAYLOADS_KEPT,
    )
    if dry_run:
        return session.scalar(select(func.count()).select_from(Job).where(ended)) or 0
    count = session.execute(update(Job).where(ended).values(payload=EMPTY_PAYLOAD)).rowcount
    session.commit()
    return count


def remove_old_login_links(session: Session, now: dt.datetime, dry_run: bool = False) -> int:
    """Remove login links mailed more than a day ago (used or not: they stopped working after 30 minutes)."""
    old = LoginLink.created_at < now - LOGIN_LINKS_KEPT
    if dry_run:
        return session.scalar(select(func.count()).select_from(LoginLink).where(old)) or 0
    count = session.execute(delete(LoginLink).where(old)).rowcount
    session.commit()
    return count
