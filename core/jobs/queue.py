"""Work done off the request path (mail, mandate PDFs), queued in the database in the same transaction as its cause.

A view calls :func:`enqueue` on its own session and commits together with its own change, so a sign-up that rolls
back never sends its mail, and a committed one always does. ``flask worker`` runs the handlers, which core's own
features and plugins alike offer through the ``claimsite_job_handlers`` hook, each kind a constant next to its
handler::

    MAIL_JOB = "mail"

    def deliver(app: Flask, payload: dict) -> None:
        ...  # raising means "retry later"

    @hookimpl
    def claimsite_job_handlers() -> dict[str, Handler]:
        return {MAIL_JOB: deliver}

A job is retried with backoff (:data:`BACKOFF`) and marked ``failed`` after its last attempt; ``flask jobs
--failed`` lists those for staff. Raise :class:`PermanentJobError` when retrying cannot help (a recipient the
mail server refuses). The error kept in the database and written to the log is short and has every e-mail
address masked: a job's payload may hold personal data, its error column and the logs never do.

On PostgreSQL several workers can run side by side: each claims a job with ``SELECT ... FOR UPDATE SKIP LOCKED``
and holds that row lock until the job is marked, so no job runs twice at the same time. SQLite runs one worker.
A worker that dies mid-job leaves it pending, so it runs again: handlers must tolerate running twice.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.data.db import Dependent, insert_returning_id, utcnow
from core.data.models import EMPTY_PAYLOAD, Job, JobStatus
from core.i18n import use_address_form
from core.plugins import PluginHost
from core.sealing import current_working_box

log = logging.getLogger(__name__)

Handler = Callable[[Flask, dict[str, Any]], None]

# Waits before the 2nd, 3rd, ... attempt; a job that fails once more after the last wait is failed.
BACKOFF: tuple[dt.timedelta, ...] = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
)
ERROR_LENGTH = 300
SWEEP_EVERY = dt.timedelta(minutes=5)


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help: the job is failed at once."""


def job_handlers(plugins: PluginHost) -> dict[str, Handler]:
    """Every installed plugin's answer to ``claimsite_job_handlers``, as one kind -> handler mapping. Raises
    ``ValueError`` when two plugins offer the same kind: which of them should run it is not for the worker to guess.
    """
    handlers: dict[str, Handler] = {}
    offered_by: dict[str, str] = {}
    for impl in plugins.pm.hook.claimsite_job_handlers.get_hookimpls():
        for kind, handler in impl.function().items():
            if kind in handlers:
                raise ValueError(
                    f"job kind '{kind}' is offered by two plugins: {offered_by[kind]} and {impl.plugin_name}"
                )
            handlers[kind], offered_by[kind] = handler, impl.plugin_name
    return handlers


class Sweep(Protocol):
    """Finds work that a fault left half done (a step whose job was never queued) and finishes it. The worker
    runs every registered sweep when it starts and every :data:`SWEEP_EVERY`; ``flask jobs`` lists what each would
    finish, ``flask jobs --sweep`` runs them now."""

    #: what is waiting, after a count: "3 sign-up(s) waiting for their confirmation"
    title: str
    #: the headings of the rows :meth:`stuck` returns (no personal data)
    columns: tuple[str, ...]

    def stuck(self, session: Session) -> list[tuple[str, ...]]:
        """One row per item waiting, for ``flask jobs``."""
        ...

    def finish(self, session: Session, now: dt.datetime) -> int:
        """Finish what is waiting (safe to run in several processes at once); commits; returns how many."""
        ...


def sweeps(plugins: PluginHost) -> list[Sweep]:
    """Every installed plugin's sweeps (``claimsite_sweeps``)."""
    return [sweep for found in plugins.pm.hook.claimsite_sweeps() for sweep in found]


@dataclass(frozen=True)
class RunningJob:
    """The job a handler is running for (e.g. to name a file after it)."""

    id: int
    kind: str
    campaign: str | None
    attempt: int  # 1 on the first run


_current: contextvars.ContextVar[RunningJob | None] = contextvars.ContextVar("claimsite_job", default=None)


