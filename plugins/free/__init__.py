"""Fee model ``free``: taking part costs nothing (e.g. the collective data request), and the mandate says so::

plugins:
  free:
"""

from __future__ import annotations

from pydantic import BaseModel

from core.campaigns import LoadedCampaign
from core.campaigns.schema import FeeModelSettings
from core.money.fees import FeeModel, FeeTerms
from core.plugins import hookimpl

NAME = "free"


class FreeSettings(FeeModelSettings):
    """No settings."""


class Free(FeeModel):
    name = NAME

    def terms(self, option: str | None) -> FeeTerms:
        if option is not None:
            raise ValueError("this campaign offers no fee options")
        return FeeTerms(model=NAME)


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return FreeSettings


@hookimpl
def claimsite_fee_model(campaign: LoadedCampaign) -> FeeModel:
    return Free()
