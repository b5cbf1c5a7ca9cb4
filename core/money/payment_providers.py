"""Payment providers: the interface a provider plugin implements, and which provider serves a campaign.

Modelled on pretix's payment providers: a provider says whether it may serve a campaign (``is_allowed``), prepares
a checkout without moving money (``prepare``), and learns that money moved only from the provider itself
(``handle_webhook``), never from the visitor's browser coming back. Each provider reads and checks its own settings;
when a campaign's payments have no provider, it says what to set (``setup_hint``). Built in: ``stripe_checkout``
(Stripe Checkout, when keys are in the environment) and ``test_payments`` (a clearly labelled test page, outside
production only).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from core.data.models import PaymentState
from core.money.fees import fee_model_for
from core.site import site

if TYPE_CHECKING:
    from flask import Request
    from werkzeug.wrappers import Response

    from core.campaigns import LoadedCampaign


class PaymentProviderError(Exception):
    """The provider could not be reached or refused the request; the visitor may try again later."""


@dataclass(frozen=True)
class CheckoutRequest:
    """What a provider needs to open a checkout for one payment attempt."""

    campaign: LoadedCampaign
    payment_id: int
    signup_id: int
    amount_cents: int
    currency: str
    description: str
    language: str
    success_url: str
    cancel_url: str
    idempotency_key: str  # the same attempt asked twice must open the same checkout
    opened_at: dt.datetime  # when the attempt was saved: what is asked of the provider derives from it, not from now


@dataclass(frozen=True)
class Checkout:
    """An opened checkout: the provider's reference, where to send the visitor, and when it stops working."""

    ref: str
    url: str
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Reported:
    """A checkout as the provider reports it now: the state it means for our payment, and (where the provider says)
    the amount and currency actually paid, which must be what was asked for the payment to count."""

    state: PaymentState
    amount_cents: int | None = None
    currency: str | None = None


class PaymentProvider(ABC):
    """One way to pay. Instances are made once when the app starts (reading their keys from the environment)."""

    #: short name, stored with each payment and used in the webhook address ``/payments/<identifier>/webhook``
    identifier: ClassVar[str]
    #: what staff see (``flask payments list``)
    verbose_name: ClassVar[str]
    #: True for a provider that moves no real money; its pages say so
    test_mode: ClassVar[bool] = False
    #: the pydantic model of the provider's settings (read from the environment when it is made), if it has any
    settings_model: ClassVar[type[BaseModel] | None] = None

    def checkout_origins(self, campaign: LoadedCampaign) -> list[str]:
        """Origins (``https://host``) the visitor is sent to for paying, which the payment page's Content Security
        Policy must allow as a form target. The default: none (a checkout on the campaign's own address)."""
        return []

    @abstractmethod
    def is_allowed(self, campaign: LoadedCampaign) -> bool:
        """May this provider take payments for ``campaign`` (keys configured, environment allowed)?"""

    @abstractmethod
    def prepare(self, checkout: CheckoutRequest) -> Checkout:
        """Open a checkout for ``checkout`` and return where to send the visitor. Moves no money and changes no
        payment state. Raises :class:`PaymentProviderError` when the provider cannot be reached."""

    def setup_hint(self, campaign: LoadedCampaign) -> str | None:
        """What the operator sets so that this provider may take ``campaign``'s payments (its keys' environment
        variables, say), for the message shown when no installed provider may. The default: None (nothing to set).
        """
        return None

    def handle_webhook(self, campaign: LoadedCampaign, request: Request) -> Response:
        """Answer a notification from the provider at ``/payments/<identifier>/webhook`` on the campaign's address:
        verify it, then apply it with :func:`core.signup.payments.apply_provider_event`. The default: 404 (no
        webhooks)."""
        raise NotFound()


def provider_for(campaign: LoadedCampaign) -> PaymentProvider | None:
    """The provider that takes ``campaign``'s payments: the first installed one that allows it."""
    return next((p for p in site().payment_providers if p.is_allowed(campaign)), None)


def provider_named(identifier: str) -> PaymentProvider | None:
    return next((p for p in site().payment_providers if p.identifier == identifier), None)


def unpaid_campaigns(campaigns: Iterable[LoadedCampaign]) -> list[str]:
    """Problems, one per campaign whose fee model asks a payment that no installed provider may take (needs an
    app context). Production leaves such a campaign out; ``flask campaigns check`` reports it."""
    return [f"{loaded.path}: {problem}" for loaded in campaigns if (problem := unpaid_problem(loaded))]


def unpaid_problem(loaded: LoadedCampaign) -> str | None:
    """Why ``loaded`` cannot take the payment its fee model asks, or None (needs an app context)."""
    model = fee_model_for(loaded)
    if model is None or loaded.campaign.signup is None or not model.asks_payment() or provider_for(loaded) is not None:
        return None
    hints = setup_hints(loaded)
    return f"the fee model '{model.name}' asks a payment, but no payment provider may take it" + (
        f": {'; or '.join(hints)}" if hints else " (install one)"
    )


def setup_hints(campaign: LoadedCampaign) -> list[str]:
    """What the operator could set so that one of the installed providers takes ``campaign``'s payments."""
    return [hint for provider in site().payment_providers if (hint := provider.setup_hint(campaign))]
