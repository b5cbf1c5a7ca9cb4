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

The plugin only declares these settings; the model, the index and its import are core's (:mod:`core.breach`), so
core finds a campaign's datasets (:func:`core.breach.datasets.datasets_of`) without importing this plugin.
"""

from __future__ import annotations

from pydantic import BaseModel

from core.breach.datasets import BreachDatasets
from core.plugins import hookimpl

NAME = "breach_check"


class BreachCheckSettings(BreachDatasets):
    """``plugins: breach_check:`` in a campaign file: the datasets it checks against."""


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return BreachCheckSettings
