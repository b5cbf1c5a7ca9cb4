"""Paying what a sign-up owes: the payment page (after signing, or from the link in the "pay later" mail), the
checkout's return and cancel pages, and the providers' webhooks.

Every page of one sign-up's payment is reached through a signed link (``core.signup.links.pay_link_token``), so
it works in any browser, for 30 days. Coming back from the checkout never marks anything paid: the page shows
what the provider has reported, and waits (refreshing itself) until it has.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.data.db import db_session
from core.data.models import PaymentState, Signup, Stage, is_participant
from core.money.fees import euros, fee_model_for, fee_summary, payment_due, terms_of
from core.money.payment_providers import PaymentProviderError, provider_for, provider_named
from core.signup import flow, payments
from core.signup.links import PAY_LINK_DAYS, read_pay_link_token
from core.site import current_campaign
from core.web.join_closed import refusal
from core.web.rendering import render_page
from core.web.requests import csrf_ok, current_visit, limit_per_ip
from core.web.security_headers import allow_form_action
from core.web.views.localized import localized_blueprint, localized_route

bp = localized_blueprint("payments", __name__)
webhooks = Blueprint("payment_webhooks", __name__)

REFRESH_SECONDS = 3


@bp.after_request
def _never_stored(response: Response) -> Response:
    # Pages of one sign-up's payment (after the form, like the join flow's): no browser or proxy cache keeps them.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _signup_of(token: str) -> tuple[LoadedCampaign, Signup]:
    loaded = current_campaign()
    signup_token = read_pay_link_token(loaded.slug, token)
    signup = flow.find(db_session(), loaded.slug, signup_token) if signup_token else None
    if signup is None:
        abort(404)
    return loaded, signup


def _fee_lines(loaded: LoadedCampaign, signup: Signup) -> list[str]:
    terms = terms_of(signup)
    return fee_summary(fee_model_for(loaded), terms, signup.paid_at, g.lang) if terms else []


def _paid_page(loaded: LoadedCampaign, signup: Signup) -> BaseResponse:
    if session.get("verified") == signup.token:  # the browser that signed: its success page
        return redirect(url_for("signup.done"))
    return render_page("payments/paid.html", cache=False, fee_lines=_fee_lines(loaded, signup))


def _pay_page(
    loaded: LoadedCampaign, signup: Signup, token: str, message: str | None = None, status: int = 200
) -> BaseResponse:
    due = payment_due(loaded, signup)
    latest = payments.latest(db_session(), signup)
    if message is None and latest is not None:
        message = {
            PaymentState.CANCELLED: _(
                "You cancelled the payment; nothing was charged. You can pay now, or later "
                "with the link we sent you by e-mail."
            ),
            PaymentState.EXPIRED: _(
                "The payment page timed out before the payment was made; nothing was charged. You can start again."
            ),
            PaymentState.FAILED: _(
                "The payment did not go through; nothing was charged. You can try again, "
                "perhaps with another payment method."
            ),
        }.get(PaymentState(latest.state))
    provider = provider_for(loaded)
    for origin in provider.checkout_origins(loaded) if provider else ():
        allow_form_action(origin)
    return render_page(
        "payments/pay.html",
        cache=False,
        status=status,
        token=token,
        message=message,
        amount=euros(due.amount_cents) if due else None,
        description=due.description if due else "",
        fee_lines=_fee_lines(loaded, signup),
        provider=provider,
        days_valid=PAY_LINK_DAYS,
        processing=latest is not None and latest.state == PaymentState.PROCESSING,
    )


@localized_route(bp, "/join/pay/<token>", methods=["GET", "POST"])
def pay(token: str) -> BaseResponse:
    """What is owed, and a button to the checkout (a POST: opening a checkout is not a link to follow twice)."""
    limit_per_ip("pay-link-ip")
    loaded, signup = _signup_of(token)
    if signup.stage != Stage.SIGNED or signup.withdrawn_at is not None:  # nothing to pay for a withdrawn mandate
        return redirect(url_for("signup.start"))
    if is_participant(signup):
        return _paid_page(loaded, signup)
    refused = refusal(signup)  # a checkout already started is still completed (returned, webhook)
    if refused is not None:
        return refused
    if request.method == "GET":
        return _pay_page(loaded, signup, token)
    if not csrf_ok():
        return _pay_page(loaded, signup, token, _("The page was open too long; please try again."), 400)
    provider = provider_for(loaded)
    if provider is None:
        return _pay_page(
            loaded,
            signup,
            token,
            _("Payments are not possible at the moment. Please try again later with the link in your e-mail."),
            503,
        )
    db = db_session()
    try:  # back to the campaign's own address, in this language
        checkout_url = payments.start_checkout(
            db,
            loaded,
            signup,
            provider,
            campaign_url(loaded, "payments.returned", language=g.lang, token=token),
            campaign_url(loaded, "payments.cancelled", language=g.lang, token=token),
            current_visit(),
        )
    except PaymentProviderError:
        db.rollback()
        return _pay_page(
            loaded,
            signup,
            token,
            _("The payment service could not be reached; nothing was charged. Please try again in a minute."),
            503,
        )
    return redirect(checkout_url, 303)


@localized_route(bp, "/join/pay/<token>/return")
def returned(token: str) -> BaseResponse:
    """Back from the checkout: paid once the provider said so; until then, a page that checks again."""
    loaded, signup = _signup_of(token)
    if is_participant(signup):
        return _paid_page(loaded, signup)
    latest = payments.latest(db_session(), signup)
    if latest is None or latest.state not in (PaymentState.OPEN, PaymentState.PROCESSING, PaymentState.CANCELLED):
        return redirect(url_for("payments.pay", token=token))
    return render_page(
        "payments/returned.html",
        cache=False,
        refresh=REFRESH_SECONDS,
        processing=latest.state == PaymentState.PROCESSING,
        token=token,
    )


@localized_route(bp, "/join/pay/<token>/cancel")
def cancelled(token: str) -> BaseResponse:
    loaded, signup = _signup_of(token)
    db = db_session()
    latest = payments.latest(db, signup)
    if latest is not None and not is_participant(signup):
        payments.cancel(db, loaded, latest, current_visit())
        db.commit()
    return redirect(url_for("payments.pay", token=token))


@webhooks.post("/payments/<provider>/webhook")
def webhook(provider: str) -> BaseResponse:
    """A payment provider's notification; the provider checks its signature and applies it."""
    found = provider_named(provider)
    if found is None:
        abort(404)
    limit_per_ip("webhook-ip")
    return found.handle_webhook(current_campaign(), request)
