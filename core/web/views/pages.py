"""The public pages of a campaign: landing page (with its FAQ and other sections), privacy statement, terms and
the scoreboard, in every language it offers. Each is the same for every visitor of its URL, so a shared cache may
keep it for a few seconds (:func:`core.web.caching.public_page`): nothing here reads the session, a cookie or a
header of the request."""

from __future__ import annotations

from flask import Response, abort, g

from core.campaigns.addresses import campaign_url
from core.campaigns.documents import find_document
from core.campaigns.markdown import render_markdown
from core.campaigns.schedule import TAKING_SIGNUPS, status_at
from core.signup.counters import public_counter_for
from core.site import current_campaign, site
from core.web.caching import public_page
from core.web.rendering import render_page
from core.web.request_campaign import request_time
from core.web.views.localized import localized_blueprint, localized_route

bp = localized_blueprint("pages", __name__)


@localized_route(bp, "/")
def landing() -> Response:
    return public_page(render_page("landing.html"))


@localized_route(bp, "/privacy")
def privacy() -> Response:
    return document_page("privacy")


@localized_route(bp, "/terms")
def terms() -> Response:
    return document_page("terms")


def document_page(name: str) -> Response:
    loaded = current_campaign()
    # As it was when the campaign was published: a later edit shows once it is published (and valid).
    campaigns_dir = site().settings.campaigns_dir
    default = loaded.campaign.default_language
    path = find_document(campaigns_dir, loaded.slug, name, g.lang, default, exists=loaded.texts.__contains__)
    if path is None:
        abort(404)
    text = loaded.texts[path].decode("utf-8")
    return public_page(render_page("document.html", document_name=name, document=render_markdown(text)))


@localized_route(bp, "/scoreboard")
def scoreboard() -> Response:
    """Every campaign that takes sign-ups now, with its public count (baseline + confirmed participants)."""
    rows = []
    for loaded in site().registry.snapshot.campaigns.values():
        c = loaded.campaign
        if c.signup is None or status_at(c, request_time()) not in TAKING_SIGNUPS:
            continue
        counter = public_counter_for(site().plugins, loaded)
        live = site().counters.participants(loaded.slug)
        rows.append(
            {
                "name": c.text(c.name, g.lang),
                "url": campaign_url(loaded, language=g.lang if g.lang in c.languages else None),
                "count": counter.shown(live) if counter else live,
                "since": counter.since if counter else None,
                # below the campaign's hide_below the number is kept off this page too
                "visible": counter.visible(live) if counter else True,
            }
        )
    rows.sort(key=lambda row: (row["visible"], row["count"]), reverse=True)
    return public_page(render_page("scoreboard.html", rows=rows))
