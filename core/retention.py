"""Retention: what is kept no longer than needed.

A sign-up that never became a participant (no verified address, no signature, or a payment never made) is
erased, with everything about it (personal data, evidence, payment attempts), a set number of days after it
started (``signup.erase_unfinished_after_days`` in the campaign file, 60 by default: more than the 30 days a
payment link stays valid). A sign-up whose payment is on its way (a bank transfer being processed, a checkout
still open) is left until that is settled. Jobs that ended long ago keep no payload (a failed mail may still hold
the address it was for). ``flask retention run`` does both and reports the counts; run it daily.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session

from .campaigns import LoadedCampaign
from .db import utcnow
from .models import Job, JobStatus, Payment, PaymentState, Signup, participant
from .site import site

BATCH = 500
JOB_PAYLOADS_KEPT = dt.timedelta(days=30)


@dataclass(frozen=True)
class Erased:
    campaign: str
    days: int
    signups: int


def _in_flight(now: dt.datetime):  # type: ignore[no-untyped-def]
    """A payment that may still arrive: being processed, or a checkout not yet expired."""
    return exists().where(Payment.signup_id == Signup.id, or_(
        Payment.state == PaymentState.PROCESSING,
        and_(Payment.state.in_((PaymentState.OPEN, PaymentState.CANCELLED, PaymentState.CREATED)),
             or_(Payment.expires_at.is_(None), Payment.expires_at > now))))


def _batches(session: Session, query) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    while ids := list(session.scalars(query.limit(BATCH))):
        yield ids


def erase_unfinished(session: Session, campaigns: Iterable[LoadedCampaign], now: dt.datetime,
                     dry_run: bool = False) -> list[Erased]:
    """Erase every campaign's unfinished sign-ups older than its limit; commits each batch. Returns the counts."""
    results = []
    for loaded in campaigns:
        signup_config = loaded.campaign.signup
        days = signup_config.erase_unfinished_after_days if signup_config else 60
        query = select(Signup.id).where(Signup.campaign == loaded.slug, not_(participant()),
                                        Signup.created_at < now - dt.timedelta(days=days), not_(_in_flight(now)))
        if dry_run:
            count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        else:
            count = 0
            for ids in _batches(session, query.order_by(Signup.id)):
                # Evidence, personal data, agreements and payments go with it (ON DELETE CASCADE).
                session.execute(delete(Signup).where(Signup.id.in_(ids)))
                session.commit()
                count += len(ids)
        results.append(Erased(loaded.slug, days, count))
    return results


def empty_old_job_payloads(session: Session, now: dt.datetime, dry_run: bool = False) -> int:
    """Empty the payloads of jobs that ended more than 30 days ago (failed ones keep theirs until then, for staff
    to see what failed)."""
    ended = and_(Job.status.in_((JobStatus.DONE, JobStatus.FAILED)), Job.payload != "{}",
                 Job.finished_at < now - JOB_PAYLOADS_KEPT)
    if dry_run:
        return session.scalar(select(func.count()).select_from(Job).where(ended)) or 0
    count = session.execute(update(Job).where(ended).values(payload="{}")).rowcount
    session.commit()
    return count


@click.group("retention")
def retention_cli() -> None:
    """Erase what is kept no longer than needed."""


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Only count what would be erased.")
@with_appcontext
def run(dry_run: bool) -> None:
    """Erase unfinished sign-ups past their campaign's limit and old job payloads; print the counts."""
    now = utcnow()
    with current_app.extensions["claimsite.db"].sessions() as session:
        results = erase_unfinished(session, site().registry.snapshot.campaigns.values(), now, dry_run)
        jobs = empty_old_job_payloads(session, now, dry_run)
    verb = "would erase" if dry_run else "erased"
    for result in results:
        click.echo(f"{result.campaign}: {verb} {result.signups} unfinished sign-up(s) older than {result.days} days")
    click.echo(f"jobs: {'would empty' if dry_run else 'emptied'} {jobs} payload(s) of jobs that ended over "
               f"{JOB_PAYLOADS_KEPT.days} days ago")
