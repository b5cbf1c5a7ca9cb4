"""``flask campaigns lock``: record the SHA-256 of every agreement text not locked yet (:mod:`core.campaigns.locks`)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from core.campaigns.locks import LOCK_FILE, lock_texts
from core.cli.campaigns import campaigns_cli
from core.site import site


@campaigns_cli.command("lock")
@with_appcontext
def lock() -> None:
    """Add each agreement text not listed yet to its folder's SHA256SUMS (never changes a listed one). Run it when
    a new version is ready to publish, and commit the lock files with the texts."""
    campaigns_dir = site().settings.campaigns_dir
    folders = sorted(p for p in campaigns_dir.glob("*/agreements") if p.is_dir())
    added = 0
    for folder in folders:
        for name in lock_texts(folder):
            click.echo(f"locked {folder.relative_to(campaigns_dir)}/{name}")
            added += 1
    if added:
        click.echo(f"{added} text(s) locked: commit the {LOCK_FILE} files with the texts")
    else:
        click.echo(f"every agreement text is locked already ({LOCK_FILE} in each agreements folder)")


def init_app(app: Flask) -> None:
    """Nothing to add: the command joins ``flask campaigns`` when this module is imported."""
