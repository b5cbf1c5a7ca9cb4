"""Updates: what the foundation did and what happened since, newest first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.campaigns import LoadedCampaign, Localized, LocalizedMarkdown
from core.campaigns.schema import Link
from core.campaigns.sections import Section
from core.plugins import hookimpl

NAME = "timeline"
ORDER = 60


class Update(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date | None = None
    title: Localized
    text: LocalizedMarkdown
    link: Link | None = None


class TimelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # updates and news are history: their dates are facts, never promises (core.campaigns.stale_dates)
    historical_texts: ClassVar[bool] = True

    title: Localized
    order: Literal["newest-first", "as-written"] = Field(
        default="newest-first", description="newest-first puts undated updates last; as-written keeps the file's order"
    )
    items: list[Update] = Field(min_length=1)


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return TimelineSettings


@hookimpl
def claimsite_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def claimsite_page_sections(campaign: LoadedCampaign, language: str) -> list[Section]:
    settings: TimelineSettings = campaign.settings_for(NAME)
    if settings.order == "as-written":
        return [Section("updates", ORDER, "sections/timeline.html", settings, settings.title)]
    # Dated updates newest first; undated ones keep their written order after them.
    dated = sorted((u for u in settings.items if u.date), key=lambda u: u.date, reverse=True)  # type: ignore[arg-type, return-value]
    undated = [u for u in settings.items if not u.date]
    context = {"title": settings.title, "items": dated + undated}
    return [Section("updates", ORDER, "sections/timeline.html", context, settings.title)]
