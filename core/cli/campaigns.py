"""``flask campaigns ...``: check, list and start campaign files."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from core.campaigns import CampaignConfigError, load_campaign_file
from core.campaigns.contrast import weak_pairs
from core.campaigns.documents import DOCUMENTS, find_document
from core.campaigns.schedule import status_for_staff
from core.data.db import utcnow
from core.money.payment_providers import unpaid_campaigns
from core.site import site

STARTER = Path(__file__).resolve().parent.parent / "campaigns" / "starter.yaml"


@click.group("campaigns")
def campaigns_cli() -> None:
    """Check, list and create campaign files."""


@campaigns_cli.command("check")
@with_appcontext
def check() -> None:
    """Validate every campaign file; exit 1 if any is invalid. Warnings (e.g. a missing translation) don't fail."""
    services = site()
    snapshot = services.registry.check()
    for problem in snapshot.errors:
        click.secho(f"error: {problem}", fg="red", err=True)
    warnings = list(snapshot.warnings)
    theme_problems = services.themes.problems()
    for problem in theme_problems:
        click.secho(f"error: theme {problem}", fg="red", err=True)
    for loaded in snapshot.campaigns.values():
        c = loaded.campaign
        colours = services.themes.colours(c.theme, dict(c.theme_overrides.colours))
        for fg, bg, ratio in weak_pairs(colours):
            warnings.append(
                f"{loaded.path}: theme_overrides.colours: {fg} on {bg} has contrast {ratio}:1, "
                "under the 4.5:1 that people with low vision need (WCAG AA)"
            )
        for name in DOCUMENTS:
            for language in c.languages:
                path = find_document(services.settings.campaigns_dir, c.slug, name, language, language)
                if path is None:
                    warnings.append(
                        f"{loaded.path}: no {name} page in '{language}' "
                        f"(campaigns/{c.slug}/pages/{name}.{language}.md or campaigns/_shared/pages/)"
                    )
    payment_problems = unpaid_campaigns(snapshot.campaigns.values())
    for problem in payment_problems:
        click.secho(f"error: {problem}", fg="red", err=True)
    for warning in warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    errors = len(snapshot.errors) + len(payment_problems)
    click.echo(f"{len(snapshot.campaigns)} campaign(s) valid, {errors} error(s), {len(warnings)} warning(s)")
    if snapshot.errors or theme_problems or payment_problems:
        sys.exit(1)


@campaigns_cli.command("list")
@with_appcontext
def list_campaigns() -> None:
    """Show every campaign served: slug, status now (opens and closes read against the clock), languages and
    addresses."""
    rows = [("SLUG", "STATUS", "LANGUAGES", "SERVED AT")]
    now = utcnow()  # the status follows the clock (core/campaigns/schedule.py)
    for slug, loaded in site().registry.snapshot.campaigns.items():
        c = loaded.campaign
        languages = ",".join(f"{code}*" if code == c.default_language else code for code in c.languages)
        rows.append((slug, status_for_staff(c, now), languages, " ".join([*c.hosts, *c.paths])))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


@campaigns_cli.command("new")
@click.argument("slug")
@click.option("--host", "hosts", multiple=True, help="a domain the campaign is served at (repeatable)")
@with_appcontext
def new(slug: str, hosts: tuple[str, ...]) -> None:
    """Write campaigns/SLUG.yaml: a valid, commented starting point to fill in."""
    services = site()
    target = services.settings.campaigns_dir / f"{slug}.yaml"
    if target.exists():
        raise click.ClickException(f"{target} already exists; edit it, or choose another slug")
    text = STARTER.read_text(encoding="utf-8").replace("__SLUG__", slug)
    host_lines = "\n".join(f"  - {host}" for host in (hosts or (f"{slug}.example.org",)))
    text = text.replace("  - __HOST__", host_lines)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    try:
        load_campaign_file(target, services.plugins.settings_schemas)
    except CampaignConfigError as exc:
        target.unlink()
        raise click.ClickException(f"the slug or host is not valid, nothing written:\n{exc}") from None
    click.echo(f"wrote {target}; fill it in, then run: flask campaigns check")


def init_app(app: Flask) -> None:
    """Add ``flask campaigns`` to the app's command line."""
    app.cli.add_command(campaigns_cli)
