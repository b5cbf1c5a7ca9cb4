"""Fee model ``no_cure_no_pay``: nothing to pay now; whoever joins chooses, when signing, between a flat fee
(EUR 50) and a share of what is won (20%), paid only if the claim succeeds. Both amounts are settings::

    plugins:
      no_cure_no_pay: {flat: 50, share: 20}
"""

from __future__ import annotations

from flask_babel import gettext as _
from pydantic import BaseModel

from core.campaigns import LoadedCampaign
from core.i18n import money
from core.money.fees import FeeModel, FeeModelSettings, FeeOption, FeeTerms, SuccessFee, SuccessFeeTerms, cents, percent
from core.plugins import hookimpl

NAME = "no_cure_no_pay"


class NoCureNoPaySettings(FeeModelSettings, SuccessFee):
    """The two options offered: ``flat`` (euros) and ``share`` (percent of the award)."""


def success_fee_options(fee: SuccessFee, language: str) -> list[FeeOption]:
    """The two choices, worded for the signing page (shared with the ``subscription`` model)."""
    return [
        FeeOption(
            "flat",
            _("%(amount)s if we win", amount=money(fee.flat, language)),
            _("A fixed fee out of your compensation, only if the claim succeeds."),
        ),
        FeeOption(
            "share",
            _("%(share)s of the compensation if we win", share=percent(fee.share, language)),
            _("A share of what you receive, only if the claim succeeds."),
        ),
    ]


def success_fee_terms(fee: SuccessFee, option: str | None) -> SuccessFeeTerms:
    if option not in ("flat", "share"):
        raise ValueError(f"unknown fee option {option!r}: choose 'flat' or 'share'")
    return SuccessFeeTerms(option=option, flat_cents=cents(fee.flat), share_percent=fee.share)


class NoCureNoPay(FeeModel):
    name = NAME

    def __init__(self, settings: NoCureNoPaySettings) -> None:
        self.settings = settings

    def options(self, language: str) -> list[FeeOption]:
        return success_fee_options(self.settings, language)

    def terms(self, option: str | None) -> FeeTerms:
        return FeeTerms(model=NAME, success_fee=success_fee_terms(self.settings, option))


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return NoCureNoPaySettings


@hookimpl
def claimsite_fee_model(campaign: LoadedCampaign) -> FeeModel:
    return NoCureNoPay(campaign.settings_for(NAME))
