"""``flask campaigns ...``: check, list and start campaign files.

These commands read the campaign files and the installed plugins, and nothing else: no app, no database, no secrets,
no ``instance/`` folder. So CI runs ``flask campaigns check --production`` on a fresh clone with no environment,
and a check writes nothing. Flask finds the group through the ``flask.commands`` entry point (pyproject.toml),
before it would load an app: ``wsgi.py`` builds the production app when imported, which refuses to start without
its secrets. The folders come from ``CLAIMSITE_CAMPAIGNS_DIR`` and ``CLAIMSITE_THEMES_DIR`` (:class:`FolderSettings`),
never from an app, so a test sets those, not an app's settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import click

from core.campaigns import CampaignRegistry
from core.campaigns.locks import LOCK_FILE, lock_texts
from core.campaigns.schedule import status_for_staff
from core.campaigns.starter import StarterError, write_starter
from core.campaigns.themes import Themes
from core.cli.campaign_check import check_campaigns
from core.plugins import PluginHost
from core.settings import FolderSettings


@dataclass(frozen=True)
class CampaignSources:
    """What the commands work on: the folders, the installed plugins, the themes, and a registry over the files."""

    folders: FolderSettings
    plugins: PluginHost
    themes: Themes
    registry: CampaignRegistry

    @classmethod
    def from_environment(cls) -> CampaignSources:
        folders = FolderSettings()
        plugins = PluginHost()
        themes = Themes(folders.themes_dir, folders.campaigns_dir)
        registry = CampaignRegistry(folders.campaigns_dir, lambda: plugins.settings_schemas, themes)
        return cls(folders, plugins, themes, registry)


@click.group("campaigns")
def campaigns_cli() -> None:
    """Check, list and create campaign files (no app, database or secrets needed)."""


@campaigns_cli.command("check")
@click.option(
    "--production",
    is_flag=True,
    help="apply production's rules as errors: paid fee models need a payment provider, agreements and a closed "
    "campaign's message in every language, readable colours",
)
@click.option(
    "--sentences/--no-sentences",
    default=True,
    help="list every sentence that names a campaign, per language, for review (on by default)",
)
def check(production: bool, sentences: bool) -> None:
    """Validate every campaign file, once each; exit 1 on any error. Warnings (a missing translation) don't fail.
    Lists each sentence that names a campaign, for review."""
    sources = CampaignSources.from_environment()
    folders = sources.folders
    report = check_campaigns(
        folders.campaigns_dir, sources.registry, sources.themes, sources.plugins, production, folders.translations_dir
    )
    if sentences and report.sentences:
        click.echo("Sentences that name a campaign, as visitors read them (set name_in_sentence to change them):")
        for slug, language, lines in report.sentences:
            click.echo(f"  {slug} ({language}):")
            for line in lines:
                click.echo(f"    {line}")
    for problem in report.errors:
        click.secho(f"error: {problem}", fg="red", err=True)
    for problem in report.production_warnings:
        click.secho(f"warning (an error with --production): {problem}", fg="yellow", err=True)
    for problem in report.warnings:
        click.secho(f"warning: {problem}", fg="yellow", err=True)
    click.echo(report.summary())
    if report.errors:
        raise SystemExit(1)


@campaigns_cli.command("list")
def list_campaigns() -> None:
    """Show every valid campaign: slug, status now (opens and closes read against the clock), languages and
    addresses."""
    snapshot = CampaignSources.from_environment().registry.check()
    rows = [("SLUG", "STATUS", "LANGUAGES", "SERVED AT")]
    now = dt.datetime.now(dt.UTC)  # the status follows the clock (core/campaigns/schedule.py)
    for slug, loaded in snapshot.campaigns.items():
        c = loaded.campaign
        languages = ",".join(f"{code}*" if code == c.default_language else code for code in c.languages)
        rows.append((slug, status_for_staff(c, now), languages, " ".join([*c.hosts, *c.paths])))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    broken = {problem.file for problem in snapshot.errors}
    if broken:
        click.echo(f"{len(broken)} file(s) with errors left out; see: flask campaigns check", err=True)


@campaigns_cli.command("new")
@click.argument("slug")
@click.option("--host", "hosts", multiple=True, help="a domain the campaign is served at (repeatable)")
def new(slug: str, hosts: tuple[str, ...]) -> None:
    """Write campaigns/SLUG.yaml, a valid, commented starting point, and its agreement texts in Dutch and English
    (campaigns/SLUG/agreements/)."""
    sources = CampaignSources.from_environment()
    try:
        loaded = write_starter(sources.folders.campaigns_dir, slug, hosts, sources.plugins.settings_schemas)
    except StarterError as exc:
        raise click.ClickException(str(exc)) from None
    agreements = loaded.path.parent / slug / "agreements"
    click.echo(
        f"wrote {loaded.path} and the agreement texts in {agreements}/; fill them in, then run: flask campaigns check"
    )


@campaigns_cli.command("lock")
def lock() -> None:
    """Add each agreement text not listed yet to its folder's SHA256SUMS (a listed text keeps its line). Run it when
    a new version is ready to publish, and commit the lock files with the texts (:mod:`core.campaigns.locks`)."""
    campaigns_dir = FolderSettings().campaigns_dir
    added = 0
    for folder in sorted(p for p in campaigns_dir.glob("*/agreements") if p.is_dir()):
        for name in lock_texts(folder):
            click.echo(f"locked {folder.relative_to(campaigns_dir)}/{name}")
            added += 1
    if added:
        click.echo(f"{added} text(s) locked: commit the {LOCK_FILE} files with the texts")
    else:
        click.echo(f"every agreement text is locked already ({LOCK_FILE} in each agreements folder)")
