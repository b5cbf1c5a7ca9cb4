"""claimsite: one Flask application serving every campaign microsite from its YAML file."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from core import cli
from core.campaigns import CampaignConfigError, CampaignRegistry
from core.campaigns.themes import Themes
from core.data.db import Database
from core.i18n import LanguageConverter, babel, select_locale
from core.money.payment_providers import installed_providers, unpaid_campaigns
from core.plugins import PluginHost
from core.ratelimits import RateLimits
from core.sealing import WORKING_BOX_EXTENSION, WorkingBox
from core.settings import Settings, SettingsError, load_settings
from core.signup.counters import Counters
from core.site import Site
from core.staff import create_staff_app
from core.web import blueprints, rendering, request_campaign, security_headers
from core.web.assets import Assets
from core.web.page_cache import PageCache
from core.web.sessions import CampaignSessionInterface
from core.web.templating import ChainLoader
from core.web.tenancy import TenancyMiddleware, campaigns_at

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings -> database -> babel -> plugins and campaigns -> templates -> blueprints -> CLI ->
    the staff console -> the WSGI middleware around it all.

    ``test_config`` overrides settings (the fields of :class:`core.settings.Settings`, lower case).
    Raises ``SettingsError`` for unsafe settings, and ``CampaignConfigError`` in production when a campaign
    file is invalid (development logs the problem and serves the other campaigns).
    """
    settings = load_settings(test_config)
    app = _flask_app(settings)
    database = Database(settings.resolved_database_url())
    database.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(settings.translations_dir))
    csrf.init_app(app)
    plugins = PluginHost()
    site = _site(app, settings, plugins)
    _templates(app, site)
    request_campaign.init_app(app, site.registry)
    blueprints.init_app(app, csrf, plugins)
    cli.init_app(app, plugins)
    if settings.env == "production":
        _refuse_unpaid_campaigns(app, site)
    _staff_console(app, site, database)
    _wrap_in_middleware(app, site.tenancy, settings)
    return app


def _flask_app(settings: Settings) -> Flask:
    """The bare Flask app, configured from ``settings``."""
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
    return app


def _site(app: Flask, settings: Settings, plugins: PluginHost) -> Site:
    """Load the themes and campaigns and make the app's services (:class:`core.site.Site`); in production a
    campaign file with errors stops the start (``CampaignConfigError``)."""
    themes = Themes(settings.themes_dir, settings.campaigns_dir)
    registry = CampaignRegistry(settings.campaigns_dir, lambda: plugins.settings_schemas, themes.names)
    snapshot = registry.load()
    if snapshot.errors and settings.env == "production":
        raise CampaignConfigError(list(snapshot.errors))
    hash_key = settings.resolved_hash_key()
    working_box = app.extensions[WORKING_BOX_EXTENSION] = WorkingBox(hash_key)
    site = app.extensions["claimsite"] = Site(
        settings,
        plugins,
        themes,
        registry,
        Assets(themes),
        PageCache(0 if settings.development else settings.page_cache_seconds),
        TenancyMiddleware(app.wsgi_app, registry, settings),
        RateLimits(settings.ratelimit_storage_url),
        Counters(settings.counter_cache_seconds),
        hash_key,
        settings.resolved_sealing_key(),
        working_box,
        installed_providers(plugins, production=settings.env == "production"),
    )
    return site


def _templates(app: Flask, site: Site) -> None:
    """Sessions per campaign, templates from the themes, campaigns and plugins, and the filters they use."""
    app.session_interface = CampaignSessionInterface()
    app.jinja_loader = ChainLoader(site.themes, site.registry, site.plugins.template_dirs)
    app.url_map.converters["lang"] = LanguageConverter
    rendering.init_app(app)


def _refuse_unpaid_campaigns(app: Flask, site: Site) -> None:
    """In production, a campaign that asks a payment no configured provider can take stops the start (the rule
    ``flask campaigns check --production`` applies too)."""
    with app.app_context():
        problems = unpaid_campaigns(site.registry.snapshot.campaigns.values(), site.plugins, site.payment_providers)
    if problems:
        raise SettingsError("\n".join(map(str, problems)))


def _staff_console(app: Flask, site: Site, database: Database) -> None:
    """Mount the staff console on its own host, when there is one; never on a public campaign's host."""
    tenancy = site.tenancy
    if not tenancy.admin_host:
        return
    taken = campaigns_at(tenancy.index(), tenancy.admin_host)
    if taken:
        raise SettingsError(
            f"CLAIMSITE_ADMIN_HOST is {tenancy.admin_host}, where campaign "
            f"{', '.join(sorted(taken))} is served; the staff console needs a host of its own"
        )
    tenancy.staff_app = create_staff_app(app, site, database)


def _wrap_in_middleware(app: Flask, tenancy: TenancyMiddleware, settings: Settings) -> None:
    """Outside in: ProxyFix (when trusted) -> security headers on every answer -> tenancy (campaigns, redirects,
    the staff console) -> the campaign app."""
    app.wsgi_app = security_headers.SecurityHeaders(tenancy)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
