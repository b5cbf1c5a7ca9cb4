"""claimsite: one Flask application serving every campaign microsite from its YAML file."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask, g, request
from flask_wtf import CSRFProtect
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from core.campaigns import CampaignConfigError, CampaignRegistry
from core.campaigns.themes import Themes
from core.cli.campaigns import campaigns_cli
from core.cli.export import export_cli
from core.cli.fees import fees_group, payments_group
from core.cli.keys import keys_cli
from core.cli.retention import retention_cli
from core.cli.staff import staff_cli
from core.data import faults as database_faults
from core.data.db import Database
from core.data.migrations import db_cli
from core.i18n import LanguageConverter, babel, select_locale
from core.jobs.queue import jobs_cli, worker_cli
from core.money.payment_providers import unpaid_campaigns
from core.plugins import PluginHost
from core.ratelimits import RateLimits
from core.sealing import WORKING_BOX_EXTENSION, WorkingBox
from core.settings import SettingsError, load_settings
from core.signup.counters import Counters
from core.site import Site
from core.staff import create_staff_app
from core.web import rendering, security_headers
from core.web.assets import Assets
from core.web.page_cache import PageCache
from core.web.sessions import CampaignSessionInterface
from core.web.templating import ChainLoader
from core.web.tenancy import ENVIRON_CAMPAIGN, ENVIRON_PREVIEW_STATUS, TenancyMiddleware, campaigns_at
from core.web.views import assets, errors, pages, participant, payments, signup

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings -> plugins -> themes -> campaigns -> babel -> views -> tenancy middleware.

    ``test_config`` overrides settings (the fields of :class:`core.settings.Settings`, lower case).
    Raises ``SettingsError`` for unsafe settings, and ``CampaignConfigError`` in production when a campaign
    file is invalid (development logs the problem and serves the other campaigns).
    """
    settings = load_settings(test_config)
    app = Flask(__name__, instance_path=str(settings.instance_dir), static_folder=None)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_NAME="claimsite_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_scheme == "https" and not settings.development,
        TEMPLATES_AUTO_RELOAD=settings.development,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )

    plugins = PluginHost()
    themes = Themes(settings.themes_dir, settings.campaigns_dir)
    registry = CampaignRegistry(settings.campaigns_dir, lambda: plugins.settings_schemas, themes.names)
    snapshot = registry.load()
    if snapshot.errors and settings.env == "production":
        raise CampaignConfigError(list(snapshot.errors))

    tenancy = TenancyMiddleware(app.wsgi_app, registry, settings)
    page_cache = PageCache(0 if settings.development else settings.page_cache_seconds)
    hash_key = settings.resolved_hash_key()
    working_box = app.extensions[WORKING_BOX_EXTENSION] = WorkingBox(hash_key)
    app.extensions["claimsite"] = Site(
        settings,
        plugins,
        themes,
        registry,
        Assets(themes),
        page_cache,
        tenancy,
        RateLimits(settings.ratelimit_storage_url),
        Counters(settings.counter_cache_seconds),
        hash_key,
        settings.resolved_sealing_key(),
        working_box,
        [provider for found in plugins.pm.hook.claimsite_payment_providers() for provider in found],
    )

    database = Database(settings.resolved_database_url())
    database.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(settings.translations_dir))
    csrf.init_app(app)
    app.session_interface = CampaignSessionInterface()
    app.jinja_loader = ChainLoader(themes, registry, plugins.template_dirs)
    app.url_map.converters["lang"] = LanguageConverter
    rendering.init_app(app)

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

    @app.after_request
    def _vary_on_host(response):  # type: ignore[no-untyped-def]
        vary = response.headers.get("Vary")
        if vary is None:
            response.headers["Vary"] = "Host"
        elif "Host" not in vary:
            response.vary.add("Host")
        return response

    app.register_blueprint(pages.bp)
    app.register_blueprint(signup.bp)
    csrf.exempt(signup.bp)  # checks CSRF itself, to keep what the visitor typed when a page expired
    app.register_blueprint(participant.bp)
    csrf.exempt(participant.bp)  # as signup: checks CSRF itself (its forms through Flask-WTF)
    app.register_blueprint(payments.bp)
    csrf.exempt(payments.bp)  # as signup: checks CSRF itself
    app.register_blueprint(payments.webhooks)
    csrf.exempt(payments.webhooks)  # a provider's notification, checked by its signature
    app.register_blueprint(assets.bp)
    for blueprints in plugins.pm.hook.claimsite_blueprints():
        for blueprint in blueprints:
            app.register_blueprint(blueprint)
    database_faults.init_app(app)  # after every blueprint: it wraps their views
    errors.init_app(app)
    security_headers.init_app(app)

    app.cli.add_command(campaigns_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(worker_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(retention_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(export_cli)
    app.cli.add_command(fees_group)
    app.cli.add_command(payments_group)
    app.cli.add_command(staff_cli)
    plugins.pm.hook.claimsite_register_commands(cli=app.cli)

    if settings.env == "production":
        with app.app_context():
            problems = unpaid_campaigns(snapshot.campaigns.values())
        if problems:
            raise SettingsError("\n".join(problems))

    if tenancy.admin_host:
        taken = campaigns_at(tenancy.index(), tenancy.admin_host)
        if taken:  # staff pages never live on a public campaign host
            raise SettingsError(
                f"CLAIMSITE_ADMIN_HOST is {tenancy.admin_host}, where campaign "
                f"{', '.join(sorted(taken))} is served; the staff console needs a host of its own"
            )
        tenancy.staff_app = create_staff_app(app, app.extensions["claimsite"], database)
    # Outside in: ProxyFix (when trusted) -> security headers on every answer -> tenancy (campaigns, redirects,
    # the staff console) -> the campaign app.
    app.wsgi_app = security_headers.SecurityHeaders(tenancy)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app