def current_job() -> RunningJob | None:
    """The job being run, inside a handler; ``None`` elsewhere."""
    return _current.get()


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    campaign: str | None = None,
    run_after: dt.datetime | None = None,
) -> int:
    """Add a job in ``session``'s transaction; it runs once the caller commits (never if the caller rolls back).
    Written at once as a plain INSERT (jobs are queued on busy paths such as every sign-up); returns its id."""
    return session.execute(
        insert_returning_id(Job.__table__), new_job(kind, payload, campaign=campaign, run_after=run_after).values
    ).scalar_one()


def new_job(
    kind: str, payload: dict[str, Any], *, campaign: str | None = None, run_after: dt.datetime | None = None
) -> Dependent:
    """A job's row, for :func:`enqueue`, or to be written with a new row it belongs to
    (:func:`core.data.db.commit_new`)."""
    if run_after is not None and run_after.tzinfo is None:
        raise ValueError("run_after must be timezone-aware (use core.data.db.utcnow())")
    now = utcnow()
    return Dependent(
        Job.__table__,
        {
            "kind": kind,
            "campaign": campaign,
            "payload": encode_payload(payload),
            "status": JobStatus.PENDING.value,
            "attempts": 0,
            "run_after": run_after or now,
            "created_at": now,
        },
    )


def encode_payload(payload: dict[str, Any]) -> str:
    """A job's payload as kept in the database: locked with the app's working key (a mail job holds an address,
    a name, a mandate), so the jobs table of a copied database reads as nothing (see :mod:`core.sealing`)."""
    return current_working_box().lock_text(json.dumps(payload, ensure_ascii=False))


def decode_payload(stored: str) -> dict[str, Any]:
    """The payload :func:`encode_payload` kept (an emptied one is ``{}``)."""
    return json.loads(current_working_box().unlock_text(stored) if stored.startswith("CSW1:") else stored)


# -- masking: no personal data in the error column or the logs ----------------------------------------------
_EMAIL = re.compile(r"[\w.!#$%&*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*", re.UNICODE)
MASK = "[e-mail address]"


def mask(text: str) -> str:
    """``text`` with every e-mail address replaced by ``[e-mail address]``."""
    return _EMAIL.sub(MASK, text)


