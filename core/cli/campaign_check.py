"""What ``flask campaigns check`` reports: every problem of the campaign files, each once, sorted into errors and
warnings.

Errors: files that do not load (and problems between files), themes that cannot be read, and, with ``--production``,
production's rules (:mod:`core.campaigns.production_rules`, and the payment rule the production start applies too:
:func:`core.money.payment_providers.unpaid_campaigns`, asked with production's providers). Without ``--production``
those rules are warnings that say they would be errors. Other warnings: a text missing in a language, a missing
privacy or terms page, a YAML file the site does not read, a sentence that speaks of a passed date as still to come
(:mod:`core.campaigns.stale_dates`), a milestone whose day has passed with nothing written about what happened
(:mod:`core.campaigns.milestones`).

Besides problems, the report lists each sentence that names a campaign, per campaign and language, as a visitor
reads it (:mod:`core.campaigns.naming`), for staff to review: no code can tell whether "de" or "het" is right.

Each problem is reported once: a loader warning that a production rule states again (the same file, line and field:
an agreement text or a closed message missing in a language) gives way to the rule's own message. Nothing is
logged: the check reads the files with :meth:`CampaignRegistry.check`, which reports rather than logs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.campaigns import CampaignRegistry, ConfigProblem, LoadedCampaign
from core.campaigns.documents import DOCUMENTS, find_document
from core.campaigns.milestones import passed_plans
from core.campaigns.naming import example_sentences
from core.campaigns.production_rules import production_problems
from core.campaigns.stale_dates import stale_dates
from core.campaigns.stray_files import stray_campaign_files
from core.campaigns.themes import Themes
from core.i18n import catalog_gettext
from core.money.payment_providers import installed_providers, unpaid_campaigns
from core.plugins import PluginHost
from core.settings import SettingsError


@dataclass
class CheckReport:
    """The outcome of one check: messages in the order found, each once."""

    production: bool
    valid: int = 0
    errors: list[str] = field(default_factory=list)
    production_warnings: list[str] = field(default_factory=list)  # production's rules, without --production
    warnings: list[str] = field(default_factory=list)
    # (slug, language, the sentences naming the campaign as a visitor reads them)
    sentences: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def add(self, kind: list[str], problems: Iterable[object]) -> None:
        for problem in problems:
            text = str(problem)
            if text not in kind:
                kind.append(text)

    def summary(self) -> str:
        warnings = len(self.production_warnings) + len(self.warnings)
        rules = " (production's rules)" if self.production else ""
        return f"{self.valid} campaign(s) valid, {len(self.errors)} error(s), {warnings} warning(s){rules}"


def check_campaigns(
    folder: Path,
    registry: CampaignRegistry,
    themes: Themes,
    plugins: PluginHost,
    production: bool,
    translations_dir: Path,
) -> CheckReport:
    """Check every campaign file in ``folder`` (read by ``registry``); with ``production``, production's rules are
    errors. The sentences naming each campaign are read from the UI catalogs in ``translations_dir``."""
    report = CheckReport(production)
    if not folder.is_dir():
        report.add(report.errors, [f"{folder}: no such folder (set CLAIMSITE_CAMPAIGNS_DIR to the campaigns folder)"])
        return report
    snapshot = registry.check()
    campaigns = list(snapshot.campaigns.values())
    report.valid = len(campaigns)
    report.add(report.errors, snapshot.errors)
    report.add(report.errors, (f"theme {problem}" for problem in themes.problems()))

    rules = production_problems(campaigns, themes)
    try:
        rules += unpaid_campaigns(campaigns, plugins, installed_providers(plugins, production=True))
    except SettingsError as exc:  # a payment provider's own settings (CLAIMSITE_STRIPE_*) are not valid
        report.add(report.errors, [exc])
    report.add(report.errors if production else report.production_warnings, rules)

    restated = {(rule.file, rule.line, rule.field) for rule in rules}
    report.add(report.warnings, (w for w in snapshot.warnings if (w.file, w.line, w.field) not in restated))
    report.add(report.warnings, missing_pages(campaigns, folder))
    report.add(report.warnings, stray_campaign_files(folder))
    report.add(report.warnings, stale_dates(campaigns, dt.date.today()))
    report.add(report.warnings, passed_plans(campaigns, dt.date.today()))
    report.sentences = name_sentences(campaigns, translations_dir)
    return report


def name_sentences(campaigns: Iterable[LoadedCampaign], translations_dir: Path) -> list[tuple[str, str, list[str]]]:
    """Every sentence that names a campaign, per campaign and language, as a visitor reads it."""
    catalogs = {}
    found = []
    for loaded in campaigns:
        c = loaded.campaign
        for language in c.languages:
            if language not in catalogs:
                catalogs[language] = catalog_gettext(translations_dir, language)
            found.append((c.slug, language, list(example_sentences(c, language, catalogs[language]))))
    return found


def missing_pages(campaigns: Iterable[LoadedCampaign], folder: Path) -> list[ConfigProblem]:
    """A privacy statement or terms page missing in one of a campaign's languages (visitors get the default
    language's)."""
    found = []
    for loaded in campaigns:
        c = loaded.campaign
        for name in DOCUMENTS:
            for language in c.languages:
                if find_document(folder, c.slug, name, language, language) is None:
                    found.append(
                        ConfigProblem(
                            str(loaded.path),
                            None,
                            "",
                            f"no {name} page in '{language}' "
                            f"(campaigns/{c.slug}/pages/{name}.{language}.md or campaigns/_shared/pages/)",
                        )
                    )
    return found
