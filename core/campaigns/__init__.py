"""Campaigns: the schema of a campaign file, its loader and the registry of what is served."""

from .errors import CampaignConfigError, ConfigProblem
from .loader import LoadedCampaign, load_campaign_file
from .localized import Localized, LocalizedMarkdown
from .registry import CampaignRegistry, Snapshot, campaign_files
from .schema import Campaign

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
