"""Shared fixtures: apps over the shipped campaigns or over a temporary campaigns folder, clients, CLI runner."""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import yaml
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from core import create_app
from core.certificates import development_identity
from core.cli.campaigns import campaigns_cli

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CAMPAIGNS = REPO / "campaigns"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
HASH_KEY = "test-hash-key-that-is-also-long-enough-987654"
CONTACT_KEY = "test-contact-key-long-enough-too-13579246801"
BREACH_KEY = "test-breach-key-long-enough-as-well-24680135"
# A public key for apps in production mode (whose private key nobody needs in those tests).
PRODUCTION_PUBLIC_KEY = "pOCSkrZRwni5dyxWn1+puxPZBrRqtoyd+dwrRAn4ogk="
# Production refuses rate-limit counts in memory; its apps in tests get this Redis URL (nothing connects to it until
# a limited request is made: tests that make one use tests/test_ratelimit_storage.py's redis_url fixture instead).
PRODUCTION_RATELIMIT_URL = "redis://127.0.0.1:6379/13"

# A small valid campaign; tests copy and change it.
MINIMAL: dict[str, Any] = {
    "slug": "democlaim",
    "name": {"nl": "Democlaim", "en": "Demo claim"},
    "hosts": ["democlaim.example", "www.democlaim.example"],
    "status": "open",
    "opens": "2026-01-05",
    "organisation": {"name": "SOMI", "website": "https://somi.nl", "email": "campaign@somi.nl"},
    "target_company": "Demo Corp",
    "languages": ["nl", "en"],
    "default_language": "nl",
    "hero": {
        "title": {"nl": "Heb je Demo gebruikt?", "en": "Have you used Demo?"},
        "claim_amount": 500,
        "bullets": [{"nl": "Samen sterker.", "en": "Stronger together."}],
        "call_to_action": {"nl": "Ja, ik doe mee.", "en": "Yes, count me in."},
    },
    "plugins": {
        "counter": {"baseline": 1234, "since": "2020-04-10"},
        "faq": {
            "title": {"nl": "Veelgestelde vragen", "en": "Frequently asked questions"},
            "items": [
                {
                    "question": {"nl": "Wie is Demo?", "en": "Who is Demo?"},
                    "answer": {"nl": "Een **bedrijf**.", "en": "A **company**."},
                },
            ],
        },
    },
}


def campaign_data(**changes: Any) -> dict[str, Any]:
    """A copy of the minimal campaign with top-level ``changes`` (None removes a key)."""
    data = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


class CampaignFolder:
    """A temporary campaigns folder that tests write files into."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def write(self, slug: str, data: dict[str, Any] | None = None, text: str | None = None) -> Path:
        target = self.path / f"{slug}.yaml"
        if text is None:
            text = yaml.safe_dump(
                data if data is not None else campaign_data(slug=slug), allow_unicode=True, sort_keys=False
            )
        target.write_text(text, encoding="utf-8")
        return target

    def copy_shipped(self) -> None:
        for item in SHIPPED_CAMPAIGNS.iterdir():
            if item.is_dir():
                shutil.copytree(item, self.path / item.name, dirs_exist_ok=True)
            else:
                shutil.copy(item, self.path / item.name)


def run_campaigns_command(*args: str, campaigns_dir: Path, themes_dir: Path | None = None) -> Result:
    """``flask campaigns ARGS`` in this process. The group reads its folders from the environment, never from an app
    (core/cli/campaigns.py), so they are given as CLAIMSITE_CAMPAIGNS_DIR and CLAIMSITE_THEMES_DIR."""
    env = {"CLAIMSITE_CAMPAIGNS_DIR": str(campaigns_dir), "CLAIMSITE_THEMES_DIR": themes_dir and str(themes_dir)}
    return CliRunner().invoke(campaigns_cli, list(args), env=env)


@pytest.fixture
def campaign_folder(tmp_path: Path) -> CampaignFolder:
    return CampaignFolder(tmp_path / "campaigns")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database migrated once per run; each app gets a copy (much faster than migrating each time)."""
    from core.data.migrations import upgrade

    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


class ProductionSeal:
    """What production needs to seal mandates (it refuses to start without): a seal certificate of a CA made for
    the test run, and an RFC 3161 time-stamping authority on loopback (certomancer) that really answers."""

    def __init__(self, folder: Path) -> None:
        from tests.timestamp_authority import TimestampAuthority

        self.identity = development_identity(folder / "seal", common_name="Test Foundation seal")
        self.authority = TimestampAuthority(folder / "tsa").start()

    @property
    def settings(self) -> dict[str, str]:
        """As keyword arguments of create_app / make_app."""
        assert self.identity.key is not None
        return {
            "mandate_seal_key": str(self.identity.key),
            "mandate_seal_certificate": str(self.identity.certificate),
            "mandate_seal_chain": ":".join(str(path) for path in self.identity.chain),
            "mandate_timestamp_url": self.authority.url,
        }

    @property
    def environment(self) -> dict[str, str]:
        """As CLAIMSITE_* variables, for servers and commands run in a process of their own."""
        return {f"CLAIMSITE_{name.upper()}": value for name, value in self.settings.items()}


