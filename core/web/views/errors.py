"""Error pages: in the campaign's look and the visitor's language; for unknown hosts, a plain 404."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from core.campaigns.addresses import ENVIRON_DEV_HOST, campaign_url
from core.campaigns.schedule import status_at
from core.data.db import utcnow
from core.data.faults import RETRY_AFTER_SECONDS, UNAVAILABLE, away_page, describe
from core.site import site
from core.web.rendering import render_page


def unknown_host() -> Response:
    """404 for an address no campaign is served at; in development it lists every campaign with its link."""
    listing = []
    if site().settings.development and request.environ.get(ENVIRON_DEV_HOST):
        now = utcnow()
        listing = [
            (loaded, campaign_url(loaded), status_at(loaded.campaign, now))
            for loaded in site().registry.snapshot.campaigns.values()
            if loaded.campaign.status != "draft"  # served only as a staff preview
        ]
    body = render_template("default:unknown_host.html", campaigns=listing, host=request.host)
    return Response(body, status=404, mimetype="text/html")


def _campaign_error(error: HTTPException) -> Response:
    if getattr(g, "campaign", None) is None:
        if error.code == 404:
            return unknown_host()
        return Response(render_template("default:plain_error.html", error=error), status=error.code or 500)
    if not hasattr(g, "lang"):  # the URL matched no page: take the language from its prefix, if any
        campaign = g.campaign.campaign
        first_segment = request.path.lstrip("/").partition("/")[0]
        g.lang = first_segment if first_segment in campaign.languages else campaign.default_language
    response = render_page("error.html", status=error.code or 500, cache=False, error=error)
    for name, value in error.get_headers():  # e.g. Retry-After on 429, Allow on 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    # The traceback goes to the log; the visitor sees a plain, translated page that leaks nothing.
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _campaign_error(InternalServerError())


def _database_unavailable(error: Exception) -> Response:
    """503 while the database cannot be reached: the view's own page if it gave one (the join form, with what was
    typed in it), else the error page; never a 500, and with Retry-After."""
    current_app.logger.error("database unavailable on %s %s: %s", request.method, request.endpoint, describe(error))
    session = g.pop("db_session", None)
    if session is not None:  # its connection is gone; the page below must not reuse it
        session.close()
    page = away_page()
    try:
        response = page() if page is not None else _campaign_error(ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS))
    except Exception:  # the page itself failed: still say "try again", not "something broke"
        current_app.logger.exception("could not render the 503 page")
        response = Response(
            _("This page is briefly unavailable. Please try again in a minute."), 503, mimetype="text/plain"
        )
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _campaign_error)
    for error in UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
