"""Paying through Stripe Checkout: the real stripe library against a Stripe-compatible server on loopback
(tests/stripe_server.py). The TikTok claim asks EUR 17.50 before a sign-up counts. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.data.models import Payment, ProviderEvent, Signup
from tests.conftest import PRODUCTION_PUBLIC_KEY, STRIPE_WEBHOOK_SECRET
from tests.test_signup import TIKTOK, code_of, deliver, post_code, post_form, sign_form

WEBHOOK = "/payments/stripe/webhook"


@pytest.fixture
def app(stripe_app: Flask) -> Flask:
    return stripe_app


def sign_up(app: Flask, client: FlaskClient, language: str = "en", **changes: str) -> str:
    """Join up to the payment; returns the payment page's path."""
    assert post_form(client, language, **changes).status_code == 302
    [mail] = [m for m in deliver(app) if "verification" in str(m["Subject"]).lower() or code_of(m)]
    assert post_code(client, code_of(mail), language).status_code == 302
    prefix = f"/{language}" if language else ""
    signed = client.post(f"{prefix}/join/sign", data=sign_form(client, language), base_url=TIKTOK)
    assert signed.status_code == 302 and "/join/pay/" in signed.location
    return signed.location


def csrf(client: FlaskClient, path: str) -> str:
    html = client.get(path, base_url=TIKTOK).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def go_to_checkout(client: FlaskClient, pay_page: str) -> str:
    """Press "Pay": returns the Checkout Session id the visitor is sent to."""
    response = client.post(pay_page, data={"csrf_token": csrf(client, pay_page)}, base_url=TIKTOK)
    assert response.status_code == 303, response.get_data(as_text=True)
    return re.search(r"/pay/(cs_test_\w+)$", response.location).group(1)  # type: ignore[union-attr]