@pytest.fixture(scope="session")
def production_seal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionSeal]:
    seal = ProductionSeal(tmp_path_factory.mktemp("production-seal"))
    yield seal
    seal.authority.stop()


@pytest.fixture
def make_app(tmp_path: Path, migrated_sqlite: Path, request: pytest.FixtureRequest) -> Callable[..., Flask]:
    """Create an app; keyword arguments override settings (e.g. env="development", campaigns_dir=...).
    Without a database_url it gets a migrated SQLite database of its own."""

    def factory(**overrides: Any) -> Flask:
        if "database_url" not in overrides:
            database = tmp_path / f"app-{secrets.token_hex(4)}.sqlite3"
            shutil.copy(migrated_sqlite, database)
            overrides["database_url"] = f"sqlite:///{database}"
        config: dict[str, Any] = {
            "env": "test",
            "secret_key": SECRET,
            "hash_key": HASH_KEY,
            "contact_key": CONTACT_KEY,
            "breach_key": BREACH_KEY,
            "instance_dir": tmp_path / "instance",
            "public_scheme": "https",
            "publish_poll_seconds": 0,  # no publishing thread per test app (tests that need one set it)
        }
        if overrides.get("env") == "production":
            config["ratelimit_storage_url"] = PRODUCTION_RATELIMIT_URL
            config.update(request.getfixturevalue("production_seal").settings)
        config.update(overrides)
        app = create_app(config)
        app.config["TESTING"] = True
        return app

    return factory


