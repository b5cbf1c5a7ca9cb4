"""``flask mandate verify FILE...``: check sealed mandate PDFs (:mod:`core.signup.mandate_verify`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from core.data.db import db_session
from core.signup.mandate_verify import verify_mandate
from core.site import site

trust_option = click.option(
    "--trust",
    "trusted",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CA certificate (PEM) to trust for mandate seals besides the seal's own chain; may be given more than once.",
)


def trust_roots(trusted: tuple[Path, ...]) -> list[Path]:
    """The CA certificates a mandate's seal may chain to: those given with --trust, and the seal's own chain."""
    return [*trusted, *site().settings.resolved_seal_identity().chain]


@click.group("mandate")
def mandate_cli() -> None:
    """Signed mandates."""


@mandate_cli.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_option
@click.option("--no-database", is_flag=True, help="Check the file alone, not against the database.")
@with_appcontext
def verify_command(files: tuple[Path, ...], trusted: tuple[Path, ...], no_database: bool) -> None:
    """Check each FILE's seal, timestamp and certificate, that nothing changed after sealing, and that the evidence
    it carries equals what the database recorded. Exits 1 when any check of any file fails."""
    roots = trust_roots(trusted)
    failed = 0
    for path in files:
        check = verify_mandate(path.read_bytes(), roots, None if no_database else db_session())
        click.echo(f"{path}: {'ok' if check.ok else 'FAILED'}")
        for line in check.passed:
            click.echo(f"  ok      {line}")
        for line in check.failed:
            click.echo(f"  FAILED  {line}")
        failed += not check.ok
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) failed", err=True)
        sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(mandate_cli)
