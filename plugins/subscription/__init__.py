"""Fee model ``subscription``: a one-time payment (EUR 17.50 for the TikTok lawsuit) through the site's payment
provider (Stripe Checkout) before the participation counts. Optionally also a "no cure, no pay" success fee with
the same choice as ``no_cure_no_pay`` (the TikTok claim has both: a fixed registration fee, then no cure, no
pay)::

    plugins:
      subscription:
        amount: 17.50
        description: {nl: Deelname TikTok-rechtszaak, en: Taking part in the TikTok lawsuit}
        success_fee: {flat: 50, share: 20}     # optional
        refund_within_days: 14                 # optional: a withdrawal within this many days is refunded in full
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.campaigns import LoadedCampaign
from core.campaigns.localized import Localized
from core.campaigns.schema import FeeModelSettings
from core.money.fees import (
    FeeModel,
    FeeOption,
    FeeTerms,
    PaymentDue,
    PositiveEuros,
    SuccessFee,
    cents,
)
from core.money.success_fees import success_fee_options, success_fee_terms
from core.plugins import hookimpl

NAME = "subscription"


class SubscriptionSettings(FeeModelSettings):
    amount: PositiveEuros = Field(description="the one-time payment in euros, e.g. 17.50")
    description: Localized = Field(description="what is paid for, shown on the checkout page and the receipt")
    success_fee: SuccessFee | None = Field(default=None, description="also a no cure, no pay choice")
    refund_within_days: int = Field(
        default=14,
        ge=14,
        le=365,
        description="a withdrawal within this many days of paying gets the payment back in full (at least the 14 "
        "days of the Dutch cooling-off period)",
    )


class Subscription(FeeModel):
    name = NAME

    def __init__(self, settings: SubscriptionSettings, default_language: str) -> None:
        self.settings = settings
        self.default_language = default_language

    def options(self, language: str) -> list[FeeOption]:
        fee = self.settings.success_fee
        return success_fee_options(fee, language) if fee else []

    def terms(self, option: str | None) -> FeeTerms:
        fee = self.settings.success_fee
        if fee is None and option is not None:
            raise ValueError("this campaign offers no fee options")
        return FeeTerms(
            model=NAME,
            one_time_cents=cents(self.settings.amount),
            refund_within_days=self.settings.refund_within_days,
            success_fee=success_fee_terms(fee, option) if fee else None,
        )

    def payment_due(self, terms: FeeTerms, language: str) -> PaymentDue | None:
        if not terms.one_time_cents:
            return None
        return PaymentDue(
            terms.one_time_cents, self.settings.description.get_text(language, self.default_language), terms.currency
        )


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return SubscriptionSettings


@hookimpl
def claimsite_fee_model(campaign: LoadedCampaign) -> FeeModel:
    return Subscription(campaign.settings_for(NAME), campaign.campaign.default_language)
