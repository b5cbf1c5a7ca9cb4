"""The job queue on SQLite and PostgreSQL: queued with its cause, run once, retried with backoff, then failed."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, current_app
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.data.db import db_session, utcnow
from core.data.models import Job, JobStatus
from core.jobs.queue import BACKOFF, MASK, Worker, current_job, enqueue, mask
from tests import job_handlers
from tests.job_handlers import job_handler

# What the test handlers saw: (kind, payload, job id, app of the context), in order.
calls: list[tuple[str, dict[str, Any], int | None, Flask]] = []
calls_lock = threading.Lock()
ADDRESS = "jan.jansen+claims@example.org"


@job_handler("test.record")
def record(app: Flask, payload: dict[str, Any]) -> None:
    job = current_job()
    with calls_lock:
        calls.append(("test.record", payload, job.id if job else None, current_app._get_current_object()))


@job_handler("test.flaky")
def flaky(app: Flask, payload: dict[str, Any]) -> None:
    calls.append(("test.flaky", payload, None, app))
    raise ConnectionError(f"could not deliver to <{ADDRESS}>: the server said no")


@job_handler("test.slow")
def slow(app: Flask, payload: dict[str, Any]) -> None:
    job = current_job()
    assert job is not None
    with calls_lock:
        calls.append(("test.slow", payload, job.id, app))
    time.sleep(0.02)


@job_handler("test.chain")
def chain(app: Flask, payload: dict[str, Any]) -> None:
    """A handler that writes to the database itself: it queues the next job (as the mandate job queues mail)."""
    session = db_session()
    enqueue(session, "test.record", {"after": payload["n"]})
    session.commit()


@pytest.fixture
def db_app(db_app: Flask) -> Flask:
    """The database app, with this module's handlers installed as a plugin's."""
    db_app.extensions["claimsite"].plugins.pm.register(job_handlers)
    return db_app


@pytest.fixture(autouse=True)
def _clean_calls() -> Iterator[None]:
    calls.clear()
    yield
    calls.clear()


@contextlib.contextmanager
def session_of(app: Flask) -> Iterator[Session]:
    """A session of ``app``'s database, in its app context (queued payloads are locked with the app's key)."""
    with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
        yield session


def jobs_of(app: Flask) -> list[Job]:
    with session_of(app) as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def test_a_committed_job_runs_once_in_an_app_context_and_keeps_no_payload(db_app: Flask) -> None:
    with session_of(db_app) as session:
        job_id = enqueue(session, "test.record", {"signup": "abc", "n": 1}, campaign="tiktokclaim")
        session.commit()
    worker = Worker(db_app)
    assert worker.run_once() == 1
    assert calls == [("test.record", {"signup": "abc", "n": 1}, job_id, db_app)]
    assert worker.run_once() == 0  # done jobs never run again
    [stored] = jobs_of(db_app)
    assert (stored.status, stored.attempts, stored.last_error) == (JobStatus.DONE, 1, None)
    assert stored.finished_at is not None and stored.payload == "{}"


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(db_app: Flask) -> None:
    with session_of(db_app) as session:
        enqueue(session, "test.record", {"signup": "gone"})
        session.flush()  # really written, then undone with its cause
        session.rollback()
    assert Worker(db_app).run_once() == 0
    assert calls == [] and jobs_of(db_app) == []


def test_a_job_waits_for_its_time(db_app: Flask) -> None:
    later = utcnow() + dt.timedelta(minutes=5)
    with session_of(db_app) as session:
        enqueue(session, "test.record", {"when": "later"}, run_after=later)
        session.commit()
    worker = Worker(db_app)
    assert worker.run_once() == 0 and calls == []
    assert worker.run_once(now=later) == 1 and len(calls) == 1


def test_a_failing_job_is_retried_with_backoff_then_failed_without_personal_data(
    runner: FlaskCliRunner, db_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    start = utcnow()
    with session_of(db_app) as session:
        enqueue(session, "test.flaky", {"to": ADDRESS}, campaign="tiktokclaim", run_after=start)
        session.commit()
    worker = Worker(db_app)
    now = start
    for attempt, wait in enumerate(BACKOFF, start=1):
        assert worker.run_once(now=now) == 1
        [job] = jobs_of(db_app)
        assert (job.status, job.attempts) == (JobStatus.PENDING, attempt)
        assert job.run_after == now + wait
        assert job.last_error == f"ConnectionError: could not deliver to <{MASK}>: the server said no"
        assert worker.run_once(now=job.run_after - dt.timedelta(seconds=1)) == 0  # not before its time
        now = job.run_after
    assert worker.run_once(now=now) == 1  # the last attempt
    [job] = jobs_of(db_app)
    assert (job.status, job.attempts) == (JobStatus.FAILED, len(BACKOFF) + 1)
    assert job.finished_at is not None and ADDRESS not in (job.last_error or "")
    assert worker.run_once(now=now + dt.timedelta(days=365)) == 0  # a failed job stays failed
    assert len(calls) == len(BACKOFF) + 1

    assert caplog.records and all(ADDRESS not in r.getMessage() for r in caplog.records)
    assert any("failed after 7 attempt(s)" in r.getMessage() for r in caplog.records)

    listing = runner.invoke(args=["jobs", "--failed"])
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if line.startswith(str(job.id)))
    assert row.split()[:4] == [str(job.id), "test.flaky", "tiktokclaim", "7"]
    assert MASK in row and ADDRESS not in listing.output and "example.org" not in listing.output
    assert "1 failed job(s)" in listing.output


def test_a_handler_can_write_to_the_database_while_its_job_is_claimed(db_app: Flask) -> None:
    with session_of(db_app) as session:
        enqueue(session, "test.chain", {"n": 7})
        session.commit()
    worker = Worker(db_app)
    assert worker.run_once() == 1
    assert [job.kind for job in jobs_of(db_app)] == ["test.chain", "test.record"]
    assert worker.run_once(now=utcnow() + dt.timedelta(seconds=1)) == 1
    assert [c[1] for c in calls] == [{"after": 7}]
    assert [job.status for job in jobs_of(db_app)] == [JobStatus.DONE, JobStatus.DONE]


def test_an_unknown_kind_fails_at_once_with_a_clear_error(db_app: Flask) -> None:
    with session_of(db_app) as session:
        enqueue(session, "no.such.kind", {"x": 1})
        session.commit()
    assert Worker(db_app).run_once() == 1
    [job] = jobs_of(db_app)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.last_error == "unknown job kind 'no.such.kind': no handler is registered for it"


def test_cli_counts_jobs_and_worker_once_runs_what_is_due(runner: FlaskCliRunner, db_app: Flask) -> None:
    with session_of(db_app) as session:
        for n in range(3):
            enqueue(session, "test.record", {"n": n})
        enqueue(session, "test.record", {"n": "later"}, run_after=utcnow() + dt.timedelta(hours=1))
        enqueue(session, "no.such.kind", {})
        session.commit()
    counts = runner.invoke(args=["jobs"])
    assert counts.exit_code == 0, counts.output
    lines = counts.output.splitlines()
    assert [line.split() for line in lines[:4]] == [
        ["STATUS", "KIND", "JOBS"],
        ["pending", "no.such.kind", "1"],
        ["pending", "test.record", "4"],
        ["5", "job(s)"],
    ]
    # then what the sweeps would finish: nothing here
    assert [line for line in lines[4:] if line] == [
        "0 sign-up(s) waiting for their confirmation",
        "0 withdrawn sign-up(s) whose working copy of the personal data is still kept",
        "0 pre-registration(s) of an opened campaign waiting for their invitation",
    ]
    once = runner.invoke(args=["worker", "--once"])
    assert once.exit_code == 0, once.output
    assert once.output.strip() == "4 job(s) run"
    assert [c[1]["n"] for c in calls] == [0, 1, 2]
    rows = [line.split() for line in runner.invoke(args=["jobs"]).output.splitlines()]
    assert ["done", "test.record", "3"] in rows and ["failed", "no.such.kind", "1"] in rows
    assert ["pending", "test.record", "1"] in rows


def test_the_worker_survives_a_database_hiccup(db_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    engine = db_app.extensions["claimsite.db"].engine
    worker = Worker(db_app)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, kwargs={"poll_seconds": 0.05, "stop": stop})
    with engine.begin() as connection:  # the table the worker polls is gone for a moment
        connection.execute(text("ALTER TABLE jobs RENAME TO jobs_away"))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any("job worker:" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(r.levelno == logging.ERROR and "job worker:" in r.getMessage() for r in caplog.records)
        assert thread.is_alive()
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE jobs_away RENAME TO jobs"))
        with session_of(db_app) as session:
            enqueue(session, "test.record", {"after": "hiccup"})
            session.commit()
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [c[1] for c in calls] == [{"after": "hiccup"}]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.databases("postgresql")
def test_two_workers_on_postgresql_never_run_the_same_job_twice(db_app: Flask) -> None:
    with session_of(db_app) as session:
        ids = [enqueue(session, "test.slow", {"n": n}) for n in range(40)]
        session.commit()
        expected = sorted(ids)
    workers = [Worker(db_app), Worker(db_app)]
    ran: list[int] = [0, 0]
    start = threading.Barrier(2)

    def work(index: int) -> None:
        start.wait()
        ran[index] = workers[index].run_once()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    run_ids = sorted(c[2] for c in calls)  # type: ignore[type-var]
    assert run_ids == expected  # every job once, none twice
    assert sum(ran) == 40 and min(ran) > 0  # both workers did part of the work, side by side
    assert all(job.status == JobStatus.DONE and job.attempts == 1 for job in jobs_of(db_app))


def test_mask_hides_every_address_in_error_texts() -> None:
    raw = "{'a.b+c@mail.example.org': (450, b'4.2.0 <a.b+c@mail.example.org>: busy'), 'x@y.nl': 1}"
    assert mask(raw) == f"{{'{MASK}': (450, b'4.2.0 <{MASK}>: busy'), '{MASK}': 1}}"
