"""Who may keep a response: public campaign pages in a shared cache for a few seconds, everything else nowhere.

A claim campaign's traffic comes in spikes, and only a shared cache in front of the app (nginx's micro-cache, see
issue 22) serves them; so the pages that are the same for every visitor (landing page, FAQ, privacy statement,
terms, scoreboard) say so, and everything else says the opposite.

Deny by default: :class:`PrivateByDefault`, around everything the process answers (campaign app, tenancy redirects,
the staff console), marks every response that does not say who may keep it ``private, no-store``. A view opts in
with :func:`public_page`: ``public, max-age, stale-while-revalidate`` from the settings, a strong ``ETag`` and 304 on
``If-None-Match``. A response that carries a cookie is never public: if a public page sets one after all (a
template called ``csrf_token()``, which puts a token in the session), the middleware makes it ``private, no-store``
and logs the path, so a cache never hands one visitor's cookie to the next; the tests keep every public page from
getting there.

A public page depends on its URL alone: its language is in the path (``/`` or ``/en/``), never in a cookie or in
Accept-Language, and the suggestion to switch to the browser's language is made in the browser
(``themes/default/static/js/language_notice.js``). The only ``Vary`` is ``Host`` (:mod:`core.web.request_campaign`):
one path is a different campaign on each host, should a cache ever be keyed without the host.

How fresh: the participant count on a public page is at most 10 s old, all caches together (the counter's, the
page cache's, max-age and stale-while-revalidate add up: :class:`core.settings.Settings` refuses more). In
development a public page may be stored but is asked for again each time (``no-cache``; the ETag makes that a 304),
so an edited campaign file shows on the next request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Response, request

from core.site import site
from core.web.tenancy import ENVIRON_PREVIEW_STATUS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

PRIVATE = "private, no-store"


def public_cache_control() -> str:
    """The ``Cache-Control`` of a public page under this process's settings."""
    settings = site().settings
    if settings.development:
        return "public, no-cache"
    return f"public, max-age={settings.public_max_age_seconds}, stale-while-revalidate={settings.public_stale_seconds}"


def public_page(response: Response) -> Response:
    """Mark ``response`` (a page that is the same for every visitor of its URL) as one a shared cache may keep, with
    an ETag (the page cache's, else a hash of the body) and 304 when the request's ``If-None-Match`` has it. Call it
    only for a 200 whose view read nothing of the visitor: no session, no cookie, no form, no header."""
    if response.status_code != 200 or request.environ.get(ENVIRON_PREVIEW_STATUS):
        # an error, or the staff console's preview of a campaign (perhaps a draft): for nobody else's eyes
        response.headers["Cache-Control"] = PRIVATE
        return response
    response.headers["Cache-Control"] = public_cache_control()
    if "ETag" not in response.headers:
        response.add_etag()
    return response.make_conditional(request)


def _is_public(value: str) -> bool:
    return "public" in (part.strip().lower() for part in value.split(","))


class PrivateByDefault:
    """WSGI middleware: a response without ``Cache-Control`` gets ``private, no-store``; a public one that carries
    ``Set-Cookie`` is made private (and logged), as no shared cache may keep a visitor's cookie."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info=None):  # type: ignore[no-untyped-def]
            control = None
            cookie = False
            for index, (name, _value) in enumerate(headers):
                lowered = name.lower()
                if lowered == "cache-control":
                    control = index
                elif lowered == "set-cookie":
                    cookie = True
            if control is None:
                headers.append(("Cache-Control", PRIVATE))
            elif cookie and _is_public(headers[control][1]):
                log.error("a public page set a cookie, so it was sent as private: %s", environ.get("PATH_INFO"))
                headers[control] = ("Cache-Control", PRIVATE)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
