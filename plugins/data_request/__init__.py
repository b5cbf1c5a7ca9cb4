"""A collective data request (Art. 15 GDPR): the participant chooses the companies the foundation asks for their
data, and may have to prove who they are with a copy of an ID document::

    plugins:
      data_request:
        companies: [tiktok, palantir, zoom]
        all_of_them: true
        other_company: true
        identity_proof: true
        rounds:
          - {id: round-1, submit_on: 2021-07-28}

The plugin declares these settings (:class:`core.data_requests.settings.DataRequestSettings`); the join flow's
step that chooses the companies, the identity proof, the rounds and their letters are core's
(:mod:`core.data_requests`), which finds a campaign's settings without importing this plugin.
"""

from __future__ import annotations

from pydantic import BaseModel

from core.data_requests.settings import DataRequestSettings
from core.plugins import hookimpl


class DataRequestPluginSettings(DataRequestSettings):
    """``plugins: data_request:`` in a campaign file."""


@hookimpl
def claimsite_settings_schema() -> type[BaseModel]:
    return DataRequestPluginSettings