@pytest.fixture(scope="session")
def shipped_app(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Flask:
    """One app over the shipped campaigns, shared by read-only tests."""
    instance = tmp_path_factory.mktemp("instance")
    shutil.copy(migrated_sqlite, instance / "claimsite.sqlite3")
    app = create_app(
        {
            "env": "test",
            "secret_key": SECRET,
            "hash_key": HASH_KEY,
            "contact_key": CONTACT_KEY,
            "breach_key": BREACH_KEY,
            "instance_dir": instance,
            "database_url": f"sqlite:///{instance / 'claimsite.sqlite3'}",
        }
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(shipped_app: Flask) -> FlaskClient:
    return shipped_app.test_client()


@pytest.fixture
def dev_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(env="development")


# -- databases ----------------------------------------------------------------------------------------------
# A database test runs on SQLite and on PostgreSQL unless it is marked ``@pytest.mark.databases("sqlite")`` (for
# pages, forms and validation, where the database does not matter; a module marks all its tests with ``pytestmark``).
# PostgreSQL is used when CLAIMSITE_TEST_POSTGRES_URL points at a server where we may create databases (make test
# sets it when one answers on 127.0.0.1:5432); each test creates its own database and drops it afterwards. In CI a
# missing PostgreSQL is a failure.
#
# Migrating costs more than most tests: ``migrated_database_url`` (and ``db_app`` and ``stripe_app`` on it) copies
# a database migrated once per run instead of running Alembic per test: a file copy on SQLite, CREATE DATABASE ...
# TEMPLATE on PostgreSQL. ``database_url`` stays an empty database, for the tests of the migrations themselves.
POSTGRES_ADMIN_URL = os.environ.get("CLAIMSITE_TEST_POSTGRES_URL", "")
DATABASES = ("sqlite", "postgresql")
DATABASES_USED: set[str] = set()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each database test once per database its ``databases`` mark names (default: every one)."""
    if "database_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("databases")
    kinds = marker.args if marker else DATABASES
    unknown = set(kinds) - set(DATABASES)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown databases {sorted(unknown)}")
    metafunc.parametrize("database_kind", kinds, indirect=True)


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql`` (parametrised by pytest_generate_tests); skips PostgreSQL when no server is
    configured, outside CI."""
    kind: str = request.param
    if kind == "postgresql" and not POSTGRES_ADMIN_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: CLAIMSITE_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured (CLAIMSITE_TEST_POSTGRES_URL)")
    DATABASES_USED.add(kind)
    return kind


def _postgres_admin() -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _postgres_url(name: str) -> str:
    return sqlalchemy.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database for one test, empty or a copy of ``template``; dropped afterwards."""
    name = f"claimsite_test_{secrets.token_hex(6)}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    admin = _postgres_admin()
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"{copy_of}'))
        yield _postgres_url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated once per run (per process: xdist workers make their own), which
    tests copy. Its name is unique per run, so two runs on one server never share one; nobody may stay connected
    to it (PostgreSQL refuses to copy a database in use), so it refuses connections once migrated."""
    from core.data.migrations import upgrade

    name = f"claimsite_template_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _postgres_admin()
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        upgrade(_postgres_url(name))  # its engine is disposed of when the migration ends
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(database_kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL (for tests that migrate it themselves)."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def migrated_database_url(
    database_kind: str, request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path
) -> Iterator[str]:
    """A database migrated to the newest revision, once on SQLite and once on PostgreSQL: a copy of the run's
    migrated template."""
    if database_kind == "sqlite":
        database = tmp_path / "test.sqlite3"
        shutil.copy(migrated_sqlite, database)
        yield f"sqlite:///{database}"
        return
    with postgres_database(template=request.getfixturevalue("migrated_postgres_template")) as url:
        yield url


@pytest.fixture
def db_app(make_app: Callable[..., Flask], migrated_database_url: str) -> Iterator[Flask]:
    """An app over the shipped campaigns with a migrated database (SQLite and PostgreSQL)."""
    app = make_app(database_url=migrated_database_url)
    yield app
    app.extensions["claimsite.db"].engine.dispose()


@pytest.fixture
def runner(db_app: Flask) -> FlaskCliRunner:
    """The ``flask`` command line of :func:`db_app` (the same app a test gets when it also asks for ``db_app``)."""
    return db_app.test_cli_runner()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if DATABASES_USED:
        terminalreporter.section("databases")
        terminalreporter.write_line("database tests ran on: " + ", ".join(sorted(DATABASES_USED)))


# -- mail ---------------------------------------------------------------------------------------------------
@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free loopback port below 32768; ``.messages`` holds what it accepted."""
    from tests.smtp_server import SMTPServer

    with SMTPServer() as server:
        yield server


# -- Stripe -----------------------------------------------------------------------------------------------------
STRIPE_KEY = "sk_test_claimsite_0123456789"
STRIPE_WEBHOOK_SECRET = "whsec_test_claimsite_0123456789"


@pytest.fixture
def stripe_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Stripe-compatible server on loopback (tests/stripe_server.py), with the environment set so that apps
    created afterwards take payments through it with the real stripe library."""
    from tests.stripe_server import StripeServer

    with StripeServer(api_key=STRIPE_KEY) as server:
        monkeypatch.setenv("CLAIMSITE_STRIPE_SECRET_KEY", STRIPE_KEY)
        monkeypatch.setenv("CLAIMSITE_STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET)
        monkeypatch.setenv("CLAIMSITE_STRIPE_API_BASE", server.url)
        yield server


@pytest.fixture
def stripe_app(make_app: Callable[..., Flask], migrated_database_url: str, stripe_server: Any) -> Iterator[Flask]:
    """An app on each database (migrated) whose paying campaigns pay through the loopback Stripe server."""
    app = make_app(database_url=migrated_database_url)
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def process_settings(app: Flask) -> dict[str, str]:
    """The CLAIMSITE_* variables that make a process of its own (a worker, a command) run over ``app``'s settings,
    database and instance folder."""
    settings = app.extensions["claimsite"].settings
    return {
        "CLAIMSITE_ENV": "test",
        "CLAIMSITE_SECRET_KEY": SECRET,
        "CLAIMSITE_HASH_KEY": HASH_KEY,
        "CLAIMSITE_CONTACT_KEY": CONTACT_KEY,
        "CLAIMSITE_INSTANCE_DIR": str(settings.instance_dir),
        "CLAIMSITE_CAMPAIGNS_DIR": str(settings.campaigns_dir),
        "CLAIMSITE_MAIL_URL": settings.mail_url,
        "CLAIMSITE_DATABASE_URL": app.extensions["claimsite.db"].url,
    }


def opened_personal_data(app: Flask, signup: Any) -> Any:
    """``signup``'s sealed personal data opened as staff open it: with the private key file of the app's
    development key pair (in its instance folder). Call inside an app context."""
    from core.data import personal_data
    from core.data.db import db_session
    from core.data.models import PersonalRecord
    from core.sealing import OpeningKeys

    private_key = app.extensions["claimsite"].settings.development_key_pair()[0]
    record = db_session().get(PersonalRecord, signup.id)
    assert record is not None, "the sign-up has no personal data"
    return personal_data.open_record(record, OpeningKeys.from_files([private_key]))
