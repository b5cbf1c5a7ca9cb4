"""A vault file as its owner's list shows it: who sent it, for which campaign, when, how large, what kind.

Everything is written here, on the server, in the page's language (flask-babel and the campaign's texts), so the
list reads like the rest of the site, not like the browser's locale. The file's name goes to its owner alone (the
login's address hash picks the rows: :func:`core.data.vault_files.files_of`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import g
from flask_babel import gettext as _

from core import i18n
from core.data.models import VaultFile
from core.data_requests import named_companies
from core.site import site
from core.vault.file_kinds import kind_of


def _described(file: VaultFile, language: str) -> tuple[str, str, dt.date]:
    """The company's shown name (the catalogue's short name or name; a company typed as free text, as typed), the
    campaign's title in ``language`` and the day the file arrived in the campaign's time zone (the slug and the UTC
    day when that campaign is no longer served)."""
    loaded = site().registry.snapshot.campaigns.get(file.campaign)
    if loaded is None:
        return file.company, file.campaign, file.deposited_at.date()
    c = loaded.campaign
    company = loaded.companies.get(file.company) or named_companies.catalogue_of(loaded).get(file.company)
    day = file.deposited_at.astimezone(ZoneInfo(c.timezone)).date()
    return (company.shown_name if company else file.company), c.text(c.name, language), day


def kept_until_text(day: dt.date | None, campaign: str, language: str) -> str:
    """Until when a file is kept (:mod:`core.data.vault_retention`), in ``language``: its date, or the rule while its
    campaign has no end date yet; "" when its campaign is not served any more (its rule is not known here)."""
    if day is not None:
        return _("Kept until %(date)s", date=i18n.long_date(day, language))
    loaded = site().registry.snapshot.campaigns.get(campaign)
    if loaded is None:
        return ""
    return _(
        "Kept until %(days)s days after the campaign ends (its end date is not set yet)",
        days=loaded.campaign.vault.files_kept_days,
    )


def listed(file: VaultFile, kept_until: dt.date | None) -> dict[str, Any]:
    """What the page shows of ``file`` (JSON), and what its script needs to fetch, check and save it; ``kept_until``
    is the day retention removes it after (None while its campaign has no end date)."""
    language = getattr(g, "lang", i18n.SOURCE_LANGUAGE)
    company, campaign, day = _described(file, language)
    return {
        "id": file.id,
        "file_name": file.file_name,
        "company": company,
        "campaign": campaign,
        "received": i18n.long_date(day, language),
        "size": file.size_plain,
        "size_text": i18n.file_size(file.size_plain, language),
        "kind": kind_of(file.media_type),
        "media_type": file.media_type,
        "kept_until": kept_until.isoformat() if kept_until is not None else None,
        "kept_until_text": kept_until_text(kept_until, file.campaign, language),
    }
