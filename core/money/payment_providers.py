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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel
from werkzeug.exceptions import NotFound

from core.campaigns import ConfigProblem
from core.campaigns.schema import FeeModelSettings
from core.data.models import Payment, PaymentState
from core.money.fees import fee_model_for
from core.site import site

if TYPE_CHECKING:
    from flask import Request
    from werkzeug.wrappers import Response

    from core.campaigns import LoadedCampaign
    from core.plugins import PluginHost


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
        """May this provider take payments for ``campaign`` (keys configured, environment allowed)? Decide from what
        the provider was made with: ``flask campaigns check`` asks this without an app (no :func:`site`)."""

    @abstractmethod
    def prepare(self, checkout: CheckoutRequest) -> Checkout:
        """Open a checkout for ``checkout`` and return where to send the visitor. Moves no money and changes no
        payment state. Raises :class:`PaymentProviderError` when the provider cannot be reached."""

    def refund(self, campaign: LoadedCampaign, payment: Payment) -> str:
        """Give ``payment`` (paid through this provider) back in full, to the card or account it came from, and
        return the provider's reference of the refund. Called by the worker (:mod:`core.signup.refunds`), so it
        must be safe to call again for the same payment: the money goes back once. Raises
        :class:`PaymentProviderError` when the provider cannot be reached or refuses (the job is retried). The
        default refuses: a provider that takes payments for a campaign whose terms promise a refund implements it.
        """
        raise PaymentProviderError(f"{self.verbose_name} cannot refund payments")

    def setup_hint(self, campaign: LoadedCampaign) -> str | None:
        """What the operator sets so that this provider may take ``campaign``'s payments (its keys' environment
        variables, say), for the message shown when no installed provider may. The default: None (nothing to set).
        Asked without an app too, as :meth:`is_allowed` is.
        """
        return None

    def handle_webhook(self, campaign: LoadedCampaign, request: Request) -> Response:
        """Answer a notification from the provider at ``/payments/<identifier>/webhook`` on the campaign's address:
        verify it, then apply it with :func:`core.signup.payments.apply_provider_event`. The default: 404 (no
        webhooks)."""
        raise NotFound()


def installed_providers(plugins: PluginHost, production: bool) -> list[PaymentProvider]:
    """The installed payment providers, in the order they are asked. Production leaves out the test-mode ones:
    they move no real money, so they never stand in for a real provider there (nor, in ``flask campaigns check
    --production``, hide that one is missing)."""
    found = [provider for answer in plugins.pm.hook.claimsite_payment_providers() for provider in answer]
    return [provider for provider in found if not (production and provider.test_mode)]


def first_allowed(providers: Sequence[PaymentProvider], campaign: LoadedCampaign) -> PaymentProvider | None:
    """The first of ``providers`` that allows ``campaign``."""
    return next((p for p in providers if p.is_allowed(campaign)), None)


def provider_for(campaign: LoadedCampaign) -> PaymentProvider | None:
    """The provider that takes ``campaign``'s payments: the first installed one that allows it."""
    return first_allowed(site().payment_providers, campaign)


def provider_named(identifier: str) -> PaymentProvider | None:
    return next((p for p in site().payment_providers if p.identifier == identifier), None)


def unpaid_campaigns(
    campaigns: Iterable[LoadedCampaign], plugins: PluginHost, providers: Sequence[PaymentProvider]
) -> list[ConfigProblem]:
    """One problem per campaign whose fee model asks a payment that none of ``providers`` may take.

    The one rule both places apply: a production start refuses these campaigns (``create_app``), and ``flask
    campaigns check`` reports them (errors with ``--production``). It needs no app: the check runs without one.
    """
    problems = []
    for loaded in campaigns:
        model = fee_model_for(loaded, plugins)
        if (
            model is not None
            and loaded.campaign.signup is not None
            and model.asks_payment()
            and first_allowed(providers, loaded) is None
        ):
            hints = setup_hints(providers, loaded)
            plugin = next(n for n, s in loaded.plugin_settings.items() if isinstance(s, FeeModelSettings))
            problems.append(
                ConfigProblem(
                    str(loaded.path),
                    loaded.line_of(("plugins", plugin)),
                    f"plugins.{plugin}",
                    f"the fee model '{model.name}' asks a payment, but no payment provider may take it"
                    + (f": {'; or '.join(hints)}" if hints else " (install one)"),
                )
            )
    return problems


def setup_hints(providers: Sequence[PaymentProvider], campaign: LoadedCampaign) -> list[str]:
    """What the operator could set so that one of ``providers`` takes ``campaign``'s payments."""
    return [hint for provider in providers if (hint := provider.setup_hint(campaign))]
