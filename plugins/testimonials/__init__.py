"""Participants' own words: short quotes with who said them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.campaigns import LoadedCampaign, Localized
from core.campaigns.sections import Section
from core.plugins import hookimpl

NAME = "testimonials"
ORDER = 55


class Quote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quote: Localized
    by: Localized


class TestimonialSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Localized
    items: list[Quote] = Field(min_length=1)


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return TestimonialSettings


@hookimpl
def claimsite_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def claimsite_page_sections(campaign: LoadedCampaign, language: str) -> list[Section]:
    settings: TestimonialSettings = campaign.settings_for(NAME)
    return [Section("experiences", ORDER, "sections/testimonials.html", settings, settings.title)]
