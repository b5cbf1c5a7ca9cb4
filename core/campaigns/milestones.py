"""Steps planned for a date (``milestones:``), so a page never promises what should have happened already.

A sentence such as "Het verzoek wordt op 22 november 2021 ingediend" is true when written and false a month later,
and nobody notices. Written as a milestone, the date is a date: the plan is shown, with its date, until that day
has passed (on the campaign's clock); from then on what happened is shown, once staff have written it (``done``),
and until then nothing, while ``flask campaigns check`` asks for it. Whether the step really happened on time is
something only staff know, so the site never words a plan in the past tense by itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from core.campaigns.errors import ConfigProblem
from core.campaigns.loader import LoadedCampaign
from core.campaigns.localized import LocalizedMarkdown
from core.campaigns.schema import Milestones


@dataclass(frozen=True)
class ShownMilestone:
    """A milestone as a visitor sees it today: its date, the text, and whether that text says what happened."""

    date: dt.date
    text: LocalizedMarkdown
    done: bool


def shown_milestones(milestones: Milestones, today: dt.date) -> list[ShownMilestone]:
    """The milestones to show on ``today``, in date order: each plan until its day has passed, then what happened
    if it is written; a passed plan with nothing written is left out."""
    shown = []
    for item in sorted(milestones.items, key=lambda m: m.date):
        if item.date >= today:
            shown.append(ShownMilestone(item.date, item.planned, False))
        elif item.done is not None:
            shown.append(ShownMilestone(item.date, item.done, True))
    return shown


def passed_plans(campaigns: Iterable[LoadedCampaign], today: dt.date) -> list[ConfigProblem]:
    """A warning for each milestone whose day has passed with no ``done`` text: the page no longer shows it."""
    found = []
    for loaded in campaigns:
        milestones = loaded.campaign.milestones
        for index, item in enumerate(milestones.items if milestones else []):
            if item.date < today and item.done is None:
                loc = ("milestones", "items", index)
                found.append(
                    ConfigProblem(
                        str(loaded.path),
                        loaded.line_of(loc),
                        f"milestones.items[{index}]",
                        f"planned for {item.date.isoformat()}, which has passed, so the page no longer shows it: "
                        "write what happened under done:, or remove it",
                    )
                )
    return found
