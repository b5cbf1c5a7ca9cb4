"""Static files of the current campaign's theme chain, and its colours, under fingerprinted URLs."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, send_file, url_for

from core.site import current_campaign, site
from core.web.assets import ONE_YEAR

bp = Blueprint("assets", __name__, url_prefix="/assets")
# Browsers and crawlers ask for /favicon.ico whatever the page links to; without an answer every such request is a
# 404 in the console (and a lower best-practices score).
favicon = Blueprint("favicon", __name__)

FAVICON = "favicon.png"


def _immutable(response: Response) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    return response


@bp.get("/<digest>/colours.css")
def colours(digest: str) -> Response:
    assets = site().assets
    css = assets.colours_css(current_campaign())
    current = assets.text_digest(css)
    if digest != current:
        return redirect(url_for("assets.colours", digest=current))
    return _immutable(Response(css, mimetype="text/css"))


@bp.get("/<digest>/<path:filename>")
def static_file(digest: str, filename: str) -> Response:
    assets = site().assets
    path = assets.find(current_campaign(), filename)
    if path is None:
        abort(404)
    current = assets.digest(path)
    if digest != current:  # an old URL after a deploy: send the browser to the file as it is now
        return redirect(url_for("assets.static_file", digest=current, filename=filename))
    return _immutable(send_file(path, max_age=ONE_YEAR, conditional=True, etag=True))


@favicon.get("/favicon.ico")
def favicon_ico() -> Response:
    """The campaign's icon (its own static folder's favicon.png, else its theme's), by its fingerprinted URL."""
    path = site().assets.find(current_campaign(), FAVICON)
    if path is None:
        abort(404)
    return redirect(url_for("assets.static_file", digest=site().assets.digest(path), filename=FAVICON))
