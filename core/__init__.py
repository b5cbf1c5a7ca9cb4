"""claimsite: one Flask application serving every campaign microsite from its YAML file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from core import cli
from core.breach.numbers import digest_key
from core.campaigns import CampaignRegistry, ConfigProblem, LoadedCampaign
from core.campaigns.publishing import CampaignPublisher
from core.campaigns.themes import Themes
from core.data.address_owners import DatabaseAddressOwners
from core.data.db import Database
from core.i18n import LanguageConverter, init_babel
from core.money.payment_providers import installed_providers, unpaid_campaigns
from core.phones.sms_providers import chosen_sms_provider
from core.plugins import PluginHost
from core.ratelimits import RateLimits
from core.sealing import WORKING_BOX_EXTENSION, ContactBox, WorkingBox
from core.settings import Settings, SettingsError, load_settings
from core.signup.counters import Counters
from core.signup.signed_texts import signed_texts_rule
from core.site import Site
from core.staff import create_staff_app
from core.vault.holding import configured_holding_key
from core.vault.store import vault_store
from core.web import blueprints, caching, rendering, request_campaign, security_headers
from core.web.assets import Assets
from core.web.page_cache import PageCache
from core.web.sessions import CampaignSessionInterface
from core.web.templating import ChainLoader
from core.web.tenancy import TenancyMiddleware, campaigns_at

csrf = CSRFProtect()
log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings -> database -> babel -> plugins and campaigns -> templates -> blueprints -> CLI ->
    the staff console -> the WSGI middleware around it all.

    ``test_config`` overrides settings (the fields of :class:`core.settings.Settings`, lower case).
    Raises ``SettingsError`` for unsafe settings; a campaign file never stops it (see :func:`_site`).
    """
    settings = load_settings(test_config)
    app = _flask_app(settings)
    database = Database(settings.resolved_database_url())
    database.init_app(app)
    init_babel(app, settings.translations_dir)
    csrf.init_app(app)
    plugins = PluginHost()
    site = _site(app, settings, plugins, database)
    _templates(app, site)
    request_campaign.init_app(app, site.registry)
    blueprints.init_app(app, csrf, plugins)
    cli.init_app(app, plugins)
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


def _site(app: Flask, settings: Settings, plugins: PluginHost, database: Database) -> Site:
    """Make the app's services (:class:`core.site.Site`) and load the themes and campaigns.

    A campaign whose files are wrong never stops the app, in any environment: it is left out (or keeps serving its
    last good version), its problems are logged, shown in the staff console and counted by ``/healthz``, and every
    other campaign serves. Production also leaves out a campaign that asks a payment no provider may take.
    """
    themes = Themes(settings.themes_dir, settings.campaigns_dir)
    admin_host = settings.resolved_admin_host()
    registry = CampaignRegistry(
        settings.campaigns_dir,
        lambda: plugins.settings_schemas,
        themes,
        owners=DatabaseAddressOwners(database),
        reserved_hosts={admin_host: "the staff console's address (CLAIMSITE_ADMIN_HOST)"} if admin_host else {},
        rules=_campaign_rules(app, settings, database, plugins),
    )
    publisher = CampaignPublisher(registry, settings.publish_poll_seconds, settings.publish_quiet_seconds)
    hash_key = settings.resolved_hash_key()
    working_box = app.extensions[WORKING_BOX_EXTENSION] = WorkingBox(hash_key)
    site = app.extensions["claimsite"] = Site(
        settings,
        plugins,
        themes,
        registry,
        publisher,
        Assets(themes),
        PageCache(0 if settings.development else settings.page_cache_seconds),
        TenancyMiddleware(app.wsgi_app, registry, settings, publisher),
        RateLimits(settings.ratelimit_storage_url),
        Counters(settings.counter_cache_seconds),
        hash_key,
        settings.resolved_sealing_key(),
        working_box,
        ContactBox(settings.resolved_contact_key()),
        digest_key(settings.resolved_breach_key()),
        vault_store(settings),
        installed_providers(plugins, production=settings.env == "production"),
        chosen_sms_provider(plugins, settings),
        configured_holding_key(settings),
    )
    snapshot = registry.load()
    if snapshot.errors:
        log.error(
            "%d campaign file problem(s): the campaigns they concern are not served (or keep their last good "
            "version); every other campaign is",
            len(snapshot.errors),
        )
    return site


def _campaign_rules(
    app: Flask, settings: Settings, database: Database, plugins: PluginHost
) -> Callable[[LoadedCampaign], list[ConfigProblem]]:
    """What the running site refuses of a campaign that is otherwise valid: a signed agreement text that changed
    (:mod:`core.signup.signed_texts`), and in production a payment no provider may take (the rule ``flask campaigns
    check --production`` applies too)."""
    signed_texts = signed_texts_rule(database, settings.campaigns_dir)
    providers = installed_providers(plugins, production=settings.env == "production")

    def rules(loaded: LoadedCampaign) -> list[ConfigProblem]:
        problems = signed_texts(loaded)
        if settings.env == "production":
            problems += unpaid_campaigns([loaded], plugins, providers)
        return problems

    return rules


def _templates(app: Flask, site: Site) -> None:
    """Sessions per campaign, templates from the themes, campaigns and plugins, and the filters they use."""
    app.session_interface = CampaignSessionInterface()
    app.jinja_loader = ChainLoader(site.themes, site.registry, site.plugins.template_dirs)
    app.url_map.converters["lang"] = LanguageConverter
    rendering.init_app(app)


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
    """Outside in: ProxyFix (when trusted) -> security headers and who may cache it on every answer -> tenancy
    (campaigns, redirects, the staff console) -> the campaign app."""
    app.wsgi_app = security_headers.SecurityHeaders(caching.PrivateByDefault(tenancy))  # type: ignore[method-assign]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
