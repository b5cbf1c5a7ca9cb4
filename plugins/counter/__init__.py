"""The public sign-up counter: "566 people have joined since 10 April 2020" on every page of a campaign.

The count is the baseline from the campaign file (sign-ups gathered before this site) plus the live count of
confirmed participants (core.signup.counters: exact, cached for a few seconds). The scoreboard and the staff
console learn the baseline through ``claimsite_public_counter``. Below ``hide_below`` the number is not shown:
a campaign that is slow to start says "the more people join, the stronger we stand" rather than "3 people since
2020" (the participant's own page still tells a participant where they stand).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.campaigns import LoadedCampaign
from core.plugins import hookimpl
from core.signup.counters import PublicCounter
from core.site import site

NAME = "counter"


class CounterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: int = Field(default=0, ge=0, le=1_000_000_000, description="sign-ups from before this site")
    since: dt.date = Field(description="the date counting began")
    hide_below: int = Field(
        default=1,
        ge=1,
        le=1_000_000_000,
        description="show the count only from this number on (baseline included); below it the pages say no number",
    )


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return CounterSettings


@hookimpl
def claimsite_public_counter(campaign: LoadedCampaign) -> PublicCounter:
    settings: CounterSettings = campaign.settings_for(NAME)
    return PublicCounter(settings.baseline, settings.since, settings.hide_below)


@hookimpl
def claimsite_template_context(campaign: LoadedCampaign, language: str) -> dict[str, Any]:
    counter = claimsite_public_counter(campaign)
    live = site().counters.participants(campaign.slug)
    return {"counter": {"count": counter.shown(live), "since": counter.since, "visible": counter.visible(live)}}