def post_event(
    client: FlaskClient,
    server: Any,
    event: dict[str, Any],
    secret: str = STRIPE_WEBHOOK_SECRET,
    timestamp: int | None = None,
    tamper: bool = False,
) -> Any:
    payload, header = server.signed_payload(event, secret, timestamp=timestamp)
    if tamper:
        payload = payload.replace(b'"livemode": false', b'"livemode": true ')
    return client.post(
        WEBHOOK, data=payload, base_url=TIKTOK, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


def events_of(server: Any, session_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in server.events if e["type"] == kind and e["data"]["object"]["id"] == session_id]


def paid_at_stripe(app: Flask, stripe_server: Any) -> tuple[FlaskClient, str, dict[str, Any]]:
    """A sign-up, signed (its mandate job queued, not run) and paid at Stripe, whose event is not delivered yet:
    the visitor's client, the Checkout Session id and the ``checkout.session.completed`` event."""
    client = app.test_client()
    session_id = go_to_checkout(client, sign_up(app, client))
    stripe_server.complete(session_id)
    [completed] = events_of(stripe_server, session_id, "checkout.session.completed")
    return client, session_id, completed


def the_signup(app: Flask) -> Signup:
    with app.app_context():
        from core.data.db import db_session

        return db_session().scalars(select(Signup)).one()


def payments_of(app: Flask) -> list[Payment]:
    with app.app_context():
        from core.data.db import db_session

        return list(db_session().scalars(select(Payment).order_by(Payment.id)))


def counted(app: Flask) -> int:
    with app.app_context():
        app.extensions["claimsite"].counters.forget("tiktokclaim")
        return app.extensions["claimsite"].counters.participants("tiktokclaim")


def test_checkout_session_is_created_as_asked(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client, "en")
    response = client.get(pay_page, base_url=TIKTOK)
    # The browser follows the form post's redirect to the checkout only if the policy allows its origin.
    assert response.headers["Content-Security-Policy"].endswith(f"form-action 'self' {stripe_server.url}")
    page = response.get_data(as_text=True)
    assert "€17.50" in page and "One-time participation in the TikTok lawsuit" in page and "Stripe" in page
    session_id = go_to_checkout(client, pay_page)
    [create] = [r for r in stripe_server.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]
    signup = the_signup(app)
    params = create.params
    assert params["mode"] == "payment" and params["locale"] == "en"
    [item] = params["line_items"]
    assert item["price_data"]["currency"] == "eur" and item["price_data"]["unit_amount"] == "1750"
    assert item["quantity"] == "1"
    assert params["metadata"]["signup_id"] == str(signup.id) and params["client_reference_id"] == str(signup.id)
    assert params["success_url"].startswith("https://tiktokclaim.org/en/join/pay/")
    assert params["cancel_url"].startswith("https://tiktokclaim.org/en/join/pay/")
    assert params["success_url"].endswith("/return") and params["cancel_url"].endswith("/cancel")
    assert create.headers["Idempotency-Key"] == f"claimsite-signup-{signup.id}-attempt-1"
    session = stripe_server.sessions[session_id]
    assert session["amount_total"] == 1750 and session["currency"] == "eur"
    # A second press (double click, back button) goes to the same open checkout; nothing new is created.
    assert go_to_checkout(client, pay_page) == session_id
    assert len([r for r in stripe_server.requests if r.path == "/v1/checkout/sessions"]) == 1
    [payment] = payments_of(app)
    assert (payment.state, payment.provider, payment.provider_ref, payment.amount_cents) == (
        "open",
        "stripe",
        session_id,
        1750,
    )


def test_dutch_checkout_is_in_dutch(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    go_to_checkout(client, sign_up(app, client, ""))
    [create] = [r for r in stripe_server.requests if r.path == "/v1/checkout/sessions"]
    assert create.params["locale"] == "nl" and create.params["success_url"].startswith("https://tiktokclaim.org/join/")


def test_paid_only_when_stripe_says_so(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client)
    session_id = go_to_checkout(client, pay_page)
    back = client.get(f"{pay_page}/return", base_url=TIKTOK)  # the browser back before (or without) paying
    assert back.status_code == 200 and "Confirming your payment" in back.get_data(as_text=True)
    assert 'http-equiv="refresh"' in back.get_data(as_text=True)
    assert the_signup(app).paid_at is None and counted(app) == 0
    assert "/en/join/pay/" in client.get("/en/join/done", base_url=TIKTOK).location  # (a fresh link: new time)

    stripe_server.complete(session_id)
    [event] = events_of(stripe_server, session_id, "checkout.session.completed")
    answer = post_event(client, stripe_server, event)
    assert answer.status_code == 200 and answer.get_json()["status"] == "paid"
    # The session was fetched again from Stripe before being trusted.
    assert any(r.method == "GET" and r.path == f"/v1/checkout/sessions/{session_id}" for r in stripe_server.requests)
    assert the_signup(app).paid_at is not None and counted(app) == 1
    with app.app_context():
        from core.data.db import db_session

        steps = [e.step for e in db_session().scalars(select(Signup)).one().events]
    assert [step for step in steps if step.startswith("payment-")] == ["payment-started", "payment-paid"]

    returned = client.get(f"{pay_page}/return", base_url=TIKTOK)
    assert returned.status_code == 302 and returned.location.endswith("/en/join/done")
    done = client.get("/en/join/done", base_url=TIKTOK).get_data(as_text=True)
    assert "Paid: €17.50 on" in done and "20% of the compensation" in done
    mails = deliver(app)  # the mandate job, then the confirmation it queues
    [confirmation] = [m for m in mails if "mandate" in str(m.get_body(("plain",)).get_content()).lower()]
    text = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Paid: €17.50 on" in text and "A one-time participation fee of €17.50" in text
    assert "20% of the compensation you receive" in text


@pytest.mark.parametrize("forgery", ["wrong secret", "old timestamp", "tampered body", "no signature"])
def test_webhook_signature_is_checked(app: Flask, stripe_server: Any, forgery: str) -> None:
    client = app.test_client()
    session_id = go_to_checkout(client, sign_up(app, client))
    stripe_server.complete(session_id)
    [event] = events_of(stripe_server, session_id, "checkout.session.completed")
    if forgery == "wrong secret":
        answer = post_event(client, stripe_server, event, secret="whsec_someone_else")
    elif forgery == "old timestamp":
        answer = post_event(client, stripe_server, event, timestamp=int(time.time()) - 600)
    elif forgery == "tampered body":
        answer = post_event(client, stripe_server, event, tamper=True)
    else:
        answer = client.post(WEBHOOK, data=b"{}", base_url=TIKTOK, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert the_signup(app).paid_at is None and counted(app) == 0
    with app.app_context():
        from core.data.db import db_session

        assert db_session().scalars(select(ProviderEvent)).all() == []
    assert post_event(client, stripe_server, event).status_code == 200  # the genuine one still works
    assert the_signup(app).paid_at is not None


def test_replayed_and_out_of_order_events_are_harmless(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    session_id = go_to_checkout(client, sign_up(app, client))
    stripe_server.complete(session_id, async_payment=True)  # a bank payment: confirmed later
    stripe_server.settle_async(session_id, succeeded=True)
    [completed] = events_of(stripe_server, session_id, "checkout.session.completed")
    [succeeded] = events_of(stripe_server, session_id, "checkout.session.async_payment_succeeded")
    # The later event arrives first: the session, fetched again, is paid.
    assert post_event(client, stripe_server, succeeded).get_json()["status"] == "paid"
    paid_at = the_signup(app).paid_at
    assert post_event(client, stripe_server, completed).get_json()["status"] == "unchanged"
    assert post_event(client, stripe_server, succeeded).get_json()["status"] == "duplicate"
    assert post_event(client, stripe_server, completed).get_json()["status"] == "duplicate"
    # A late 'expired' for the same session (it never expired; a forgery of order) changes nothing either.
    late = {**completed, "id": "evt_late_expired", "type": "checkout.session.expired"}
    assert post_event(client, stripe_server, late).get_json()["status"] == "unchanged"
    signup = the_signup(app)
    assert signup.paid_at == paid_at and counted(app) == 1
    assert [p.state for p in payments_of(app)] == ["paid"]
    with app.app_context():
        from core.data.db import db_session

        assert len(db_session().scalars(select(ProviderEvent)).all()) == 3


def test_bank_payment_processing_then_failed(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client)
    session_id = go_to_checkout(client, pay_page)
    stripe_server.complete(session_id, async_payment=True)
    [completed] = events_of(stripe_server, session_id, "checkout.session.completed")
    assert post_event(client, stripe_server, completed).get_json()["status"] == "processing"
    page = client.get(f"{pay_page}/return", base_url=TIKTOK).get_data(as_text=True)
    assert "Your payment is being processed" in page and counted(app) == 0
    stripe_server.settle_async(session_id, succeeded=False)
    [failed] = events_of(stripe_server, session_id, "checkout.session.async_payment_failed")
    assert post_event(client, stripe_server, failed).get_json()["status"] == "failed"
    assert counted(app) == 0
    page = client.get(pay_page, base_url=TIKTOK).get_data(as_text=True)
    assert "The payment did not go through" in page
    [reminder] = [m for m in deliver(app) if "payment" in str(m["Subject"]).lower()]
    assert "/en/join/pay/" in reminder.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_expired_checkout_then_pay_later_from_the_mail(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    session_id = go_to_checkout(client, sign_up(app, client))
    stripe_server.expire(session_id)
    [expired] = events_of(stripe_server, session_id, "checkout.session.expired")
    assert post_event(client, stripe_server, expired).get_json()["status"] == "expired"
    [reminder] = [m for m in deliver(app) if "payment" in str(m["Subject"]).lower()]
    body = reminder.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "€17.50" in body
    link = re.search(r"https://tiktokclaim\.org(/en/join/pay/\S+)", body).group(1)  # type: ignore[union-attr]
    # Another browser (the phone's mail app) follows the link: a new checkout, under a new idempotency key.
    phone = app.test_client()
    page = phone.get(link, base_url=TIKTOK).get_data(as_text=True)
    assert "timed out" in page
    second = go_to_checkout(phone, link)
    assert second != session_id
    keys = [r.headers["Idempotency-Key"] for r in stripe_server.requests if r.path == "/v1/checkout/sessions"]
    assert keys[0].endswith("-attempt-1") and keys[1].endswith("-attempt-2")
    stripe_server.complete(second)
    [completed] = events_of(stripe_server, second, "checkout.session.completed")
    assert post_event(phone, stripe_server, completed).get_json()["status"] == "paid"
    paid = phone.get(f"{link}/return", base_url=TIKTOK).get_data(as_text=True)
    assert "Payment received" in paid and counted(app) == 1
    assert [p.state for p in payments_of(app)] == ["expired", "paid"]
    assert deliver(app) and not [m for m in deliver(app) if "payment" in str(m["Subject"]).lower()]


def test_cancel_then_pay_later_reuses_the_open_checkout(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client)
    session_id = go_to_checkout(client, pay_page)
    cancelled = client.get(f"{pay_page}/cancel", base_url=TIKTOK)
    assert cancelled.status_code == 302
    page = client.get(cancelled.location, base_url=TIKTOK).get_data(as_text=True)
    assert "You cancelled the payment" in page
    [reminder] = [m for m in deliver(app) if "payment" in str(m["Subject"]).lower()]
    assert "/en/join/pay/" in reminder.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # Paying later goes back to the same Stripe session (still open there), so nobody can pay twice.
    assert go_to_checkout(client, pay_page) == session_id
    stripe_server.complete(session_id)
    [completed] = events_of(stripe_server, session_id, "checkout.session.completed")
    assert post_event(client, stripe_server, completed).get_json()["status"] == "paid"
    assert counted(app) == 1 and [p.state for p in payments_of(app)] == ["paid"]


def test_events_we_do_not_handle_get_a_2xx(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    event = {
        "id": "evt_other",
        "object": "event",
        "type": "customer.created",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    answer = post_event(client, stripe_server, event)
    assert answer.status_code == 200 and answer.get_json()["status"] == "not handled"
    unknown = {
        **event,
        "id": "evt_unknown_session",
        "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_not_ours", "object": "checkout.session"}},
    }
    assert post_event(client, stripe_server, unknown).get_json()["status"] == "ignored"


def test_stripe_unreachable_keeps_the_attempt_for_a_retry(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client)
    stripe_server.stop()
    answer = client.post(pay_page, data={"csrf_token": csrf(client, pay_page)}, base_url=TIKTOK)
    assert answer.status_code == 503 and "could not be reached" in answer.get_data(as_text=True)
    [payment] = payments_of(app)
    assert payment.state == "created"
    stripe_server.start()
    go_to_checkout(client, pay_page)
    [payment] = payments_of(app)  # the same attempt, the same idempotency key
    assert payment.state == "open" and payment.attempt == 1


def production_app(make_app: Any) -> Any:
    return make_app(
        env="production",
        mail_url="smtp://127.0.0.1:25",
        secret_key="p" * 40,
        hash_key="h" * 40,
        contact_key="c" * 40,
        breach_key="b" * 40,
        sealing_public_key=PRODUCTION_PUBLIC_KEY,
    )


def test_production_without_stripe_keys_leaves_the_paid_campaign_out(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CLAIMSITE_STRIPE_SECRET_KEY", "CLAIMSITE_STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    app = production_app(make_app)
    snapshot = app.extensions["claimsite"].registry.snapshot
    assert "tiktokclaim" not in snapshot.campaigns  # it asks a payment no provider may take
    (problem,) = [p for p in snapshot.errors if p.file.endswith("tiktokclaim.yaml")]
    assert "CLAIMSITE_STRIPE_SECRET_KEY" in problem.message and problem.field == "plugins.subscription"
    assert {"zoomclaim", "palantirclaim"} <= set(snapshot.campaigns)  # the others serve
    client = app.test_client()
    assert client.get("/", base_url="https://tiktokclaim.org").status_code == 404
    assert client.get("/en/", base_url="https://zoomclaim.org").status_code == 200
    monkeypatch.setenv("CLAIMSITE_STRIPE_SECRET_KEY_TIKTOKCLAIM", "sk_live_x")  # a campaign's own keys do too
    monkeypatch.setenv("CLAIMSITE_STRIPE_WEBHOOK_SECRET_TIKTOKCLAIM", "whsec_x")
    app = production_app(make_app)
    with app.app_context():
        from core.money.payment_providers import provider_for

        tiktok = app.extensions["claimsite"].registry.snapshot.campaigns["tiktokclaim"]
        assert provider_for(tiktok).identifier == "stripe"  # type: ignore[union-attr]


def test_stripe_settings_come_from_the_environment_and_are_checked() -> None:
    from core.settings import SettingsError
    from plugins.stripe_checkout import StripeCheckout

    with pytest.raises(SettingsError, match="CLAIMSITE_STRIPE_CHECKOUT_MINUTES"):
        StripeCheckout({"CLAIMSITE_STRIPE_CHECKOUT_MINUTES": "5"})  # Stripe allows 30 minutes at least
    with pytest.raises(SettingsError, match="CLAIMSITE_STRIPE_API_BASE"):
        StripeCheckout({"CLAIMSITE_STRIPE_API_BASE": "not a url"})
    provider = StripeCheckout(
        {
            "CLAIMSITE_STRIPE_SECRET_KEY": "sk_global",
            "CLAIMSITE_STRIPE_WEBHOOK_SECRET": "wh_g",
            "CLAIMSITE_STRIPE_SECRET_KEY_TIKTOK_CLAIM": "sk_own",
            "CLAIMSITE_STRIPE_WEBHOOK_SECRET_TIKTOK_CLAIM": "wh_own",
            "CLAIMSITE_STRIPE_SECRET_KEY_HALF_SET": "sk_half",
        }
    )
    assert provider.keys_for("tiktok-claim") == ("sk_own", "wh_own")  # the campaign's own keys first
    assert provider.keys_for("half-set") == ("sk_global", "wh_g")  # a key without its webhook secret is not used
    assert "sk_global" not in repr(provider.settings)  # secrets never show in logs or tracebacks
    assert StripeCheckout({}).keys_for("tiktokclaim") is None


def test_an_event_reaching_another_campaigns_endpoint_is_left_for_its_own(app: Flask, stripe_server: Any) -> None:
    """One Stripe account, one endpoint per campaign address: every endpoint gets every event."""
    client = app.test_client()
    session_id = go_to_checkout(client, sign_up(app, client))
    stripe_server.complete(session_id)
    [event] = events_of(stripe_server, session_id, "checkout.session.completed")
    payload, header = stripe_server.signed_payload(event, STRIPE_WEBHOOK_SECRET)
    elsewhere = client.post(
        WEBHOOK,
        data=payload,
        base_url="https://facebookleak.somi.nl",
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
    assert elsewhere.status_code == 200 and elsewhere.get_json()["status"] == "ignored"
    assert post_event(client, stripe_server, event).get_json()["status"] == "paid"


def test_payment_links_are_their_own_kind_and_campaign(app: Flask) -> None:
    from core.signup.links import mandate_link_token, pay_link_token, read_pay_link_token

    with app.app_context():
        assert read_pay_link_token("tiktokclaim", pay_link_token("tiktokclaim", "abc")) == "abc"
        assert read_pay_link_token("tiktokclaim", mandate_link_token("tiktokclaim", "abc")) is None
        assert read_pay_link_token("facebookleak", pay_link_token("tiktokclaim", "abc")) is None
    assert app.test_client().get("/en/join/pay/not-a-token", base_url=TIKTOK).status_code == 404


def as_if_the_answer_was_lost(app: Flask, minutes_ago: int = 0) -> None:
    """The attempt as the process left it when it died after Stripe made the checkout, before saving its answer."""
    import datetime as dt

    from sqlalchemy import update

    with app.app_context():
        from core.data.db import db_session

        db = db_session()
        [payment] = db.scalars(select(Payment)).all()
        db.execute(
            update(Payment).values(
                state="created",
                provider_ref=None,
                checkout_url=None,
                expires_at=None,
                created_at=payment.created_at - dt.timedelta(minutes=minutes_ago),
            )
        )
        db.commit()


def test_pay_again_after_stripes_answer_was_lost_opens_the_same_checkout(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client)
    first = go_to_checkout(client, pay_page)
    as_if_the_answer_was_lost(app)
    time.sleep(1.1)  # a second later: nothing asked of Stripe may depend on when it is asked
    assert go_to_checkout(client, pay_page) == first
    assert len(stripe_server.sessions) == 1
    [payment] = payments_of(app)
    assert (payment.state, payment.attempt, payment.provider_ref) == ("open", 1, first)


def test_an_unanswered_attempt_left_for_long_gives_way_to_a_new_one(app: Flask, stripe_server: Any) -> None:
    client = app.test_client()
    pay_page = sign_up(app, client)
    go_to_checkout(client, pay_page)
    as_if_the_answer_was_lost(app, minutes_ago=30)
    second = go_to_checkout(client, pay_page)
    [lost, payment] = payments_of(app)
    assert (lost.state, payment.state, payment.attempt, payment.provider_ref) == ("created", "open", 2, second)
    [create] = [
        r
        for r in stripe_server.requests
        if r.path == "/v1/checkout/sessions" and r.params and r.headers["Idempotency-Key"].endswith("attempt-2")
    ]
    assert int(create.params["expires_at"]) - time.time() > 55 * 60  # the full hour for the visitor
