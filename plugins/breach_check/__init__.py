"""The data-breach check: a campaign names the leaks its visitors can check their phone number against::

    plugins:
      breach_check:
        datasets:
          - id: facebook-2021                      # flask breach import facebook-2021 dump.csv
            name: {nl: Facebook-datalek, en: Facebook data leak}
            breach_date: 2021-04-03
            records: 533000000                     # as announced: shown on the check page
            description: {nl: ..., en: ...}
            categories: [phone, account_id, name]  # keys of core.breach.categories
            default_region: NL                     # how a number without country code is read

The plugin declares these settings and puts a section on the landing page that leads to the check; the model, the
index and its import, and the check page itself are core's (:mod:`core.breach`, :mod:`core.web.views.breach_check`),
so core finds a campaign's datasets (:func:`core.breach.datasets.datasets_of`) without importing this plugin.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel

from core.breach.datasets import BreachDatasets
from core.campaigns import LoadedCampaign
from core.campaigns.sections import ORDER_HERO, ORDER_REASONS, Section
from core.plugins import hookimpl

NAME = "breach_check"
ORDER = (ORDER_HERO + ORDER_REASONS) // 2  # right below the top section: what a visitor of a leak's site came for


class BreachCheckSettings(BreachDatasets):
    """``plugins: breach_check:`` in a campaign file: the datasets it checks against."""


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return BreachCheckSettings


@hookimpl
def claimsite_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def claimsite_page_sections(campaign: LoadedCampaign, language: str) -> list[Section]:
    settings: BreachCheckSettings = campaign.settings_for(NAME)
    context = {"datasets": settings.datasets}
    return [Section("breach-check", ORDER, "sections/breach_check.html", context, _l("Data breach check"))]
