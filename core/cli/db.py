"""``flask db ...``: Alembic migrations (:mod:`core.data.migrations`), run in-process on the app's database."""

from __future__ import annotations

import click
from alembic import command
from flask import Flask, current_app
from flask.cli import with_appcontext

from core.data.migrations import alembic_config, downgrade, upgrade


def _url() -> str:
    return current_app.extensions["claimsite.db"].url


@click.group("db")
def db_cli() -> None:
    """Database migrations."""


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    upgrade(_url(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
@with_appcontext
def downgrade_command(revision: str) -> None:
    """Migrate the database down to REVISION ('base' empties it)."""
    downgrade(_url(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def revision_command(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(_url()), message=message, autogenerate=True)


def init_app(app: Flask) -> None:
    """Add ``flask db`` to the app's command line."""
    app.cli.add_command(db_cli)
