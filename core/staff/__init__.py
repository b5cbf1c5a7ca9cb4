"""The staff console: a Flask app of its own, served on the one admin host (``CLAIMSITE_ADMIN_HOST``).

It is a separate app, not a blueprint of the campaign app, so that no staff page exists on any campaign's host
and no campaign page on the admin host: the tenancy middleware hands the admin host's requests to this app and
no others (:class:`core.web.tenancy.TenancyMiddleware`). It shares the campaign app's services (database, campaigns,
keys) and has its own cookie, signed with its own salt, sent to the admin host only and never cross-site.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_wtf import CSRFProtect

from core.data.db import Database
from core.sealing import WORKING_BOX_EXTENSION
from core.site import Site
from core.staff import named_views, request_views, vault_upload_views, views  # noqa: F401  (pages on views.bp)
from core.web import security_headers
from core.web.sessions import cookie_name


class StaffSessionInterface(SecureCookieSessionInterface):
    salt = "claimsite-staff-session"  # a campaign's cookie, signed with the same secret, is worthless here


def create_staff_app(campaign_app: Flask, site: Site, database: Database) -> Flask:
    """The console app, sharing ``campaign_app``'s services (previews are rendered by ``campaign_app`` itself)."""
    settings = site.settings
    secure = settings.public_scheme == "https" and not settings.development
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(
        SECRET_KEY=campaign_app.config["SECRET_KEY"],
        SESSION_COOKIE_NAME=cookie_name("claimsite_staff", secure, "/"),  # __Host- on HTTPS: Path=/, no Domain
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        TEMPLATES_AUTO_RELOAD=settings.development,
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=settings.staff_session_hours * 3600,
    )
    app.session_interface = StaffSessionInterface()
    app.extensions["claimsite"] = site
    app.extensions[WORKING_BOX_EXTENSION] = site.working_box
    app.extensions[views.CAMPAIGN_APP_EXTENSION] = campaign_app
    database.init_app(app)
    app.before_request(vault_upload_views.allow_piece_bodies)  # before the CSRF check reads the body's type
    CSRFProtect(app)
    app.register_blueprint(views.bp)
    views.init_app(app)
    security_headers.init_app(app)
    return app
