"""The confirmation mail of a paid sign-up is never lost, whichever of its two halves (the mandate PDF made by the
worker, the payment reported by Stripe) lands last, even when they land at the same moment; and a sign-up left
between the two by an earlier fault is found and finished by the sweep (``flask jobs`` lists it first).

The interleavings are forced on the real database (SQLite and PostgreSQL), with two real threads: a listener on
the engine holds one side right after it read the sign-up, until the other side has done its part.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, update

from core.data.db import db_session
from core.data.models import Job, Signup
from core.jobs.queue import Worker
from tests.test_payments_stripe import paid_at_stripe, post_event, sign_up
from tests.test_signup import deliver

WAIT = 20.0  # seconds: only reached when the code under test hangs


@pytest.fixture
def app(stripe_app: Flask) -> Flask:
    return stripe_app


class HoldAfterRead:
    """Holds the thread ``who`` (when it runs) right after its first SELECT of ``table`` (the sign-ups unless
    told), until :meth:`release`; :attr:`reached` is set when it is held."""

    def __init__(self, app: Flask, who: str, table: str = "signups") -> None:
        self.engine = app.extensions["claimsite.db"].engine
        self.who = who
        self.table = table
        self.reached = threading.Event()
        self.released = threading.Event()
        event.listen(self.engine, "after_cursor_execute", self._after)

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread().name != self.who or self.reached.is_set():
            return
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {self.table}" in statement:
            self.reached.set()
            assert self.released.wait(WAIT), "nobody released the held thread"

    def release(self) -> None:
        self.released.set()

    def remove(self) -> None:
        self.released.set()
        event.remove(self.engine, "after_cursor_execute", self._after)


def run_in_thread(name: str, target: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, errors


def while_the_mandate_is_made(app: Flask, meanwhile: Any) -> None:
    """Run the worker (the mandate job) in a thread, hold it right after it read the sign-up, run ``meanwhile``,
    then let the job finish."""
    hold = HoldAfterRead(app, "worker")
    try:
        worker, errors = run_in_thread("worker", lambda: Worker(app).run_once())
        assert hold.reached.wait(WAIT)
        meanwhile()
        hold.release()
        worker.join(WAIT)
        assert not worker.is_alive() and not errors
    finally:
        hold.remove()


def confirmations(mails: list[Any]) -> list[Any]:
    return [m for m in mails if any(part.get_content_type() == "application/pdf" for part in m.walk())]


def the_signup(app: Flask) -> Signup:
    with app.app_context():
        return db_session().scalars(select(Signup)).one()


def test_payment_reported_while_the_mandate_is_made(app: Flask, stripe_server: Any) -> None:
    client, _, completed = paid_at_stripe(app, stripe_server)

    def pay() -> None:  # while the mandate job holds the sign-up it read: unpaid
        assert post_event(client, stripe_server, completed).get_json()["status"] == "paid"

    while_the_mandate_is_made(app, pay)
    signup = the_signup(app)
    assert signup.mandate_sha256 and signup.paid_at and signup.confirmed_at
    [confirmation] = confirmations(deliver(app))
    assert "Paid: €17.50 on" in confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with app.app_context():  # the working copy of the personal data went with the mail
        from core.data import personal_data

        assert personal_data.load(db_session(), the_signup(app)) == {}


def test_mandate_made_while_the_payment_is_applied(app: Flask, stripe_server: Any) -> None:
    client, _, completed = paid_at_stripe(app, stripe_server)
    hold = HoldAfterRead(app, "webhook")
    try:
        webhook, errors = run_in_thread("webhook", lambda: post_event(client, stripe_server, completed))
        assert hold.reached.wait(WAIT)  # the webhook read the sign-up: no mandate yet
        # The worker makes the mandate meanwhile. (On SQLite it waits for the webhook's write lock: released once
        # the worker's own write is about to start, so the two writes meet.)
        worker, worker_errors = run_in_thread("worker", lambda: Worker(app).run_once())
        starts_writing = threading.Event()

        def writing(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if threading.current_thread().name == "worker" and statement.lstrip().upper().startswith("UPDATE"):
                starts_writing.set()

        engine = app.extensions["claimsite.db"].engine
        event.listen(engine, "before_cursor_execute", writing)
        try:
            starts_writing.wait(WAIT)
            hold.release()
            webhook.join(WAIT)
            worker.join(WAIT)
        finally:
            event.remove(engine, "before_cursor_execute", writing)
        assert not webhook.is_alive() and not worker.is_alive() and not errors and not worker_errors
    finally:
        hold.remove()
    signup = the_signup(app)
    assert signup.mandate_sha256 and signup.paid_at and signup.confirmed_at
    assert len(confirmations(deliver(app))) == 1


def flask_cli(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def left_between_the_two(app: Flask, stripe_server: Any) -> None:
    """A sign-up as the race of earlier releases left it: paid, mandate made, no confirmation queued, the working
    copy of the personal data still there."""
    client, _, completed = paid_at_stripe(app, stripe_server)
    assert post_event(client, stripe_server, completed).get_json()["status"] == "paid"
    assert Worker(app).run_once() == 1  # the mandate job (the confirmation it queues is not due in this pass)
    with app.app_context():
        db = db_session()
        db.execute(update(Signup).values(confirmed_at=None))
        assert (
            db.execute(
                update(Job).where(Job.kind == "confirmation", Job.status == "pending").values(status="cancelled")
            ).rowcount
            == 1
        )
        db.commit()


def test_a_signup_left_between_payment_and_mandate_is_listed_and_finished(app: Flask, stripe_server: Any) -> None:
    left_between_the_two(app, stripe_server)
    listed = flask_cli(app, "jobs")
    assert "1 sign-up(s) waiting for their confirmation" in listed and "tiktokclaim" in listed
    assert the_signup(app).token[:12] in listed
    assert "finished 1 sign-up(s)" in flask_cli(app, "jobs", "--sweep")
    assert the_signup(app).confirmed_at is not None
    assert "0 sign-up(s) waiting" in flask_cli(app, "jobs")
    assert len(confirmations(deliver(app))) == 1
    assert "finished 0 sign-up(s)" in flask_cli(app, "jobs", "--sweep")  # once only
    assert confirmations(deliver(app)) == []


def test_the_worker_sweeps_by_itself(app: Flask, stripe_server: Any) -> None:
    left_between_the_two(app, stripe_server)
    worker = Worker(app)
    assert worker.sweep() == 1
    assert len(confirmations(deliver(app))) == 1
    assert worker.sweep() == 0


def working_copy_of(app: Flask) -> tuple[Any, Any]:
    from core.data.models import PersonalRecord

    with app.app_context():
        record = db_session().scalars(select(PersonalRecord)).one()
        return record.working_answers, record.working_signature


def test_withdrawn_while_the_mandate_is_made(app: Flask, stripe_server: Any) -> None:
    from core.signup.flow import Visit
    from core.signup.withdrawal import withdraw

    client = app.test_client()
    sign_up(app, client)
    assert working_copy_of(app) != (None, None)

    def withdrawn() -> None:  # while the mandate job holds the sign-up it read: not withdrawn
        with app.app_context():
            db = db_session()
            signup = db.scalars(select(Signup)).one()
            assert withdraw(db, signup, Visit(signup.signed_at, None, None))  # type: ignore[arg-type]
            db.commit()

    while_the_mandate_is_made(app, withdrawn)
    signup = the_signup(app)
    assert signup.mandate_sha256 and signup.withdrawn_at
    assert working_copy_of(app) == (None, None)  # released by whichever of the two came last


def test_a_withdrawn_signup_left_with_its_working_copy_is_listed_and_released(app: Flask, stripe_server: Any) -> None:
    from core.data.models import PersonalRecord

    client = app.test_client()
    sign_up(app, client)
    deliver(app)  # the mandate is made
    with app.app_context():  # withdrawn, as the race of earlier releases left it: the working copy still kept
        db = db_session()
        db.execute(update(Signup).values(withdrawn_at=Signup.signed_at))
        db.commit()
    assert working_copy_of(app)[0] is not None
    listed = flask_cli(app, "jobs")
    assert "1 withdrawn sign-up(s) whose working copy of the personal data is still kept" in listed
    assert "finished 1 withdrawn sign-up(s)" in flask_cli(app, "jobs", "--sweep")
    assert working_copy_of(app) == (None, None)
    with app.app_context():
        assert db_session().scalars(select(PersonalRecord)).one().sealed_answers  # the sealed copy stays
    assert "0 withdrawn sign-up(s)" in flask_cli(app, "jobs")
