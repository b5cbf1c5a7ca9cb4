"""Live participant counts per campaign: exact (counted from the rows), cheap to read (cached a few seconds).

The count is of confirmed participants (signed; and paid, where the fee model asks a payment first). Counting
the rows instead of keeping a running total means concurrent sign-ups can never be lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from core.data.db import db_session
from core.data.models import Signup, participant

if TYPE_CHECKING:
    from core.campaigns import LoadedCampaign
    from core.plugins import PluginHost

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicCounter:
    """Where a campaign's public count starts; what it shows is :meth:`shown` of the live participant count."""

    baseline: int  # sign-ups gathered before this site
    since: dt.date | None  # when counting began

    def shown(self, live: int) -> int:
        return self.baseline + live


def public_counter_for(plugins: PluginHost, loaded: LoadedCampaign) -> PublicCounter | None:
    """The public counter a plugin the campaign enables answers for it (``claimsite_public_counter``), or None."""
    return plugins.call("claimsite_public_counter", loaded.enabled_plugins, campaign=loaded)  # firstresult


class Counters:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._known: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def participants(self, campaign: str) -> int:
        """Confirmed participants of ``campaign``, at most ``ttl`` seconds old. If the database cannot be read,
        the last known count is shown (and the error logged) rather than taking the page down."""
        now = time.monotonic()
        known = self._known.get(campaign)
        if known is not None and known[0] > now:
            return known[1]
        try:
            count = (
                db_session().scalar(
                    select(func.count()).select_from(Signup).where(Signup.campaign == campaign, participant())
                )
                or 0
            )
        except SQLAlchemyError:
            log.exception("could not count the participants of %s", campaign)
            db_session().rollback()
            return known[1] if known else 0
        with self._lock:
            self._known[campaign] = (now + self.ttl, count)
        return count

    def forget(self, campaign: str) -> None:
        """Drop the cached count (after a sign-up in this process, so the participant sees it go up)."""
        self._known.pop(campaign, None)
