"""Frequently asked questions: a section of questions that open one by one, each with its own anchor."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.campaigns import LoadedCampaign, Localized, LocalizedMarkdown
from core.campaigns.sections import Section
from core.plugins import hookimpl

NAME = "faq"
ORDER = 80


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: Localized
    answer: LocalizedMarkdown
    anchor: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")] | None = Field(
        default=None, description="the #anchor of this question; default: made from the default-language question"
    )


class FaqSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Localized
    intro: LocalizedMarkdown | None = None
    items: list[Question] = Field(min_length=1)


def anchor_for(text: str) -> str:
    """A stable, readable #anchor from a question: 'Wie is oprichter/eigenaar?' -> 'wie-is-oprichter-eigenaar'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:60].rstrip("-") or "question"


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return FaqSettings


@hookimpl
def claimsite_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def claimsite_page_sections(campaign: LoadedCampaign, language: str) -> list[Section]:
    settings: FaqSettings = campaign.settings_for(NAME)
    default = campaign.campaign.default_language
    seen: set[str] = set()
    questions = []
    for item in settings.items:
        anchor = item.anchor or anchor_for(item.question.get_text(default, default))
        base, n = anchor, 2
        while anchor in seen:  # two questions with the same words still get distinct anchors
            anchor, n = f"{base}-{n}", n + 1
        seen.add(anchor)
        questions.append({"anchor": f"faq-{anchor}", "question": item.question, "answer": item.answer})
    context = {"title": settings.title, "intro": settings.intro, "questions": questions}
    return [Section("faq", ORDER, "sections/faq.html", context, settings.title)]
