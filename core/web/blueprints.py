"""Every blueprint of the campaign app, core's and the plugins', and what wraps their views."""

from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect

from core.data import faults as database_faults
from core.plugins import PluginHost
from core.web import security_headers
from core.web.views import assets, breach_check, errors, pages, participant, payments, signup, vault


def init_app(app: Flask, csrf: CSRFProtect, plugins: PluginHost) -> None:
    """Register core's blueprints, then each plugin's (:func:`core.hookspecs.claimsite_blueprints`), then the
    database fault handling, error pages and security headers, which apply to all of them."""
    app.register_blueprint(pages.bp)
    app.register_blueprint(signup.bp)
    csrf.exempt(signup.bp)  # checks CSRF itself, to keep what the visitor typed when a page expired
    app.register_blueprint(participant.bp)
    csrf.exempt(participant.bp)  # as signup: checks CSRF itself (its forms through Flask-WTF)
    app.register_blueprint(vault.bp)
    csrf.exempt(vault.bp)  # checks CSRF itself (JSON from its page: the token in a header), answering in JSON
    app.register_blueprint(payments.bp)
    csrf.exempt(payments.bp)  # as signup: checks CSRF itself
    app.register_blueprint(payments.webhooks)
    csrf.exempt(payments.webhooks)  # a provider's notification, checked by its signature
    app.register_blueprint(breach_check.bp)
    csrf.exempt(breach_check.bp)  # as signup: checks CSRF itself, keeping the typed number on an expired page
    app.register_blueprint(assets.bp)
    app.register_blueprint(assets.favicon)
    for blueprints in plugins.pm.hook.claimsite_blueprints():
        for blueprint in blueprints:
            app.register_blueprint(blueprint)
    database_faults.init_app(app)  # after every blueprint: it wraps their views
    errors.init_app(app)
    security_headers.init_app(app)
