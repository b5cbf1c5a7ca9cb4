"""The mail (and other background jobs) staff are shown: what failed and waits for its next attempt, and what gave
up after its last one (:mod:`core.jobs.queue` retries with backoff for about nine hours before it gives up).

A mail that failed once is already worth knowing about: a mail server that refuses every message, or one address
that bounces, shows here hours before the last retry. Nothing personal is shown: the job's kind, the kind of mail,
the sign-up's public reference, and the error as the queue kept it (e-mail addresses masked when it was written,
and masked again here for rows written before that).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.data.models import Job, JobStatus
from core.jobs.queue import decode_payload, mask

SHOWN = 50


@dataclass(frozen=True)
class QueuedJob:
    id: int
    kind: str
    mail: str | None  # the kind of mail of a mail job (verification, login-link, ...)
    campaign: str | None
    attempts: int
    error: str
    reference: str | None  # the sign-up's public reference, when the job was for one
    run_after: dt.datetime  # for a job waiting: its next attempt
    finished_at: dt.datetime | None  # for a job that gave up: when


def among(column: Any, campaigns: Collection[str] | None) -> list[ColumnElement[bool]]:
    """The condition "of one of ``campaigns``" (None: every campaign, and work of none), for a ``where``."""
    return [] if campaigns is None else [column.in_(sorted(campaigns))]


def retrying(session: Session, campaigns: Collection[str] | None, limit: int = SHOWN) -> list[QueuedJob]:
    """Jobs that failed at least once and wait for their next attempt, soonest first."""
    rows = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.PENDING.value, Job.attempts > 0, *among(Job.campaign, campaigns))
        .order_by(Job.run_after, Job.id)
        .limit(limit)
    ).all()
    return [_line(job) for job in rows]


def gave_up(session: Session, campaigns: Collection[str] | None, limit: int = SHOWN) -> list[QueuedJob]:
    """Jobs that failed after their last attempt, latest first."""
    rows = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.FAILED.value, *among(Job.campaign, campaigns))
        .order_by(Job.finished_at.desc(), Job.id.desc())
        .limit(limit)
    ).all()
    return [_line(job) for job in rows]


def counts(session: Session, campaigns: Collection[str] | None) -> dict[str, dict[str, int]]:
    """How many jobs wait for a retry (``retrying``) and gave up (``failed``), per kind."""
    waiting = (Job.status == JobStatus.PENDING.value) & (Job.attempts > 0)
    found: dict[str, dict[str, int]] = {"retrying": {}, "failed": {}}
    for name, condition in (("retrying", waiting), ("failed", Job.status == JobStatus.FAILED.value)):
        found[name] = {
            kind: int(n)
            for kind, n in session.execute(
                select(Job.kind, func.count()).where(condition, *among(Job.campaign, campaigns)).group_by(Job.kind)
            )
        }
    return found


def _line(job: Job) -> QueuedJob:
    payload = _payload(job)
    mail, token = payload.get("mail"), payload.get("signup")
    return QueuedJob(
        id=job.id,
        kind=job.kind,
        mail=mail if isinstance(mail, str) else None,
        campaign=job.campaign,
        attempts=job.attempts,
        error=mask(job.last_error or ""),
        reference=token[:12] if isinstance(token, str) else None,
        run_after=job.run_after,
        finished_at=job.finished_at,
    )


def _payload(job: Job) -> dict[str, Any]:
    """The job's payload, read only for its kind of mail and its sign-up's token (never shown as a whole)."""
    try:
        payload = decode_payload(job.payload)
    except Exception:  # an unreadable payload names nothing; the job is listed all the same
        return {}
    return payload if isinstance(payload, dict) else {}
