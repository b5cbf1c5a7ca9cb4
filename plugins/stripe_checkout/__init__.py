"""Payment provider ``stripe``: Stripe Checkout in ``payment`` mode, in euros, in the visitor's language.

Keys come from the environment only, globally or per campaign (the campaign's slug in capitals, ``-`` as ``_``)::

    CLAIMSITE_STRIPE_SECRET_KEY=sk_live_...        CLAIMSITE_STRIPE_SECRET_KEY_TIKTOKCLAIM=sk_live_...
    CLAIMSITE_STRIPE_WEBHOOK_SECRET=whsec_...      CLAIMSITE_STRIPE_WEBHOOK_SECRET_TIKTOKCLAIM=whsec_...

A campaign is served by Stripe when it has both (its own, or the global ones). In the Stripe dashboard, add the
webhook endpoint ``https://<campaign address>/payments/stripe/webhook`` with the events
``checkout.session.completed``, ``checkout.session.async_payment_succeeded``,
``checkout.session.async_payment_failed`` and ``checkout.session.expired``. ``CLAIMSITE_STRIPE_API_BASE`` points the
library at another server (the tests' Stripe-compatible one); ``CLAIMSITE_STRIPE_CHECKOUT_MINUTES`` (30-1440,
default 60; at least 35 are given) is how long a checkout page stays open, from the attempt that opened it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple

import stripe
from flask import Request, jsonify
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from core.campaigns import LoadedCampaign
from core.data.db import db_session
from core.data.models import Payment, PaymentState
from core.money.payment_providers import Checkout, CheckoutRequest, PaymentProvider, PaymentProviderError, Reported
from core.plugins import hookimpl
from core.settings import SettingsError
from core.signup.payments import UNANSWERED_REUSED_FOR, apply_provider_event

log = logging.getLogger(__name__)

ENV_PREFIX = "CLAIMSITE_STRIPE_"
STRIPE_MINIMUM_OPEN = dt.timedelta(minutes=30)  # the shortest time to expiry Stripe accepts for a new session
HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
# Stripe Checkout's own languages (a subset); anything else lets Stripe pick from the browser.
CHECKOUT_LOCALES = frozenset(
    {
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "fi",
        "fr",
        "hr",
        "hu",
        "it",
        "lt",
        "lv",
        "mt",
        "nb",
        "nl",
        "pl",
        "pt",
        "ro",
        "sk",
        "sl",
        "sv",
    }
)


class StripeKeys(NamedTuple):
    secret_key: str
    webhook_secret: str


def env_suffix(slug: str) -> str:
    """The campaign part of a per-campaign variable: ``tiktok-claim`` -> ``TIKTOK_CLAIM``."""
    return slug.upper().replace("-", "_")


def state_of(session: Any, event_type: str) -> PaymentState | None:
    """What a Checkout Session, as Stripe reports it now, means for our payment (None: nothing to change)."""
    if session.status == "complete" and session.payment_status in ("paid", "no_payment_required"):
        return PaymentState.PAID
    if session.status == "complete":  # a delayed method (e.g. SEPA debit): the money is not there yet
        return PaymentState.FAILED if event_type == "checkout.session.async_payment_failed" else PaymentState.PROCESSING
    if session.status == "expired":
        return PaymentState.EXPIRED
    return None


def reported(session: Any, event_type: str) -> Reported | None:
    """:func:`state_of`, with the amount and currency of the session (what was, or will be, paid)."""
    state = state_of(session, event_type)
    if state is None:
        return None
    return Reported(state, getattr(session, "amount_total", None), getattr(session, "currency", None))


def signed_in_the_future(header: str | None, now: float) -> bool:
    """Is any timestamp of a ``Stripe-Signature`` header further ahead than the tolerance? The library only
    refuses old ones; a signature dated ahead would stay replayable for as long."""
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit() and int(value) > now + stripe.Webhook.DEFAULT_TOLERANCE:
            return True
    return False


class StripeSettings(BaseModel):
    """The provider's settings, from ``CLAIMSITE_STRIPE_*`` (per-campaign keys are read by :meth:`keys_for`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    secret_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    api_base: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(:\d+)?/?$")] | None = None
    checkout_minutes: int = Field(default=60, ge=30, le=1440, description="Stripe allows 30 minutes to 24 hours")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StripeSettings:
        try:
            return cls.model_validate(
                {
                    name.removeprefix(ENV_PREFIX).lower(): value
                    for name, value in environ.items()
                    if name.startswith(ENV_PREFIX) and value
                }
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise SettingsError(f"Stripe settings: {problems}") from None


class StripeCheckout(PaymentProvider):
    identifier = "stripe"
    verbose_name = "Stripe Checkout"
    settings_model = StripeSettings

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX) and v}
        self.settings = StripeSettings.from_environ(self.environ)
        self.api_base = self.settings.api_base
        self.checkout_lifetime = dt.timedelta(minutes=self.settings.checkout_minutes)
        self._clients: dict[str, stripe.StripeClient] = {}
        self._lock = threading.Lock()

    def keys_for(self, slug: str) -> StripeKeys | None:
        """The campaign's own keys if both are set, else the global ones if both are set, else None."""
        own = (
            self.environ.get(f"{ENV_PREFIX}SECRET_KEY_{env_suffix(slug)}"),
            self.environ.get(f"{ENV_PREFIX}WEBHOOK_SECRET_{env_suffix(slug)}"),
        )
        shared = (
            self.settings.secret_key and self.settings.secret_key.get_secret_value(),
            self.settings.webhook_secret and self.settings.webhook_secret.get_secret_value(),
        )
        for secret_key, webhook_secret in (own, shared):
            if secret_key and webhook_secret:
                return StripeKeys(secret_key, webhook_secret)
        return None

    def client(self, keys: StripeKeys) -> stripe.StripeClient:
        with self._lock:
            client = self._clients.get(keys.secret_key)
            if client is None:
                client = stripe.StripeClient(
                    keys.secret_key,
                    max_network_retries=2,
                    base_addresses={"api": self.api_base} if self.api_base else {},
                )
                self._clients[keys.secret_key] = client
            return client

    def checkout_origins(self, campaign: LoadedCampaign) -> list[str]:
        # Stripe's hosted checkout; a Stripe-compatible server given as API base serves its own checkout pages.
        return [self.api_base.rstrip("/")] if self.api_base else ["https://checkout.stripe.com"]

    def is_allowed(self, campaign: LoadedCampaign) -> bool:
        return self.keys_for(campaign.slug) is not None

    def setup_hint(self, campaign: LoadedCampaign) -> str:
        return (
            f"set {ENV_PREFIX}SECRET_KEY and {ENV_PREFIX}WEBHOOK_SECRET "
            f"(or {ENV_PREFIX}SECRET_KEY_{env_suffix(campaign.slug)} and its webhook secret)"
        )

    def prepare(self, checkout: CheckoutRequest) -> Checkout:
        keys = self.keys_for(checkout.campaign.slug)
        if keys is None:
            raise PaymentProviderError("no Stripe keys for this campaign")
        metadata = {
            "signup_id": str(checkout.signup_id),
            "payment_id": str(checkout.payment_id),
            "campaign": checkout.campaign.slug,
        }
        # From the attempt's time, not now: a retry under the same idempotency key must ask exactly the same (Stripe
        # refuses the key with other parameters), and Stripe wants at least 30 minutes left when it creates the
        # session, which a retry within core.signup.payments.UNANSWERED_REUSED_FOR still has.
        expires_at = checkout.opened_at + max(self.checkout_lifetime, STRIPE_MINIMUM_OPEN + UNANSWERED_REUSED_FOR)
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": checkout.currency.lower(),
                        "unit_amount": checkout.amount_cents,
                        "product_data": {"name": checkout.description},
                    },
                }
            ],
            "locale": checkout.language if checkout.language in CHECKOUT_LOCALES else "auto",
            "success_url": checkout.success_url,
            "cancel_url": checkout.cancel_url,
            "client_reference_id": str(checkout.signup_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "expires_at": int(expires_at.timestamp()),
        }
        try:
            session = self.client(keys).v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": checkout.idempotency_key},
            )
        except stripe.StripeError as exc:
            log.warning(
                "Stripe refused or did not answer a checkout for payment %s: %s",
                checkout.payment_id,
                type(exc).__name__,
            )
            raise PaymentProviderError(type(exc).__name__) from exc
        return Checkout(
            ref=session.id, url=session.url or "", expires_at=dt.datetime.fromtimestamp(session.expires_at, dt.UTC)
        )

    def refund(self, campaign: LoadedCampaign, payment: Payment) -> str:
        keys = self.keys_for(campaign.slug)
        if keys is None:
            raise PaymentProviderError("no Stripe keys for this campaign")
        client = self.client(keys)
        try:
            session = client.v1.checkout.sessions.retrieve(payment.provider_ref or "")
            intent = session.payment_intent
            intent_id = intent if isinstance(intent, str) else getattr(intent, "id", None)
            if not intent_id:
                raise PaymentProviderError("the checkout session holds no payment to refund")
            try:
                refund = client.v1.refunds.create(
                    params={
                        "payment_intent": intent_id,
                        "amount": payment.amount_cents,
                        "reason": "requested_by_customer",
                        "metadata": {"payment_id": str(payment.id), "campaign": campaign.slug},
                    },
                    # Stripe keeps an idempotency key 24 hours; after that "already refunded" tells the same.
                    options={"idempotency_key": f"claimsite-refund-{payment.id}"},
                )
            except stripe.InvalidRequestError as exc:
                if exc.code != "charge_already_refunded":
                    raise
                earlier = client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 1})
                if not earlier.data:
                    raise
                return earlier.data[0].id
        except stripe.StripeError as exc:
            log.warning("Stripe refused or did not answer the refund of payment %s: %s", payment.id, type(exc).__name__)
            raise PaymentProviderError(type(exc).__name__) from exc
        return refund.id

    def handle_webhook(self, campaign: LoadedCampaign, request: Request) -> Response:
        keys = self.keys_for(campaign.slug)
        if keys is None:
            raise NotFound()
        payload = request.get_data()
        if signed_in_the_future(request.headers.get("Stripe-Signature"), time.time()):
            log.warning("a Stripe webhook for %s was signed with a time in the future", campaign.slug)
            return _answer(400, "bad signature")
        try:
            event = stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature"), keys.webhook_secret
            )
        except ValueError:
            return _answer(400, "not a Stripe event")
        except stripe.SignatureVerificationError:
            log.warning("a Stripe webhook for %s had a wrong or stale signature", campaign.slug)
            return _answer(400, "bad signature")
        if event.type not in HANDLED_EVENTS:
            return _answer(200, "not handled")
        session_id = getattr(event.data.object, "id", None)
        client = self.client(keys)

        def current_state() -> Reported | None:
            # The event is only a hint: what counts is the session as Stripe reports it now.
            return reported(client.v1.checkout.sessions.retrieve(session_id), event.type)

        db = db_session()
        try:
            result = apply_provider_event(db, campaign, self, event.id, event.type, session_id, current_state)
            db.commit()
        except stripe.StripeError as exc:
            db.rollback()
            log.warning("could not fetch Stripe session for event %s: %s", event.id, type(exc).__name__)
            return _answer(503, "Stripe did not answer; send it again")
        log.info("Stripe event %s (%s) for %s: %s", event.id, event.type, campaign.slug, result)
        return _answer(200, result)


def _answer(status: int, message: str) -> Response:
    response = jsonify({"status": message})
    response.status_code = status
    return response


@hookimpl(tryfirst=True)
def claimsite_payment_providers() -> list[PaymentProvider]:
    return [StripeCheckout(os.environ)]
