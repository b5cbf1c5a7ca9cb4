"""Campaigns: the schema of a campaign file, its loader and the registry of what is served."""

from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.loader import LoadedCampaign, load_campaign_file
from core.campaigns.localized import Localized, LocalizedMarkdown
from core.campaigns.registry import CampaignRegistry, Snapshot, campaign_files
from core.campaigns.schema import Campaign

__all__ = [
    "Campaign",
    "CampaignConfigError",
    "CampaignRegistry",
    "ConfigProblem",
    "LoadedCampaign",
    "Localized",
    "LocalizedMarkdown",
    "Snapshot",
    "campaign_files",
    "load_campaign_file",
]
