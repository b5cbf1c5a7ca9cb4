"""Fee model ``no_cure_no_pay``: nothing to pay now; whoever joins chooses, when signing, between a flat fee
(EUR 50) and a share of what is won (20%), paid only if the claim succeeds. Both amounts are settings::

    plugins:
      no_cure_no_pay: {flat: 50, share: 20}
"""

from __future__ import annotations

from pydantic import BaseModel

from core.campaigns import LoadedCampaign
from core.campaigns.schema import FeeModelSettings
from core.money.fees import FeeModel, FeeOption, FeeTerms, SuccessFee
from core.money.success_fees import success_fee_options, success_fee_terms
from core.plugins import hookimpl

NAME = "no_cure_no_pay"


class NoCureNoPaySettings(FeeModelSettings, SuccessFee):
    """The two options offered: ``flat`` (euros) and ``share`` (percent of the award)."""


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
