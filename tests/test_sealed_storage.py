"""Personal data at rest: the database itself, read raw, holds none of what a participant typed; the staff export,
given the private key file, shows all of it; key rotation keeps every record readable with the new key alone."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
import sqlalchemy
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import MetaData, select

from core.data.migrations import upgrade
from core.data.models import PersonalRecord
from core.sealing import generate
from tests.test_signup import VALID, deliver, join_fully, post_form, signups


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """Every test here that takes a database migrates it first thing: it gets a copy of the migrated template (its
    own upgrade() then finds nothing to do) rather than an empty database."""
    return migrated_database_url


# What Anna typed, in every form it could be stored in.
TYPED = (
    "Anna de Vries",
    "anna@example.org",
    "+31612345678",
    "06 12345678",
    "0612345678",
    "Kerkstraat",
    "1234 AB",
    "1990-05-01",
)


def raw_bytes(app: Flask) -> bytes:
    """The database as bytes on disk: the SQLite file and its journal; for PostgreSQL, after a checkpoint, the
    files of every table, index and TOAST table of this database (dead rows included), then a dump of every row."""
    engine = app.extensions["claimsite.db"].engine
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database)
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("CHECKPOINT"))
        data_directory = Path(connection.scalar(sqlalchemy.text("SHOW data_directory")))
        files = connection.scalars(
            sqlalchemy.text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'i', 't') AND n.nspname IN ('public', 'pg_toast') "
                "AND pg_relation_filepath(c.oid) IS NOT NULL"
            )
        ).all()
        metadata = MetaData()
        metadata.reflect(connection)
        dump = "\n".join(
            repr(tuple(row)) for table in metadata.sorted_tables for row in connection.execute(table.select())
        )
    found = b""
    readable = [data_directory / name for name in files if os.access(data_directory / name, os.R_OK)]
    for path in readable:
        for segment in sorted(path.parent.glob(path.name + "*")):
            found += segment.read_bytes()
    assert not readable or b"tiktokclaim" in found  # the files read are this database's tables
    return found + dump.encode()


def assert_holds_nothing_typed(raw: bytes) -> None:
    assert b"tiktokclaim" in raw  # what is not personal is there to be seen
    for value in TYPED:
        assert value.encode() not in raw, value
        assert value.encode("utf-16-le") not in raw, value


def export(app: Flask, *private_keys: Path) -> tuple[int, str, list[dict[str, str]]]:
    args = ["export", "participants", "tiktokclaim"]
    for key in private_keys:
        args += ["--private-key", str(key)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stderr, list(csv.DictReader(io.StringIO(result.stdout)))


def development_private_key(app: Flask) -> Path:
    return app.extensions["claimsite"].settings.development_key_pair()[0]


def test_the_database_read_raw_holds_no_personal_data_and_the_export_opens_it(db_app: Flask) -> None:
    client = db_app.test_client()
    assert post_form(client, "en").status_code == 302
    assert_holds_nothing_typed(raw_bytes(db_app))  # the code mail is still queued: its payload is locked too
    deliver(db_app)
    join_fully(db_app, db_app.test_client(), "en", email="bob@example.org", name="Bob Jansen")
    mails = deliver(db_app)
    assert any(m["To"] == "bob@example.org" for m in mails)  # the confirmation went out: composed, then released
    raw = raw_bytes(db_app)
    assert b"bob@example.org" not in raw and b"Bob Jansen" not in raw
    assert_holds_nothing_typed(raw)
    with db_app.app_context():
        from core.data.db import db_session

        records = {r.signup_id: r for r in db_session().scalars(select(PersonalRecord))}
    anna, bob = signups(db_app)
    assert records[bob.id].working_answers is None and records[bob.id].working_signature is None  # released
    assert records[anna.id].working_answers is not None  # still under way

    code, message, rows = export(db_app, development_private_key(db_app))
    assert code == 0, message
    assert "1 participant(s) of tiktokclaim exported" in message
    [row] = rows  # participants only: Anna never signed
    assert (row["name"], row["email"], row["phone"]) == ("Bob Jansen", "bob@example.org", "+31612345678")
    assert (row["street"], row["postcode"], row["city"], row["birth_date"]) == (
        VALID["street"],
        VALID["postcode"],
        VALID["city"],
        VALID["birth_date"],
    )
    assert row["reference"] == bob.token[:12] and row["mandate_sha256"] == bob.mandate_sha256


def test_the_export_needs_the_right_private_key(runner: FlaskCliRunner, db_app: Flask, tmp_path: Path) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    wrong, _public, _key = generate(tmp_path / "wrong")
    code, message, _rows = export(db_app, wrong)
    assert code != 0 and "which was not given" in message and "give every private key" in message
    result = runner.invoke(args=["export", "participants", "tiktokclaim"])
    assert result.exit_code != 0 and "--private-key" in result.output  # never without one


def test_key_rotation_seals_everything_again_and_old_signups_stay_readable(
    make_app, database_url: str, tmp_path: Path
) -> None:
    upgrade(database_url)
    old_app = make_app(database_url=database_url)
    join_fully(old_app, old_app.test_client(), "en")
    deliver(old_app)
    old_private = development_private_key(old_app)
    new_private, new_public, new_key = generate(tmp_path / "new-keys")
    # The web server gets the new public key first: from then on, sign-ups are sealed to it.
    new_app = make_app(database_url=database_url, sealing_public_key=new_public.read_text())
    join_fully(new_app, new_app.test_client(), "en", email="bob@example.org", name="Bob Jansen")
    deliver(new_app)
    code, message, _rows = export(new_app, new_private)
    assert code != 0 and "which was not given" in message  # Anna's record is still sealed to the old key

    result = new_app.test_cli_runner().invoke(
        args=[
            "keys",
            "rotate",
            "--private-key",
            str(old_private),
            "--private-key",
            str(new_private),
            "--to",
            str(new_public),
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"1 record(s) sealed again to key {new_key.id.hex()}; 1 were sealed to it already" in result.stdout
    code, message, rows = export(new_app, new_private)  # the old key can be retired now
    assert code == 0, message
    assert sorted(row["name"] for row in rows) == ["Anna de Vries", "Bob Jansen"]
    code, message, _rows = export(new_app, old_private)
    assert code != 0  # the old key opens nothing any more
    again = new_app.test_cli_runner().invoke(
        args=["keys", "rotate", "--private-key", str(new_private), "--to", str(new_public)]
    )
    assert "0 record(s) sealed again" in again.stdout and "2 were sealed to it already" in again.stdout
    for app in (old_app, new_app):
        app.extensions["claimsite.db"].engine.dispose()


def test_keys_show_names_the_development_pair(dev_app: Flask) -> None:
    result = dev_app.test_cli_runner().invoke(args=["keys", "show"])
    key = dev_app.extensions["claimsite"].sealing_key
    assert result.exit_code == 0 and f"sealing to key id {key.id.hex()}" in result.output
    assert str(development_private_key(dev_app)) in result.output
