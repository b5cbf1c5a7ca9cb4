"""Which campaign a request is for: the one the tenancy middleware found by its host (or the staff console's
preview of one), put in ``g.campaign`` before every view, and what it is at the moment of the request (its status
read against the clock: :mod:`core.campaigns.schedule`); and every answer varies by host, since one URL path serves
a different campaign on each host."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import cast

from flask import Flask, Response, g, request
from werkzeug.exceptions import NotFound

from core.campaigns import CampaignRegistry
from core.campaigns.schedule import Schedule, Status
from core.data.db import utcnow
from core.i18n import use_address_form
from core.site import current_campaign
from core.web.tenancy import ENVIRON_CAMPAIGN, ENVIRON_PREVIEW_STATUS


def init_app(app: Flask, registry: CampaignRegistry) -> None:
    """Set ``g.campaign`` from ``registry`` before each request (404 for a host without a campaign) and add
    ``Host`` to the ``Vary`` header of each answer."""

    @app.before_request
    def _campaign_of_request() -> None:
        slug = request.environ.get(ENVIRON_CAMPAIGN)
        g.campaign = registry.snapshot.campaigns.get(slug) if slug else None
        if g.campaign is None:
            raise NotFound()
        use_address_form(g.campaign.campaign.address_form)
        preview_status = request.environ.get(ENVIRON_PREVIEW_STATUS)
        if preview_status:  # the staff console's preview: the campaign as if it had this status, whatever the clock
            g.campaign_status = preview_status
            if preview_status != "not-yet-open":  # a status no file writes: only the clock gives it
                g.campaign = dataclasses.replace(
                    g.campaign, campaign=g.campaign.campaign.model_copy(update={"status": preview_status})
                )

    app.after_request(_vary_on_host)


def request_time() -> dt.datetime:
    """The clock of this request: one reading, so every check of one request sees the campaign alike."""
    now = g.get("request_time")
    if now is None:
        now = g.request_time = utcnow()
    return cast(dt.datetime, now)


def campaign_schedule() -> Schedule:
    """The schedule of this request's campaign."""
    schedule = g.get("campaign_schedule")
    if schedule is None:
        schedule = g.campaign_schedule = Schedule.of(current_campaign().campaign)
    return cast(Schedule, schedule)


def campaign_status() -> Status:
    """What this request's campaign is now: its written status read against the clock (the staff console's preview
    sets it instead)."""
    status = g.get("campaign_status")
    if status is None:
        status = g.campaign_status = campaign_schedule().status_at(request_time())
    return cast(Status, status)


def _vary_on_host(response: Response) -> Response:
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers["Vary"] = "Host"
    elif "Host" not in vary:
        response.vary.add("Host")
    return response
