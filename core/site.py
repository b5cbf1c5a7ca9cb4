"""The per-app services every part reaches through ``current_app.extensions["claimsite"]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, g

from core.campaigns import CampaignRegistry, LoadedCampaign
from core.campaigns.themes import Themes
from core.data.sealing import SealingKey, WorkingBox
from core.money.payment_providers import PaymentProvider
from core.plugins import PluginHost
from core.ratelimits import RateLimits
from core.settings import Settings
from core.signup.counters import Counters
from core.web.assets import Assets
from core.web.page_cache import PageCache
from core.web.tenancy import TenancyMiddleware


@dataclass
class Site:
    settings: Settings
    plugins: PluginHost
    themes: Themes
    registry: CampaignRegistry
    assets: Assets
    page_cache: PageCache
    tenancy: TenancyMiddleware
    limits: RateLimits
    counters: Counters
    hash_key: str  # resolved once at start (in development it lives in a file)
    sealing_key: SealingKey  # the foundation's public key: personal data is sealed to it (core.data.personal_data)
    working_box: WorkingBox  # what the flow reads back while it needs it (core.data.personal_data, core.jobs.queue)
    payment_providers: list[PaymentProvider] = field(default_factory=list)  # in the order they are asked


def site() -> Site:
    return current_app.extensions["claimsite"]


def current_campaign() -> LoadedCampaign:
    """The campaign of this request (set before every request; views of unknown hosts never run)."""
    return g.campaign
