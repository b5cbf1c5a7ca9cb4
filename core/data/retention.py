"""Retention: what is kept no longer than needed.

A sign-up that never became a participant (no verified address, no signature, or a payment never made) is
erased, with everything about it (personal data, evidence, payment attempts), a set number of days after it
started (``signup.erase_unfinished_after_days`` in the campaign file, 60 by default: more than the 30 days a
payment link stays valid). A sign-up whose payment is on its way (a bank transfer being processed, a checkout
still open) is left until that is settled; a withdrawn one is never erased here (its participant ended it, and it
is kept as evidence of that: :mod:`core.signup.withdrawal`).

A pre-registration (its address verified while the campaign took pre-registrations, nothing signed:
:mod:`core.signup.flow`) is waiting for the campaign to open, as the FAQ promises, however long that takes: it is
kept while the campaign has not opened, and erased like any unfinished sign-up a set number of days after it opened
(``signup.erase_pre_registrations_after_opening_days``, 60 by default), unless it became a participant. The
opening is the campaign's ``opens``; a campaign opened by writing ``status: open`` (no ``opens``) opened, for each
pre-registration, when its invitation was queued (core.signup.invitations). One closed before it ever opened
invites nobody: its pre-registrations are erased as unfinished sign-ups. Erasing a sign-up deletes its contact copy
of the address with it (:mod:`core.data.contacts`). Jobs that ended long ago keep no payload (a failed
mail may still hold the address it was for), and login links to the participant's page go a day after they were
mailed. A phone number being proved by SMS (:mod:`core.phones.verification`) is kept a day: then an unproved
verification is deleted, and a proved one keeps only its campaign, purpose, keyed digest of the number and times
(for the funnel figures). Files exported on the staff console are deleted an hour after they were made
(:mod:`core.staff.exports`). Files in participants' vaults are removed a set time after their campaign ended, after
a notice mailed in advance (:mod:`core.data.vault_retention` has those rules). ``flask retention run``
(:mod:`core.cli.retention`) does all of this and reports the counts; run it daily (hourly, if staff export often).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, not_, or_, select, update
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.schedule import Schedule
from core.data.models import (
    EMPTY_PAYLOAD,
    Job,
    JobStatus,
    LoginLink,
    Payment,
    PaymentState,
    PhoneVerification,
    Signup,
    SignupEvent,
    Stage,
    participant,
)

BATCH = 500
JOB_PAYLOADS_KEPT = dt.timedelta(days=30)
LOGIN_LINKS_KEPT = dt.timedelta(days=1)
PHONE_NUMBERS_KEPT = dt.timedelta(days=1)


# The evidence steps that mark a pre-registration's campaign as opened for it (core.signup.invitations, flow).
OPENING_STEPS = ("invited", "continued-after-opening")
NOT_OPENED = frozenset({"draft", "not-yet-open", "pre-registration"})


@dataclass(frozen=True)
class Erased:
    campaign: str
    days: int
    signups: int
    pre_registration_days: int = 60
    pre_registrations: int = 0
    opened: bool = True  # False: the campaign has not opened, so every pre-registration was kept


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


def _opening_event(before: dt.datetime | None = None) -> ColumnElement[bool]:
    """The sign-up has the evidence of its campaign's opening (``before``: at a time before that)."""
    conditions = [SignupEvent.signup_id == Signup.id, SignupEvent.step.in_(OPENING_STEPS)]
    if before is not None:
        conditions.append(SignupEvent.at < before)
    return exists().where(*conditions)


def _pre_registration(opened_at: dt.datetime | None) -> ColumnElement[bool]:
    """A sign-up made as a pre-registration: waiting (interested, invited), or gone on after the opening, or
    verified before ``opened_at``."""
    # (Never NULL: a sign-up not verified is no pre-registration, and NOT of it must hold.)
    made_before = (Signup.verified_at.is_not(None) & (Signup.verified_at < opened_at)) if opened_at else false()
    return Signup.stage.in_((Stage.INTERESTED.value, Stage.INVITED.value)) | _opening_event() | made_before


