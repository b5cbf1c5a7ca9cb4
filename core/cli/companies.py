"""``flask companies ...``: list, check and import the company catalogue of the data-request campaigns
(:mod:`core.campaigns.companies`).

Like ``flask campaigns`` (:mod:`core.cli.campaigns`), these read files and nothing else: no app, database or
secrets, so CI can check the catalogue on a fresh clone. Flask finds the group through the ``flask.commands`` entry
point in pyproject.toml. The folder is ``CLAIMSITE_CAMPAIGNS_DIR`` (the catalogue is in its ``_shared/``).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.campaigns.companies import company_warnings, missing_facts, read_companies
from core.campaigns.company_import import import_records
from core.settings import FolderSettings


@click.group("companies")
def companies_cli() -> None:
    """List, check and import the companies data requests go to (no app, database or secrets needed)."""


@companies_cli.command("list")
def list_companies() -> None:
    """Show every company that loads: slug, legal name, country, how a request is sent, and its warnings."""
    catalogue, errors = read_companies(FolderSettings().campaigns_dir)
    rows = [("SLUG", "NAME", "COUNTRY", "CHANNEL", "WARNINGS")]
    for slug, company in sorted(catalogue.companies.items()):
        rows.append(
            (slug, company.name, company.country or "-", company.channel, str(len(missing_facts(company, slug))))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    broken = {problem.file for problem in errors}
    if broken:
        click.echo(f"{len(broken)} file(s) with errors left out; see: flask companies check", err=True)


@companies_cli.command("check")
@click.option("--strict", is_flag=True, help="fail on warnings too (a company that lacks a fact a request needs)")
def check(strict: bool) -> None:
    """Validate every company file and the authorities file; exit 1 on any error (and, with --strict, on any
    warning). Warnings name the facts a company lacks."""
    catalogue, errors = read_companies(FolderSettings().campaigns_dir)
    warnings = company_warnings(catalogue)
    for problem in errors:
        click.secho(f"error: {problem}", fg="red", err=True)
    for problem in warnings:
        click.secho(f"warning: {problem}", fg="yellow", err=True)
    rule = " (--strict: warnings fail)" if strict else ""
    click.echo(
        f"{len(catalogue.companies)} company file(s) valid, {len(catalogue.authorities)} authorities, "
        f"{len(errors)} error(s), {len(warnings)} warning(s){rule}"
    )
    if errors or (strict and warnings):
        raise SystemExit(1)


@companies_cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--update",
    is_flag=True,
    help="replace an existing company file's datenanfragen.de fields; its own fields (country, "
    "supervisory-authority, identifiers, trade-names) are kept",
)
def import_(files: tuple[Path, ...], update: bool) -> None:
    """Write a company file for each datenanfragen.de record in FILES (a record, or a JSON list of them: their
    database dump). Refuses to overwrite a company file unless --update; a record that does not validate is
    reported and skipped, the others are written, and the command then exits with 1."""
    counts = {"written": 0, "updated": 0, "refused": 0, "invalid": 0}
    for outcome in import_records(files, FolderSettings().campaigns_dir, update=update):
        counts[outcome.outcome] += 1
        if outcome.failed:
            for problem in outcome.problems:
                click.secho(f"error: {problem}", fg="red", err=True)
            continue
        click.echo(f"{outcome.outcome} {outcome.path}")
        for problem in outcome.warnings:
            click.secho(f"warning: {problem}", fg="yellow", err=True)
    click.echo(
        f"{counts['written']} written, {counts['updated']} updated, {counts['refused']} refused (exist; --update "
        f"replaces them), {counts['invalid']} not valid"
    )
    if counts["refused"] or counts["invalid"]:
        raise SystemExit(1)
