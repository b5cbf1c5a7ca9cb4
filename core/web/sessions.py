"""Session cookies that never cross campaigns.

The cookie is host-only (no Domain attribute), its Path is the campaign's prefix for path campaigns, and its
signature is salted with the campaign slug, so a cookie copied from one campaign is worthless on another. On HTTPS
its name carries the prefix browsers enforce (:func:`cookie_name`), so a sister subdomain or a plain-HTTP page
cannot plant one.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from core.data.hashing import signing_serializer
from core.web.tenancy import ENVIRON_CAMPAIGN


def cookie_name(name: str, secure: bool, path: str) -> str:
    """``name`` with the strongest prefix its cookie allows: ``__Host-`` (Secure, Path=/, no Domain: only this host
    over HTTPS can set it), ``__Secure-`` for a cookie under a path prefix, the plain name without Secure (plain-HTTP
    development, where browsers refuse both prefixes)."""
    if not secure:
        return name
    return f"__Host-{name}" if path == "/" else f"__Secure-{name}"


class CampaignSessionInterface(SecureCookieSessionInterface):
    def get_cookie_name(self, app: Flask) -> str:
        return cookie_name(app.config["SESSION_COOKIE_NAME"], self.get_cookie_secure(app), self.get_cookie_path(app))

    def get_cookie_path(self, app: Flask) -> str:
        return request.script_root or "/"

    def get_cookie_domain(self, app: Flask) -> None:
        return None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        slug = request.environ.get(ENVIRON_CAMPAIGN) or "-"
        return signing_serializer(
            app.secret_key,
            f"{self.salt}:{slug}",  # type: ignore[arg-type]
            serializer=self.serializer,
            key_derivation=self.key_derivation,
        )
