"""Payment provider ``test``: a clearly labelled test checkout on the site itself, so that the whole sign-up,
payment included, can be tried without Stripe keys or a network (``make run``, demos, tests). No money moves.

It serves a campaign only outside production, and only when no real provider does (it is asked last). Its page
stands in for the provider: "Pay (test)" marks the attempt paid, as a provider's notification would.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Blueprint, abort, current_app, g, redirect, request
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.data.db import db_session, utcnow
from core.data.hashing import signing_serializer
from core.data.models import Payment, PaymentState
from core.money.fees import euros
from core.money.payment_providers import Checkout, CheckoutRequest, PaymentProvider
from core.plugins import hookimpl
from core.signup.payments import apply_state
from core.site import site
from core.web.rendering import render_page
from core.web.requests import current_visit

CHECKOUT_HOURS = 1
bp = Blueprint("test_payments", __name__)


def _serializer() -> URLSafeTimedSerializer:
    return signing_serializer(current_app.secret_key, "test-payments")  # type: ignore[arg-type]


class TestPayments(PaymentProvider):
    identifier = "test"
    verbose_name = "Test payments (no money moves)"
    test_mode = True

    def is_allowed(self, campaign: LoadedCampaign) -> bool:
        return site().settings.env != "production"

    def refund(self, campaign: LoadedCampaign, payment: Payment) -> str:
        return f"test-refund-{payment.id}"  # no money moved in, none moves out

    def prepare(self, checkout: CheckoutRequest) -> Checkout:
        token = _serializer().dumps(
            [checkout.campaign.slug, checkout.payment_id, checkout.success_url, checkout.cancel_url]
        )
        url = campaign_url(checkout.campaign, "test_payments.checkout", token=token)
        return Checkout(
            ref=f"test_{checkout.payment_id}", url=url, expires_at=utcnow() + dt.timedelta(hours=CHECKOUT_HOURS)
        )


@bp.route("/payments/test/<token>", methods=["GET", "POST"])
def checkout(token: str) -> Response | str:
    loaded = g.campaign
    if site().settings.env == "production":
        abort(404)
    try:
        slug, payment_id, success_url, cancel_url = _serializer().loads(token, max_age=CHECKOUT_HOURS * 3600)
    except (BadData, ValueError):
        abort(404)
    db = db_session()
    payment = db.scalar(select(Payment).where(Payment.id == payment_id, Payment.provider == TestPayments.identifier))
    if slug != loaded.slug or payment is None:
        abort(404)
    g.lang = payment.signup.language
    if request.method == "POST":
        if request.form.get("action") == "pay":
            visit = current_visit()
            apply_state(db, loaded, payment, PaymentState.PAID, visit.now, how="test checkout", visit=visit)
            db.commit()
            return redirect(success_url, 303)
        return redirect(cancel_url, 303)
    return render_page(
        "test_payments/checkout.html",
        cache=False,
        payment=payment,
        amount=euros(payment.amount_cents),
        cancel_url=cancel_url,
    )


@hookimpl(trylast=True)
def claimsite_payment_providers() -> list[PaymentProvider]:
    return [TestPayments()]


@hookimpl
def claimsite_blueprints() -> list[Blueprint]:
    return [bp]


@hookimpl
def claimsite_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]
