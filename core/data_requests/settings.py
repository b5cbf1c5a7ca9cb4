"""What a data-request campaign offers, as its file declares it (``plugins: data_request:``).

The settings model lives here, in core, and the ``data_request`` plugin offers it as its settings (as the breach
check does with :class:`core.breach.datasets.BreachDatasets`): core finds a campaign's data-request settings in its
validated plugin settings (:func:`data_request_of`) without importing the plugin, and a mistake in them is refused
with file, line and field like any other::

    plugins:
      data_request:
        companies: [tiktok, palantir, zoom]   # slugs of campaigns/_shared/companies/<slug>.yaml, in this order
        all_of_them: true                     # offer "all of them" as one choice
        other_company: true                   # a participant may name another company, for staff to review
        identity_proof: true                  # ask a copy of an ID document (blacked out) before the requests go
        proof_kept_days: 90                   # the ID copy is erased this many days after it arrived, at the latest
        rounds:                               # the dates the requests are filed, in order
          - {id: round-1, submit_on: 2021-07-28}
          - {id: round-2, submit_on: 2021-08-11}

That every company named is in the catalogue is checked when the campaign is loaded, on the line that names it
(:meth:`DataRequestSettings.company_references`, :class:`core.campaigns.companies.NamesCompanies`); the loaded
campaign carries those companies (:attr:`core.campaigns.LoadedCampaign.companies`), and an edit of their files
reloads it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

if TYPE_CHECKING:
    from core.campaigns import LoadedCampaign

CompanySlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
RoundId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class Round(BaseModel):
    """One date on which the foundation files the requests of everyone who joined (and proved who they are) by
    then."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RoundId = Field(description="the round's name in flask requests prepare and in the console, e.g. round-1")
    submit_on: dt.date = Field(description="the day the requests of this round are filed")


class DataRequestSettings(BaseModel):
    """The settings of a data-request plugin: the companies a participant may choose, and the rounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    companies: list[CompanySlug] = Field(
        min_length=1, description="the companies offered, by slug in the company catalogue, in the order shown"
    )
    all_of_them: bool = Field(default=True, description="offer one choice that takes every company offered")
    other_company: bool = Field(
        default=False, description="a participant may name another company (staff review it before a round)"
    )
    identity_proof: bool = Field(default=True, description="ask a copy of an ID document before the requests go")
    proof_kept_days: int = Field(
        default=90, ge=1, le=730, description="days after its arrival at which an ID copy is erased at the latest"
    )
    rounds: list[Round] = Field(default_factory=list, description="the days the requests are filed, in order")

    def company_references(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Each company named, where (:class:`core.campaigns.companies.NamesCompanies`: the loader checks the
        catalogue has it)."""
        return [(("companies", index), slug) for index, slug in enumerate(self.companies)]

    @field_validator("companies")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        twice = sorted({slug for slug in value if value.count(slug) > 1})
        if twice:
            raise ValueError(f"company {', '.join(twice)} is named twice")
        return value

    @field_validator("rounds")
    @classmethod
    def _rounds_in_order(cls, value: list[Round]) -> list[Round]:
        ids = [round_.id for round_ in value]
        twice = sorted({id_ for id_ in ids if ids.count(id_) > 1})
        if twice:
            raise ValueError(f"round id {', '.join(twice)} is used twice; give each round its own id")
        dates = [round_.submit_on for round_ in value]
        if dates != sorted(dates):
            raise ValueError("the rounds are not in the order of their dates; list them earliest first")
        return value


def data_request_of(campaign: LoadedCampaign) -> DataRequestSettings | None:
    """The data-request settings ``campaign`` enables (None when it is no data-request campaign)."""
    return next(
        (settings for settings in campaign.plugin_settings.values() if isinstance(settings, DataRequestSettings)),
        None,
    )
