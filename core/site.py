"""The per-app services, and :func:`site`, the one accessor through which every layer reaches them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app, g

if TYPE_CHECKING:
    # Only the types: the services are built by create_app, above every layer, and handed out by site().
    from core.campaigns import CampaignRegistry, LoadedCampaign
    from core.campaigns.publishing import CampaignPublisher
    from core.campaigns.themes import Themes
    from core.money.payment_providers import PaymentProvider
    from core.phones.sms_providers import SmsProvider
    from core.plugins import PluginHost
    from core.ratelimits import RateLimits
    from core.sealing import ContactBox, SealingKey, WorkingBox
    from core.settings import Settings
    from core.signup.counters import Counters
    from core.vault.holding import HoldingKey
    from core.vault.store import VaultStore
    from core.web.assets import Assets
    from core.web.page_cache import PageCache
    from core.web.tenancy import TenancyMiddleware


@dataclass
class Site:
    settings: Settings
    plugins: PluginHost
    themes: Themes
    registry: CampaignRegistry
    publisher: CampaignPublisher  # publishes settled campaign changes in this process (core.campaigns.publishing)
    assets: Assets
    page_cache: PageCache
    tenancy: TenancyMiddleware
    limits: RateLimits
    counters: Counters
    hash_key: str  # resolved once at start (in development it lives in a file)
    sealing_key: SealingKey  # the foundation's public key: personal data is sealed to it (core.data.personal_data)
    working_box: WorkingBox  # what the flow reads back while it needs it (core.data.personal_data, core.jobs.queue)
    contact_box: (
        ContactBox  # the contact copies of participants' addresses, for mail after the flow (core.data.contacts)
    )
    breach_key: bytes  # the digest key of the breach indexes, made once at start (core.breach.numbers.digest_key)
    vault_store: VaultStore  # the participants' encrypted vault files (CLAIMSITE_VAULT_STORE; core.vault.store)
    payment_providers: list[PaymentProvider] = field(default_factory=list)  # in the order they are asked
    sms_provider: SmsProvider | None = None  # sends every SMS (CLAIMSITE_SMS_PROVIDER); None: no SMS in production
    # files for a participant without a vault are held under it (CLAIMSITE_VAULT_HOLDING_KEY; core.vault.holding);
    # None: such deposits are refused
    vault_holding_key: HoldingKey | None = None


def site() -> Site:
    """The services of the running app: the one documented way for any layer to reach them.

    ``create_app`` builds every service once and keeps them here; a module of any layer that needs one at run
    time (the plugin host, the campaign registry, the counters...) asks ``site()`` inside an app context instead of
    importing the layer that made it, so imports keep pointing down (the contracts in pyproject.toml). Code that
    can take a service as a parameter takes it; ``site()`` is for what is reached from deep inside a request or job.
    """
    return current_app.extensions["claimsite"]


def current_campaign() -> LoadedCampaign:
    """The campaign of this request (set before every request; views of unknown hosts never run)."""
    return g.campaign
