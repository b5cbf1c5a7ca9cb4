"""News and press: articles about the case, with their source, date and a link to the original."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from core.campaigns import LoadedCampaign, Localized, LocalizedMarkdown
from core.campaigns.schema import Url
from core.campaigns.sections import Section
from core.plugins import hookimpl

NAME = "news"
ORDER = 50


class NewsItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    date: dt.date
    title: Localized
    text: LocalizedMarkdown
    author: str | None = None
    link: Url | None = None


class NewsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # updates and news are history: their dates are facts, never promises (core.campaigns.stale_dates)
    historical_texts: ClassVar[bool] = True

    title: Localized
    items: list[NewsItem] = Field(min_length=1)


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return NewsSettings


@hookimpl
def claimsite_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def claimsite_page_sections(campaign: LoadedCampaign, language: str) -> list[Section]:
    settings: NewsSettings = campaign.settings_for(NAME)
    items = sorted(settings.items, key=lambda item: item.date, reverse=True)
    return [Section("news", ORDER, "sections/news.html", {"title": settings.title, "items": items}, settings.title)]
