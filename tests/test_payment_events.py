"""Stripe's notifications under attack and at once: many distinct events for one checkout delivered in parallel
(the first report of payment wins), signatures dated in the future, and a payment whose amount or currency is not
what was asked. The real stripe library against the loopback Stripe-compatible server; SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.data.db import db_session
from core.data.models import Payment, Signup, SignupEvent
from tests.test_payments_stripe import counted, paid_at_stripe, post_event

PARALLEL = 12


@pytest.fixture
def app(stripe_app: Flask) -> Flask:
    return stripe_app


def steps(app: Flask) -> list[str]:
    with app.app_context():
        return [e.step for e in db_session().scalars(select(SignupEvent).order_by(SignupEvent.id))]


def test_distinct_events_at_once_pay_once(app: Flask, stripe_server: Any) -> None:
    _, _, completed = paid_at_stripe(app, stripe_server)
    events = [{**completed, "id": f"evt_parallel_{n}"} for n in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)
    answers: list[str] = []

    def deliver(event: dict[str, Any]) -> None:
        client = app.test_client()
        start.wait()
        answers.append(post_event(client, stripe_server, event).get_json()["status"])

    threads = [threading.Thread(target=deliver, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == ["paid"] + ["unchanged"] * (PARALLEL - 1)
    assert steps(app).count("payment-paid") == 1
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup)).one()
        [payment] = db.scalars(select(Payment)).all()
        paid_event = db.scalars(select(SignupEvent).where(SignupEvent.step == "payment-paid")).one()
    assert payment.state == "paid" and payment.paid_at == signup.paid_at == paid_event.at
    assert counted(app) == 1


def test_a_signature_dated_in_the_future_is_refused(app: Flask, stripe_server: Any) -> None:
    _, _, completed = paid_at_stripe(app, stripe_server)
    client = app.test_client()
    answer = post_event(client, stripe_server, completed, timestamp=int(time.time()) + 600)
    assert answer.status_code == 400
    assert "payment-paid" not in steps(app)
    # A clock a little ahead (within Stripe's five minutes) is fine, as is the genuine delivery.
    assert post_event(client, stripe_server, completed, timestamp=int(time.time()) + 30).status_code == 200
    assert "payment-paid" in steps(app)


@pytest.mark.parametrize(("field", "value"), [("amount_total", 1), ("currency", "usd")])
def test_a_payment_of_another_amount_or_currency_does_not_count(
    app: Flask, stripe_server: Any, field: str, value: Any
) -> None:
    _, session_id, completed = paid_at_stripe(app, stripe_server)
    stripe_server.sessions[session_id][field] = value  # what Stripe reports when the session is fetched again
    answer = post_event(app.test_client(), stripe_server, completed)
    assert answer.status_code == 200 and answer.get_json()["status"] == "mismatch"  # no retries: staff look at it
    assert counted(app) == 0 and "payment-paid" not in steps(app)
    with app.app_context():
        db = db_session()
        assert db.scalars(select(Signup)).one().paid_at is None
        [mismatch] = db.scalars(select(SignupEvent).where(SignupEvent.step == "payment-mismatch")).all()
    expected = "1 EUR" if field == "amount_total" else "1750 USD"
    assert mismatch.detail is not None and f"reported {expected}" in mismatch.detail
    assert "asked 1750 EUR" in mismatch.detail