def short_error(exc: BaseException) -> str:
    """One line naming the exception, with e-mail addresses masked, at most :data:`ERROR_LENGTH` characters."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(mask(text).split())
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def cancel(session: Session, job_ids: Sequence[int]) -> int:
    """Stop jobs that are no longer wanted (their sign-up was withdrawn or erased), in the caller's transaction:
    pending ones become ``cancelled`` and never run; failed ones stay failed. Either way their payload (which may
    hold an address) is emptied. A job that finished meanwhile is left as it is. Returns how many were pending."""
    if not job_ids:
        return 0
    now = utcnow()
    cancelled = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status == JobStatus.PENDING.value)
        .values(status=JobStatus.CANCELLED.value, payload=EMPTY_PAYLOAD, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status == JobStatus.FAILED.value)
        .values(payload=EMPTY_PAYLOAD)
        .execution_options(synchronize_session=False)
    )
    return cancelled


# -- the worker ----------------------------------------------------------------------------------------------
class Worker:
    """Runs due jobs of one app. ``run_once`` for a pass (tests, ``flask worker --once``), ``run_forever`` to poll."""

    def __init__(self, app: Flask, backoff: Sequence[dt.timedelta] = BACKOFF) -> None:
        plugins: PluginHost = app.extensions["claimsite"].plugins
        self.handlers: Mapping[str, Handler] = job_handlers(plugins)
        self.sweeps = sweeps(plugins)
        self.app = app
        self.database = app.extensions["claimsite.db"]
        self.backoff = tuple(backoff)
        self.max_attempts = len(self.backoff) + 1
        self.skip_locked = self.database.engine.dialect.name == "postgresql"

    def run_once(self, now: dt.datetime | None = None) -> int:
        """Run every job due at ``now`` (default: the current time), one at a time; return how many ran."""
        now = now or utcnow()
        ran: set[int] = set()
        while True:
            job_id = self._run_next(now, ran)
            if job_id is None:
                return len(ran)
            ran.add(job_id)

    def run_forever(self, poll_seconds: float = 1.0, stop: threading.Event | None = None) -> None:
        """Run due jobs until ``stop`` is set; a database error is logged and the loop goes on."""
        stop = stop or threading.Event()
        log.info("job worker started (%s)", self.database.engine.dialect.name)
        errors = 0
        next_sweep = utcnow()
        while not stop.is_set():
            try:
                if utcnow() >= next_sweep:
                    self.sweep()
                    next_sweep = utcnow() + SWEEP_EVERY
                ran = self.run_once()
                errors = 0
            except Exception as exc:
                errors += 1
                wait = min(poll_seconds * 2 ** (errors - 1), max(poll_seconds, 30.0))
                log.error("job worker: %s; trying again in %.1f s", short_error(exc), wait)
                stop.wait(wait)
                continue
            if not ran:
                stop.wait(poll_seconds)
        log.info("job worker stopped")

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Run every registered :class:`Sweep`; returns how many items they finished."""
        finished = 0
        for sweep in self.sweeps:
            with self.app.app_context(), self.database.sessions() as session:
                finished += sweep.finish(session, now or utcnow())
        return finished

    def _run_next(self, now: dt.datetime, skip: set[int]) -> int | None:
        """Claim one due job, run it and record the outcome in the same transaction (which holds its row lock)."""
        query = select(Job).where(Job.status == JobStatus.PENDING.value, Job.run_after <= now)
        if skip:
            query = query.where(Job.id.not_in(skip))
        query = query.order_by(Job.run_after, Job.id).limit(1)
        if self.skip_locked:
            query = query.with_for_update(skip_locked=True)
        with self.database.sessions() as session, session.begin():
            job = session.scalars(query).first()
            if job is None:
                return None
            self._run(job, now)
            return job.id

    def _run(self, job: Job, now: dt.datetime) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            job.attempts += 1
            self._fail(job, f"unknown job kind '{job.kind}': no handler is registered for it")
            return
        if job.campaign:
            self._publish_if_new(job.campaign)
        running = RunningJob(job.id, job.kind, job.campaign, job.attempts + 1)
        token = _current.set(running)
        try:
            with self.app.app_context():
                self._address_as_campaign(job.campaign)
                handler(self.app, decode_payload(job.payload))
        except Exception as exc:
            job.attempts += 1
            error = short_error(exc)
            log.debug("job %s (%s) traceback:\n%s", job.id, job.kind, mask("".join(traceback.format_exception(exc))))
            if isinstance(exc, PermanentJobError) or job.attempts >= self.max_attempts:
                self._fail(job, error)
            else:
                job.last_error = error
                job.run_after = now + self.backoff[job.attempts - 1]
                log.warning(
                    "job %s (%s, %s) attempt %s failed: %s; retry at %s",
                    job.id,
                    job.kind,
                    job.campaign or "-",
                    job.attempts,
                    error,
                    job.run_after.isoformat(timespec="seconds"),
                )
        else:
            job.attempts += 1
            job.status = JobStatus.DONE.value
            job.finished_at = utcnow()
            job.payload = EMPTY_PAYLOAD  # a done job keeps nothing personal (mail payloads hold addresses)
            log.info("job %s (%s, %s) done", job.id, job.kind, job.campaign or "-")
        finally:
            _current.reset(token)

    def _address_as_campaign(self, slug: str | None) -> None:
        """What a job writes (mail, mandate) addresses the visitor as its campaign does (core.i18n)."""
        loaded = self.app.extensions["claimsite"].registry.snapshot.campaigns.get(slug) if slug else None
        if loaded is not None:
            use_address_form(loaded.campaign.address_form)

    def _publish_if_new(self, slug: str) -> None:
        """A job for a campaign this process does not serve yet (one just added, which the web process that queued
        the job has published already) reads that campaign now, instead of failing and waiting for a retry."""
        registry = self.app.extensions["claimsite"].registry
        if slug not in registry.snapshot.campaigns:
            registry.publish_now(slug)

    @staticmethod
    def _fail(job: Job, error: str) -> None:
        job.status = JobStatus.FAILED.value
        job.last_error = error
        job.finished_at = utcnow()
        log.error(
            "job %s (%s, %s) failed after %s attempt(s): %s", job.id, job.kind, job.campaign or "-", job.attempts, error
        )
