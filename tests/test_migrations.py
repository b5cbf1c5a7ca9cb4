"""Migrations run up and down on an empty database, and the models match them."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.data.db import Base
from core.data.migrations import downgrade, upgrade

TABLES = {
    "run_leases",
    "signups",
    "signup_events",
    "accepted_agreements",
    "personal_records",
    "contacts",
    "jobs",
    "payments",
    "provider_events",
    "login_links",
    "staff_members",
    "staff_sessions",
    "audit_entries",
    "staff_exports",
    "campaign_addresses",
    "signed_texts",
    "staff_campaigns",
    "phone_verifications",
    "sms_limit_trips",
    "request_choices",
    "identity_proofs",
    "company_requests",
    "request_members",
    "request_events",
    "vault_keys",
    "vault_files",
    "vault_removal_notices",
    "vault_uploads",
}


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


def test_flask_db_upgrade_command(make_app, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # On a new host the app (and its start-up checks of the database) is made before the tables exist: what it
    # cannot check there is no failure, and the log has no warning that reads like one.
    with caplog.at_level(logging.INFO):
        app = make_app(database_url=database_url)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert "the database has no tables yet (flask db upgrade)" in caplog.text
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert table_names(database_url) == TABLES
    app.extensions["claimsite.db"].engine.dispose()


def test_personal_data_kept_in_the_clear_before_0004_is_sealed_by_it(make_app, database_url: str) -> None:
    """Rows written by revision 0003 (answers, signature and mandate in the clear) are sealed by the upgrade, with
    the keys of the app that runs it; a sign-up still under way keeps a working copy, a confirmed one does not."""
    import json

    from core.data import personal_data
    from core.data.db import db_session
    from core.data.models import PersonalRecord, Signup
    from core.signup.mandate_copy import open_copy
    from tests.conftest import opened_personal_data

    upgrade(database_url, "0003")
    engine = sqlalchemy.create_engine(database_url)
    answers = {"name": "Anna de Vries", "email": "anna@example.org"}
    with engine.begin() as connection:
        for number, confirmed in ((1, None), (2, "2026-11-30 12:00:00")):
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO signups (id, token, campaign, email_hash, language, stage, created_at, code_attempts, "
                    "codes_sent, payment_required, confirmed_at) VALUES (:id, :token, 'tiktokclaim', :hash, 'nl', "
                    "'signed', '2026-11-30 11:00:00', 0, 1, false, :confirmed)"
                ),
                {"id": number, "token": f"token-{number}", "hash": f"{number:064d}", "confirmed": confirmed},
            )
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO personal_records (signup_id, data, signature_png, mandate_pdf) "
                    "VALUES (:id, :data, :png, :pdf)"
                ),
                {"id": number, "data": json.dumps(answers).encode(), "png": b"\x89PNG signature", "pdf": b"%PDF-1"},
            )
    engine.dispose()
    app = make_app(database_url=database_url)
    with app.app_context():
        upgrade(database_url)
        db = db_session()
        running, confirmed = db.get(Signup, 1), db.get(Signup, 2)
        for signup in (running, confirmed):
            opened = opened_personal_data(app, signup)
            assert (opened.answers, opened.signature_png, opened.mandate_pdf) == (
                answers,
                b"\x89PNG signature",
                b"%PDF-1",
            )
        assert personal_data.load(db, running) == answers and personal_data.load(db, confirmed) == {}
        # The participant's copy, in 0004's form (a key derived from the address), is dropped by 0020a where the
        # confirmation went out, and made again for a one-off key where the working copy still holds the address.
        assert personal_data.participant_copy(db, confirmed) is None
        assert personal_data.mandate_copy_key(db, confirmed) is None
        copy, key = personal_data.participant_copy(db, running), personal_data.mandate_copy_key(db, running)
        assert copy is not None and key is not None and open_copy(copy, key) == b"%PDF-1"
        raw = b"".join(
            bytes(value)
            for record in db.scalars(sqlalchemy.select(PersonalRecord))
            for value in (record.sealed_answers, record.sealed_signature, record.sealed_mandate)
            if value is not None
        )
        assert b"Anna" not in raw and b"signature" not in raw
    app.extensions["claimsite.db"].engine.dispose()


def test_staff_accounts_made_before_0008_stay_admins_and_new_rows_get_no_role_by_default(database_url: str) -> None:
    """Accounts from before roles could do everything: the upgrade makes them admins. The columns keep no default,
    so a row written without a role is refused rather than made an admin."""
    upgrade(database_url, "0007")
    engine = sqlalchemy.create_engine(database_url)
    columns = (
        "email, name, password_hash, totp_secret, failed_logins, created_at",
        "'mira@somi.nl', 'Mira', 'x', 'y', 0, '2026-12-01 10:00:00'",
    )
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"INSERT INTO staff_members ({columns[0]}) VALUES ({columns[1]})"))
        upgrade(database_url)
        with engine.begin() as connection:
            row = connection.execute(sqlalchemy.text("SELECT role, rights, all_campaigns FROM staff_members")).one()
            assert (row.role, row.rights, bool(row.all_campaigns)) == ("admin", "support", True)
        with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sqlalchemy.text(
                    f"INSERT INTO staff_members ({columns[0]}) VALUES ({columns[1].replace('mira', 'kim')})"
                )
            )
        downgrade(database_url, "0007")
        assert "staff_campaigns" not in table_names(database_url)
    finally:
        engine.dispose()
