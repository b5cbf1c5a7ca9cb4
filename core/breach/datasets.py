"""The leaks a campaign checks numbers against, as its file declares them (``plugins: breach_check: datasets:``).

The settings model lives here, in core, and the ``breach_check`` plugin offers it as its settings (the way fee
models subclass :class:`core.campaigns.schema.FeeModelSettings`): so core finds a campaign's datasets in its
validated plugin settings (:func:`datasets_of`) without importing the plugin, and a campaign file with a mistake in
them is refused with file, line and field like any other::

    plugins:
      breach_check:
        datasets:
          - id: facebook-2021
            name: {nl: Facebook-datalek 2021, en: Facebook leak 2021}
            breach_date: 2021-04-03
            records: 533000000
            description: {nl: ..., en: ...}
            categories: [phone, account_id, name, gender, location]
            default_region: NL
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.breach.categories import KEYS, unknown_keys
from core.campaigns.localized import Localized
from core.phones.limits import SmsLimits
from core.site import site

if TYPE_CHECKING:
    from core.campaigns import LoadedCampaign

DatasetId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")]


class Dataset(BaseModel):
    """One leak: what the check page says about it and what its index holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: DatasetId = Field(
        description="the dataset's name in flask breach import and its index file, e.g. facebook-2021"
    )
    name: Localized = Field(description="the leak's name as visitors read it")
    breach_date: dt.date = Field(description="when the leak happened (or was published)")
    records: int = Field(ge=1, description="how many records the leak held, as announced")
    description: Localized = Field(description="a few sentences on the leak, for the check page")
    categories: list[str] = Field(
        min_length=1, description="the kinds of data the leak holds, by key of core.breach.categories"
    )
    default_region: str = Field(
        description="the country (ISO 3166, e.g. NL) whose national format a number without country code is read in"
    )

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = unknown_keys(value)
        if unknown:
            raise ValueError(f"unknown categories {', '.join(unknown)}; the known ones are: {', '.join(KEYS)}")
        if len(set(value)) != len(value):
            raise ValueError("a category is named twice")
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"'{value}' is not a country code phonenumbers knows; use ISO 3166 in capitals, e.g. NL")
        return value


class BreachDatasets(BaseModel):
    """The settings of a breach-check plugin: the datasets a campaign checks against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # a list, not a tuple: pydantic adds "too short" to a tuple whose only item is wrong, a second error for one
    datasets: list[Dataset] = Field(min_length=1, description="the leaks this campaign checks numbers against")
    sms: SmsLimits = Field(
        default_factory=SmsLimits,
        description="how many codes by SMS the check sends to prove a number (core.phones.limits.SmsLimits)",
    )

    @field_validator("datasets")
    @classmethod
    def _distinct_ids(cls, value: list[Dataset]) -> list[Dataset]:
        ids = [dataset.id for dataset in value]
        twice = sorted({id_ for id_ in ids if ids.count(id_) > 1})
        if twice:
            raise ValueError(f"dataset id {', '.join(twice)} is used twice; give each dataset its own id")
        return value


def breach_settings_of(campaign: LoadedCampaign) -> BreachDatasets | None:
    """The breach-check settings ``campaign`` enables (None when it has no breach check)."""
    return next(
        (settings for settings in campaign.plugin_settings.values() if isinstance(settings, BreachDatasets)), None
    )


def datasets_of(campaign: LoadedCampaign) -> list[Dataset]:
    """The datasets ``campaign`` declares (none when it enables no breach-check plugin)."""
    return [
        dataset
        for settings in campaign.plugin_settings.values()
        if isinstance(settings, BreachDatasets)
        for dataset in settings.datasets
    ]


def all_datasets(campaigns: Iterable[LoadedCampaign] | None = None) -> dict[str, Dataset]:
    """Every dataset some campaign declares, by id: of ``campaigns``, or by default of the campaigns the app serves
    (then it needs an app context). A dataset two campaigns declare has one index; the first campaign by slug
    describes it."""
    if campaigns is None:
        campaigns = site().registry.snapshot.campaigns.values()
    found: dict[str, Dataset] = {}
    for campaign in sorted(campaigns, key=lambda loaded: loaded.slug):
        for dataset in datasets_of(campaign):
            found.setdefault(dataset.id, dataset)
    return found
