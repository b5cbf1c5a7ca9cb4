"""Security headers on every response of the app.

The pages run no inline script or style (every script and stylesheet is a file under /assets), so the Content
Security Policy allows only the site's own files. Forms may post to the site itself, and a payment page also to
its provider's checkout (a view adds that origin with :func:`allow_form_action`), because browsers apply
``form-action`` to the redirect that follows a form post. HSTS is sent on HTTPS only (browsers ignore it
elsewhere, and development runs on plain HTTP).
"""

from __future__ import annotations

from flask import Flask, Response, g, request

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
}
HSTS = "max-age=63072000; includeSubDomains"  # two years


def allow_form_action(origin: str) -> None:
    """Let this response's forms post (or be redirected) to ``origin`` too, e.g. ``https://checkout.stripe.com``."""
    g.setdefault("csp_form_actions", []).append(origin)


def _add_headers(response: Response) -> Response:
    extra = g.get("csp_form_actions")
    policy = CONTENT_SECURITY_POLICY + "".join(f" {origin}" for origin in extra) if extra else CONTENT_SECURITY_POLICY
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
