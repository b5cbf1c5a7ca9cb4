"""The `flask` commands, one module per command group, each added by its module's ``init_app``.

``flask campaigns`` (:mod:`core.cli.campaigns`) is the exception: it needs no app, so Flask finds it through the
``flask.commands`` entry point in pyproject.toml, and it runs where the app could not start (CI, with no secrets).
"""

from __future__ import annotations

from flask import Flask

from core.cli import breach, db, deploy, export, fees, jobs, keys, mandate, requests, retention, staff, vault
from core.plugins import PluginHost


def init_app(app: Flask, plugins: PluginHost) -> None:
    """Add every command group of core to the app's ``flask`` command line, then the plugins' commands
    (:func:`core.hookspecs.claimsite_register_commands`)."""
    for group in (db, jobs, retention, keys, export, fees, staff, mandate, breach, requests, vault, deploy):
        group.init_app(app)
    plugins.pm.hook.claimsite_register_commands(cli=app.cli)
