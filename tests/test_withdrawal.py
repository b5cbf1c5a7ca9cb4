"""Withdrawing from the participant's page (issue 17, item 8): what it means for a fee already paid is said before
the participant confirms, a confirmation mail goes to the contact copy of the address (which is then removed), and a
payment within the refund period is refunded through the provider it was paid with, once."""

from __future__ import annotations

import datetime as dt
import email.message
import re
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select, update

from core.data.db import db_session
from core.data.models import Contact, Job, Payment, Signup
from core.money.fees import FeeTerms, WithdrawalFee, fee_on_withdrawal
from core.signup.refunds import make_refund
from tests.test_participant_page import confirm, logged_in
from tests.test_payments_stripe import paid_at_stripe, post_event
from tests.test_signup import TIKTOK, deliver, join_fully, signups


def in_app(app: Flask, fn: Any) -> Any:
    with app.app_context():
        return fn(db_session())


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def paid_days_ago(app: Flask, days: int) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)

    def change(db: Any) -> None:
        db.execute(update(Signup).values(paid_at=when))
        db.execute(update(Payment).values(paid_at=when))
        db.commit()

    in_app(app, change)


def withdraw_on_the_page(app: Flask, reference: str, language: str = "en") -> tuple[str, str]:
    """Log in, open the withdrawal page, confirm; returns (the confirmation page, the page after)."""
    client = app.test_client()
    logged_in(app, client)
    prefix = "/en" if language == "en" else ""
    asked = client.get(f"{prefix}/my/withdraw/{reference}", base_url=TIKTOK).get_data(as_text=True)
    done = client.post(
        f"{prefix}/my/withdraw/{reference}",
        data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', asked).group(1)},  # type: ignore[union-attr]
        base_url=TIKTOK,
    )
    assert done.status_code == 302
    return asked, client.get(f"{prefix}/my", base_url=TIKTOK).get_data(as_text=True)


