"""Landing-page sections: the core ones from the campaign file, merged with the ones plugins add."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.campaigns import LoadedCampaign
from core.campaigns.schedule import Status

# The order a visitor needs things in: what happened and what to do, why, the story, how, proof, the law,
# questions, and who is behind it. Plugins place their sections between these numbers.
ORDER_HERO = 10
ORDER_REASONS = 20
ORDER_ARTICLES = 30
ORDER_STEPS = 40
ORDER_MILESTONES = 45
ORDER_LEGAL = 70
ORDER_ABOUT = 90
ORDER_SISTERS = 95
# The call to action once more (or, closed, what to do instead): always the last thing before the footer.
ORDER_FINAL_CALL = 1000


@dataclass(frozen=True)
class Section:
    """One block of the landing page.

    ``key`` is the HTML id (for anchors and the in-page menu), ``template`` a template name looked up through the
    campaign -> theme -> default -> plugin chain, ``context`` what that template gets as ``section``, and
    ``menu_label`` (optional, a localized text or a plain string) puts the section in the page menu.
    """

    key: str
    order: int
    template: str
    context: Any = None
    menu_label: Any = None


def core_sections(loaded: LoadedCampaign, status: Status) -> list[Section]:
    """The sections every campaign has when its file fills them in, for the campaign as it is now (``status``):
    a list section marked ``hide_when_closed`` (how to sign up, why join) is left out once the campaign is closed,
    so a closed campaign never asks anyone to fill in a form it no longer takes."""
    c = loaded.campaign
    closed = status == "closed"
    sections = [Section("top", ORDER_HERO, "sections/hero.html", c.hero)]
    if c.reasons and not (closed and c.reasons.hide_when_closed):
        sections.append(Section("why", ORDER_REASONS, "sections/items.html", c.reasons, c.reasons.title))
    for index, article in enumerate(c.articles):
        sections.append(Section(f"article-{index + 1}", ORDER_ARTICLES + index, "sections/article.html", article))
    if c.steps and not (closed and c.steps.hide_when_closed):
        sections.append(Section("how", ORDER_STEPS, "sections/steps.html", c.steps, c.steps.title))
    if c.milestones:  # no menu entry: on some days it shows no step at all (core.campaigns.milestones)
        sections.append(Section("planned", ORDER_MILESTONES, "sections/milestones.html", c.milestones))
    if c.legal and not (closed and c.legal.hide_when_closed):
        sections.append(Section("law", ORDER_LEGAL, "sections/items.html", c.legal, c.legal.title))
    if c.about:
        sections.append(Section("about", ORDER_ABOUT, "sections/about.html", c.about, c.about.title))
    if c.sisters:
        sections.append(Section("more", ORDER_SISTERS, "sections/sisters.html", c.sisters))
    sections.append(Section("take-part", ORDER_FINAL_CALL, "sections/final_call.html"))
    return sections
