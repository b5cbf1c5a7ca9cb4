"""Security headers on every response of the app.

They are added by WSGI middleware around everything the process answers (:class:`SecurityHeaders`), so the
tenancy's redirects and 404s for unknown hosts, which are made before Flask runs, and the staff console carry the
same headers as a campaign page. A view may only widen ``form-action`` (:func:`allow_form_action`).

The pages run no inline script or style (every script and stylesheet is a file under /assets), so the Content
Security Policy allows only the site's own files. Forms may post to the site itself, and a payment page also to
its provider's checkout (a view adds that origin with :func:`allow_form_action`), because browsers apply
``form-action`` to the redirect that follows a form post. HSTS is sent on HTTPS only (browsers ignore it
elsewhere, and development runs on plain HTTP).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response, g

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # other sites never learn which campaign page a visitor came from
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers without frame-ancestors
    "Cross-Origin-Resource-Policy": "same-origin",  # no other site may embed our pages, images or files
}
HSTS = "max-age=63072000; includeSubDomains"  # two years


def allow_form_action(origin: str) -> None:
    """Let this response's forms post (or be redirected) to ``origin`` too, e.g. ``https://checkout.stripe.com``."""
    g.setdefault("csp_form_actions", []).append(origin)


def _widen_form_action(response: Response) -> Response:
    extra = g.get("csp_form_actions")
    if extra:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY + "".join(f" {o}" for o in extra)
    return response


def init_app(app: Flask) -> None:
    """Let ``app``'s views widen ``form-action`` (the other headers come from :class:`SecurityHeaders`)."""
    app.after_request(_widen_form_action)


class SecurityHeaders:
    """WSGI middleware: every response gets each security header it does not set itself; HSTS on HTTPS only
    (``wsgi.url_scheme`` as the trusted proxy reported it: put this inside ProxyFix)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self._plain = [("Content-Security-Policy", CONTENT_SECURITY_POLICY), *HEADERS.items()]
        self._secure = [*self._plain, ("Strict-Transport-Security", HSTS)]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        defaults = self._secure if environ.get("wsgi.url_scheme") == "https" else self._plain

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):  # type: ignore[no-untyped-def]
            present = {name.lower() for name, _value in headers}
            headers.extend(header for header in defaults if header[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