def test_a_withdrawal_within_14_days_is_confirmed_by_mail_and_refunded_once(db_app: Flask) -> None:
    anna = join_fully(db_app, db_app.test_client(), "en")  # TikTok: EUR 17.50 paid (test-mode provider)
    deliver(db_app)
    asked, after = withdraw_on_the_page(db_app, anna.token)
    refund = "You withdrew within 14 days of paying, so we refund your payment of €17.50 in full"
    assert refund in asked and "You get a confirmation by e-mail." in asked  # said before confirming
    assert refund in after and "We have sent a confirmation to your e-mail address." in after
    assert in_app(db_app, lambda db: db.scalars(select(Contact)).all()) == []  # the contact copy is gone
    mails = deliver(db_app)  # the mail and the refund job
    [mail] = [m for m in mails if "withdrawal" in str(m["Subject"]).lower()]
    assert mail["To"] == "anna@example.org"
    assert str(mail["Subject"]) == "Your withdrawal from TikTok Claim is confirmed"
    text = text_of(mail)
    assert refund in text and f"(reference {anna.token[:12]})" in text
    assert "https://tiktokclaim.org/en/my" in text and "This is the last e-mail" in text
    [payment] = in_app(db_app, lambda db: db.scalars(select(Payment)).all())
    assert payment.refund_requested_at is not None and payment.refunded_at is not None
    assert payment.refund_ref == f"test-refund-{payment.id}"
    steps = [e.step for e in in_app(db_app, lambda db: db.get(Signup, anna.id).events)]
    assert steps.count("payment-refunded") == 1
    # A second click (another tab) withdraws nothing more, mails nothing and refunds nothing.
    client = db_app.test_client()
    logged_in(db_app, client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/en/my", base_url=TIKTOK).get_data(True))
    again = client.post(f"/en/my/withdraw/{anna.token}", data={"csrf_token": token.group(1)}, base_url=TIKTOK)  # type: ignore[union-attr]
    assert again.location == "/en/my"
    assert [m for m in deliver(db_app) if "withdrawal" in str(m["Subject"]).lower()] == []
    assert in_app(db_app, lambda db: len(db.scalars(select(Job).where(Job.kind == "refund")).all())) == 1


def test_after_the_refund_period_the_payment_stays_and_the_mail_says_so_in_dutch(db_app: Flask) -> None:
    anna = join_fully(db_app, db_app.test_client(), "")  # in Dutch: the agreements, mails and page in Dutch
    deliver(db_app)
    paid_days_ago(db_app, 15)
    asked, _after = withdraw_on_the_page(db_app, anna.token, language="nl")
    assert "Je eenmalige betaling van €\xa017,50 wordt niet terugbetaald" in asked
    [mail] = [m for m in deliver(db_app) if "intrekking" in str(m["Subject"]).lower()]
    assert str(mail["Subject"]) == "Je intrekking voor TikTok Claim is bevestigd"
    text = text_of(mail)
    assert "wordt niet terugbetaald" in text and "https://tiktokclaim.org/my" in text and "/en/" not in text
    assert in_app(db_app, lambda db: db.scalars(select(Job).where(Job.kind == "refund")).all()) == []
    [payment] = in_app(db_app, lambda db: db.scalars(select(Payment)).all())
    assert payment.refund_requested_at is None and payment.refunded_at is None


def test_without_a_contact_copy_nothing_promises_a_mail(db_app: Flask) -> None:
    """A participant who signed before contact copies were kept: the page does not promise what cannot be sent."""
    anna = join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    in_app(db_app, lambda db: (db.execute(Contact.__table__.delete()), db.commit()))
    asked, after = withdraw_on_the_page(db_app, anna.token)
    assert "confirmation by e-mail" not in asked and "We have sent a confirmation" not in after
    assert "You withdrew within 14 days of paying" in after  # the refund is made all the same
    assert [m for m in deliver(db_app) if "withdrawal" in str(m["Subject"]).lower()] == []


def test_erasure_within_14_days_refunds_too_but_mails_nothing(db_app: Flask) -> None:
    anna = join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    logged_in(db_app, client)
    asked = client.get(f"/en/my/erase/{anna.token}", base_url=TIKTOK).get_data(as_text=True)
    assert "we refund your payment of €17.50 in full" in asked
    assert confirm(client, "erase", anna.token).location == "/en/my"
    assert [m for m in deliver(db_app) if "withdrawal" in str(m["Subject"]).lower()] == []
    [payment] = in_app(db_app, lambda db: db.scalars(select(Payment)).all())
    assert payment.refunded_at is not None  # the bookkeeping of the payment is kept through erasure


def test_what_withdrawing_means_for_each_kind_of_fee(make_app: Any) -> None:
    now = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    no_cure = FeeTerms.model_validate(
        {"model": "no_cure_no_pay", "success_fee": {"option": "share", "flat_cents": 5000, "share_percent": 20}}
    )
    with make_app().app_context(), force_locale("en"):
        assert fee_on_withdrawal(None, None, now, "en") == WithdrawalFee(["You paid nothing and owe nothing."])
        assert fee_on_withdrawal(FeeTerms(model="free"), None, now, "en").lines == ["You paid nothing and owe nothing."]
        assert fee_on_withdrawal(no_cure, None, now, "en").lines == [
            "No success fee will be charged to you: we no longer claim compensation on your behalf."
        ]
        unpaid = fee_on_withdrawal(FeeTerms(model="subscription", one_time_cents=1750), None, now, "en")
        assert unpaid == WithdrawalFee(["You had not paid the one-time fee of €17.50, and you no longer owe it."])
        longer = FeeTerms(model="subscription", one_time_cents=1750, refund_within_days=30)
        assert fee_on_withdrawal(longer, now - dt.timedelta(days=29), now, "en").refund
        assert not fee_on_withdrawal(longer, now - dt.timedelta(days=31), now, "en").refund


def test_a_stripe_payment_is_refunded_at_stripe_once_even_when_the_job_runs_again(
    stripe_app: Flask, stripe_server: Any
) -> None:
    client, session_id, completed = paid_at_stripe(stripe_app, stripe_server)
    assert post_event(client, stripe_server, completed).status_code == 200
    deliver(stripe_app)
    [anna] = signups(stripe_app)
    withdraw_on_the_page(stripe_app, anna.token)
    deliver(stripe_app)
    intent = stripe_server.sessions[session_id]["payment_intent"]
    [refund] = stripe_server.refunds
    assert (refund["payment_intent"], refund["amount"], refund["currency"]) == (intent, 1750, "eur")
    [payment] = in_app(stripe_app, lambda db: db.scalars(select(Payment)).all())
    assert payment.refund_ref == refund["id"]
    # The worker died after Stripe refunded but before the answer was saved, and the job runs again a day later
    # (Stripe has forgotten the idempotency key by then): Stripe refunds nothing more, and the same refund is kept.
    in_app(stripe_app, lambda db: (db.execute(update(Payment).values(refunded_at=None, refund_ref=None)), db.commit()))
    stripe_server._idempotent.clear()
    with stripe_app.app_context():
        make_refund(stripe_app, {"payment": payment.id})
    assert len(stripe_server.refunds) == 1
    [payment] = in_app(stripe_app, lambda db: db.scalars(select(Payment)).all())
    assert payment.refund_ref == refund["id"] and payment.refunded_at is not None