def _pre_registrations_due(loaded: LoadedCampaign, now: dt.datetime, days: int, unfinished: dt.datetime) -> Any:
    """The condition for pre-registrations of ``loaded`` to erase at ``now`` (see the module's docstring)."""
    schedule = Schedule.of(loaded.campaign)
    status = schedule.status_at(now)
    if status in NOT_OPENED:
        return false()
    kept = dt.timedelta(days=days)
    if schedule.opens_at is not None and schedule.opens_at <= now:
        return _pre_registration(schedule.opens_at) if now >= schedule.opens_at + kept else false()
    # Opened by writing the status (or closed before ``opens``): each pre-registration's own opening counts.
    due = _opening_event(before=now - kept)
    if status == "closed":  # closed before it invited them: nobody will be invited
        due = due | (not_(_opening_event()) & (Signup.created_at < unfinished))
    return _pre_registration(None) & due


def erase_unfinished(
    session: Session, campaigns: Iterable[LoadedCampaign], now: dt.datetime, dry_run: bool = False
) -> list[Erased]:
    """Erase every campaign's unfinished sign-ups older than its limit, and its pre-registrations past theirs;
    commits each batch. Returns the counts."""
    results = []
    for loaded in campaigns:
        signup_config = loaded.campaign.signup
        days = signup_config.erase_unfinished_after_days if signup_config else 60
        pre_days = signup_config.erase_pre_registrations_after_opening_days if signup_config else 60
        unfinished = now - dt.timedelta(days=days)
        schedule = Schedule.of(loaded.campaign)
        opened_at = schedule.opens_at if schedule.opens_at is not None and schedule.opens_at <= now else None
        # A withdrawn sign-up was signed and ended by its participant: it is kept as evidence of that.
        base = select(Signup.id).where(
            Signup.campaign == loaded.slug,
            not_(participant()),
            Signup.withdrawn_at.is_(None),
            not_(_in_flight(now)),
        )
        pre_registration = _pre_registration(opened_at)
        ordinary = base.where(not_(pre_registration), Signup.created_at < unfinished)
        waited = base.where(pre_registration, _pre_registrations_due(loaded, now, pre_days, unfinished))
        counts = [_erase(session, query, dry_run) for query in (ordinary, waited)]
        opened = schedule.status_at(now) not in NOT_OPENED
        results.append(Erased(loaded.slug, days, counts[0], pre_days, counts[1], opened))
    return results


def _erase(session: Session, query: Any, dry_run: bool) -> int:
    if dry_run:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0
    count = 0
    for ids in _batches(session, query.order_by(Signup.id)):
        delete_signups(session, ids)
        session.commit()
        count += len(ids)
    return count


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


@dataclass(frozen=True)
class PhoneErasure:
    unverified_deleted: int
    verified_stripped: int


def erase_phone_verifications(session: Session, now: dt.datetime, dry_run: bool = False) -> PhoneErasure:
    """Delete phone verifications started more than a day ago that were never proved, and strip the proved ones
    down to their digest and times (the locked number, its country code and any code go)."""
    old = PhoneVerification.created_at < now - PHONE_NUMBERS_KEPT
    unverified = and_(old, PhoneVerification.verified_at.is_(None))
    verified = and_(
        old,
        PhoneVerification.verified_at.is_not(None),
        or_(PhoneVerification.locked_number.is_not(None), PhoneVerification.country_code.is_not(None)),
    )
    if dry_run:
        count = lambda condition: session.scalar(select(func.count()).select_from(PhoneVerification).where(condition))  # noqa: E731
        return PhoneErasure(count(unverified) or 0, count(verified) or 0)
    deleted = session.execute(delete(PhoneVerification).where(unverified)).rowcount
    stripped = session.execute(
        update(PhoneVerification)
        .where(verified)
        .values(locked_number=None, country_code=None, code_hash=None, code_expires_at=None)
    ).rowcount
    session.commit()
    return PhoneErasure(deleted, stripped)
