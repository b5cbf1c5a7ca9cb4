"""Migrations run up and down on an empty database, and the models match them."""

from __future__ import annotations

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.db import Base
from core.migrations import downgrade, upgrade

TABLES = {"signups", "signup_events", "accepted_agreements", "personal_records", "jobs", "payments", "provider_events",
          "login_links"}


def table_names(url: str) -> set[str]:
    engine = sqlalchemy.create_engine(url)
    try:
        return set(sqlalchemy.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_up_and_down_on_an_empty_database(database_url: str) -> None:
    upgrade(database_url)
    assert table_names(database_url) == TABLES
    downgrade(database_url, "base")
    assert table_names(database_url) == set()
    upgrade(database_url)
    assert table_names(database_url) == TABLES


def test_models_match_the_migrations(database_url: str) -> None:
    upgrade(database_url)
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "run `flask db revision -m ...` and review the new migration"


def test_flask_db_upgrade_command(make_app, database_url: str) -> None:
    app = make_app(database_url=database_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert table_names(database_url) == TABLES
    app.extensions["claimsite.db"].engine.dispose()
