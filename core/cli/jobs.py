"""``flask worker`` runs queued jobs until stopped; ``flask jobs`` shows the queue (:mod:`core.jobs.queue`).

``flask jobs`` counts the jobs per status and kind, and lists what a fault left half done: each registered sweep
(:class:`core.jobs.queue.Sweep`; for example a sign-up that counts and has its mandate but whose confirmation was
never queued, or a withdrawn one whose working copy of the personal data is still kept). The worker finishes them
when it starts and every :data:`core.jobs.queue.SWEEP_EVERY`; ``--sweep`` does it at once. ``--failed`` lists the
jobs that gave up after their last retry (mail that could not be delivered), with e-mail addresses masked.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.data.db import utcnow
from core.data.models import Job, JobStatus
from core.jobs.queue import SWEEP_EVERY, Worker, mask
from core.site import site


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT let the job being run finish, then stop the worker."""
    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due now, print how many, and exit.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks for new jobs.")
@with_appcontext
def worker_cli(once: bool, poll: float) -> None:
    """Run queued jobs (sending mail, ...) until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    worker = Worker(app)
    if once:
        ran = worker.run_once()
        click.echo(f"{ran} job(s) run")
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site().publisher.ensure_running()  # campaign changes reach the worker too, within seconds
    stop = threading.Event()
    with _stop_on_signals(stop):
        worker.run_forever(poll_seconds=poll, stop=stop)


@click.command("jobs")
@click.option("--failed", is_flag=True, help="List the failed jobs instead of counting.")
@click.option(
    "--sweep",
    "run_sweeps",
    is_flag=True,
    help="Finish now what a fault left half done (the worker does this every few minutes).",
)
@with_appcontext
def jobs_cli(failed: bool, run_sweeps: bool) -> None:
    """Count queued jobs per status and kind, and list work a fault left half done; --failed lists the jobs that
    gave up; --sweep finishes the half-done work now (no personal data is shown)."""
    worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    if run_sweeps:
        for sweep in worker.sweeps:
            with worker.database.sessions() as session:
                click.echo(f"finished {sweep.finish(session, utcnow())} {sweep.title}")
        return
    session: Session = current_app.extensions["claimsite.db"].sessions()
    with session:
        if failed:
            jobs = session.scalars(
                select(Job).where(Job.status == JobStatus.FAILED.value).order_by(Job.finished_at, Job.id)
            ).all()
            rows = [("ID", "KIND", "CAMPAIGN", "ATTEMPTS", "FAILED AT (UTC)", "LAST ERROR")]
            for job in jobs:
                when = job.finished_at.strftime("%Y-%m-%d %H:%M:%S") if job.finished_at else "-"
                rows.append(
                    (str(job.id), job.kind, job.campaign or "-", str(job.attempts), when, mask(job.last_error or "-"))
                )
            _print_table(rows)
            click.echo(f"{len(jobs)} failed job(s)")
            return
        counts = session.execute(
            select(Job.status, Job.kind, func.count()).group_by(Job.status, Job.kind).order_by(Job.status, Job.kind)
        ).all()
        _print_table([("STATUS", "KIND", "JOBS"), *((status, kind, str(n)) for status, kind, n in counts)])
        click.echo(f"{sum(n for _, _, n in counts)} job(s)")
        for sweep in worker.sweeps:
            stuck = sweep.stuck(session)
            click.echo("")
            if stuck:
                _print_table([sweep.columns, *stuck])
            click.echo(
                f"{len(stuck)} {sweep.title}"
                + (
                    " (the worker finishes them within "
                    f"{int(SWEEP_EVERY.total_seconds() // 60)} minutes; "
                    "flask jobs --sweep does it now)"
                    if stuck
                    else ""
                )
            )


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))


def init_app(app: Flask) -> None:
    """Add ``flask worker`` and ``flask jobs`` to the app's command line."""
    app.cli.add_command(worker_cli)
    app.cli.add_command(jobs_cli)
