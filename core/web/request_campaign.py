"""Which campaign a request is for: the one the tenancy middleware found by its host (or the staff console's
preview of one), put in ``g.campaign`` before every view; and every answer varies by host, since one URL path
serves a different campaign on each host."""

from __future__ import annotations

import dataclasses

from flask import Flask, Response, g, request
from werkzeug.exceptions import NotFound

from core.campaigns import CampaignRegistry
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
        preview_status = request.environ.get(ENVIRON_PREVIEW_STATUS)
        if preview_status:  # the staff console's preview: the campaign as if it had this status
            g.campaign = dataclasses.replace(
                g.campaign, campaign=g.campaign.campaign.model_copy(update={"status": preview_status})
            )

    app.after_request(_vary_on_host)


def _vary_on_host(response: Response) -> Response:
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers["Vary"] = "Host"
    elif "Host" not in vary:
        response.vary.add("Host")
    return response
