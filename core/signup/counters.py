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

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.data.db import db_session
from core.data.models import Signup, is_participant, participant

if TYPE_CHECKING:
    from core.campaigns import LoadedCampaign
    from core.plugins import PluginHost

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicCounter:
    """Where a campaign's public count starts; what it shows is :meth:`shown` of the live participant count.

    ``hide_below`` lets staff keep a small number off the pages: a count below it is not shown at all (the pages
    say something true without a number instead), since "3 people joined since 2020" discourages more than it
    tells. At the least a count of 0 is never shown as a number."""

    baseline: int  # sign-ups gathered before this site
    since: dt.date | None  # when counting began
    hide_below: int = 1

    def shown(self, live: int) -> int:
        return self.baseline + live

    def visible(self, live: int) -> bool:
        """Whether the pages may state the count (:meth:`shown`) for this live participant count."""
        return self.shown(live) >= max(self.hide_below, 1)


@dataclass(frozen=True)
class OwnPlace:
    """Where one participant stands in their campaign's count, for their own page: ``before`` is everyone counted
    who became a participant before them (the baseline, gathered before this site, included), never themselves."""

    before: int
    visible: bool  # the public count may be stated (PublicCounter.visible): below it the page states no number


def _joined_at() -> ColumnElement[dt.datetime | None]:
    """When a sign-up became a participant: paid, where the fee model asks a payment first, else signed."""
    return case((Signup.payment_required.is_(True), Signup.paid_at), else_=Signup.signed_at)


def own_place(counter: PublicCounter, signup: Signup) -> OwnPlace | None:
    """``signup``'s place in its campaign's count (None unless it is a participant now). Counted exactly, not from
    the cache: it is one person's page, and "N joined before you" must not count her."""
    if not is_participant(signup):
        return None
    joined = signup.paid_at if signup.payment_required else signup.signed_at
    # One pass over the campaign's participants: all of them, and those who joined before her.
    before = and_(Signup.id != signup.id, _joined_at() < joined)
    total, earlier = (
        db_session()
        .execute(
            select(func.count(), func.coalesce(func.sum(case((before, 1), else_=0)), 0))
            .select_from(Signup)
            .where(Signup.campaign == signup.campaign, participant())
        )
        .one()
    )
    return OwnPlace(counter.baseline + earlier, counter.visible(total))


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
