"""The database goes away under a visitor: a PostgreSQL restart, connections the server dropped, a database that is
down or an SQLite file that cannot be opened. A dropped connection is tried once more on a new one where that is
safe; when the database is really away the visitor gets a 503 in their language, and the join form comes back with
everything they typed. PostgreSQL runs in a private cluster of this module, so it can be stopped and restarted."""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy
from flask import Flask
from sqlalchemy import func, select

from core.data.db import db_session
from core.data.migrations import upgrade
from core.data.models import Job, Signup, SignupEvent, Stage
from tests.private_postgres import PrivateCluster, available
from tests.test_signup import TIKTOK, VALID, code_of, deliver, post_code, post_form

pytestmark = pytest.mark.skipif(not available(), reason="needs the PostgreSQL 15 server binaries")


TEMPLATE = "migrated_template"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    """The module's private cluster, with a database migrated once (``TEMPLATE``) that each test's database copies."""
    server = PrivateCluster().start()
    engine = admin(server)
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{TEMPLATE}"'))
    engine.dispose()
    upgrade(server.url(TEMPLATE))
    yield server
    server.remove()


def admin(cluster: PrivateCluster) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_app(make_app: Callable[..., Flask], cluster: PrivateCluster) -> Iterator[Flask]:
    """An app over the shipped campaigns on a migrated database of the private cluster (a copy of its template)."""
    if not cluster.running():
        cluster.start()
    name = f"faults_{secrets.token_hex(4)}"
    engine = admin(cluster)
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    engine.dispose()
    app = make_app(database_url=cluster.url(name))
    yield app
    app.extensions["claimsite.db"].engine.dispose()
    if not cluster.running():
        cluster.start()
    engine = admin(cluster)  # a new one: the cluster may have restarted meanwhile
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def drop_connections(app: Flask) -> int:
    """End every server process of the app's database, as a restart or an idle timeout does: the app's pooled
    connections are dead afterwards without knowing it. Returns how many were ended."""
    url = app.extensions["claimsite.db"].engine.url
    engine = sqlalchemy.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            return len(
                connection.execute(
                    sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": url.database},
                ).all()
            )
    finally:
        engine.dispose()


def counts(app: Flask) -> tuple[int, int]:
    """(sign-ups, mail jobs) in the app's database."""
    with app.app_context():
        db = db_session()
        return (
            db.scalar(select(func.count()).select_from(Signup)) or 0,
            db.scalar(select(func.count()).select_from(Job).where(Job.kind == "mail")) or 0,
        )


def signup_state(app: Flask) -> tuple[Stage, list[str]]:
    with app.app_context():
        signup = db_session().scalars(select(Signup).order_by(Signup.id.desc())).first()
        assert signup is not None
        steps = (
            db_session()
            .scalars(select(SignupEvent.step).where(SignupEvent.signup_id == signup.id).order_by(SignupEvent.id))
            .all()
        )
        return signup.stage, list(steps)


# -- a dropped connection is tried once more -------------------------------------------------------------------
def test_sign_ups_go_on_right_after_postgresql_restarted(pg_app: Flask, cluster: PrivateCluster) -> None:
    first, second = pg_app.test_client(), pg_app.test_client()
    assert post_form(first, email="een@example.org").status_code == 302  # the pool now holds a connection
    cluster.restart()
    # The pooled connection is dead, and was used within the last seconds, so it is not pinged before use.
    response = post_form(second, email="twee@example.org")
    assert response.status_code == 302 and response.location.endswith("/join/verify")
    assert first.get("/join/verify", base_url=TIKTOK).status_code == 200
    assert counts(pg_app) == (2, 2)  # each sign-up once, each with its code mail


def test_a_read_on_a_dropped_connection_is_tried_once_more(pg_app: Flask) -> None:
    client = pg_app.test_client()
    assert post_form(client).status_code == 302
    [mail] = deliver(pg_app)
    assert client.get("/join/verify", base_url=TIKTOK).status_code == 200
    assert drop_connections(pg_app) >= 1
    response = post_code(client, code_of(mail))  # reads the sign-up first: on a dead connection
    assert response.status_code == 302 and response.location.endswith("/join/sign")
    assert drop_connections(pg_app) >= 1
    assert client.get("/join/sign", base_url=TIKTOK).status_code == 200
    assert signup_state(pg_app)[0] == Stage.VERIFIED


def test_a_form_sent_on_a_dropped_connection_is_saved_once(pg_app: Flask) -> None:
    warm = pg_app.test_client()
    assert post_form(warm, email="warm@example.org").status_code == 302
    assert drop_connections(pg_app) >= 1
    client = pg_app.test_client()
    response = post_form(client)
    assert response.status_code == 302 and response.location.endswith("/join/verify")
    assert counts(pg_app) == (2, 2)


# A trigger that ends its own server process while the transaction commits, the first time only: the app then
# cannot know whether the commit happened, so it must not replay the request (the second run would succeed).
KILL_AT_FIRST_COMMIT = """
CREATE SEQUENCE commits_seen;
CREATE FUNCTION end_my_connection() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('commits_seen') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER end_connection_at_commit AFTER INSERT ON signup_events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION end_my_connection();
"""


def test_a_commit_whose_outcome_is_unknown_is_not_replayed(pg_app: Flask) -> None:
    client = pg_app.test_client()
    assert post_form(client).status_code == 302
    [mail] = deliver(pg_app)
    with pg_app.extensions["claimsite.db"].engine.begin() as connection:
        connection.exec_driver_sql(KILL_AT_FIRST_COMMIT)
    response = post_code(client, code_of(mail))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Probeer het over een minuut opnieuw" in response.get_data(as_text=True)
    assert signup_state(pg_app) == (Stage.STARTED, ["form", "code-sent"])  # that commit did not happen
    response = post_code(client, code_of(mail))  # the visitor tries again
    assert response.status_code == 302 and response.location.endswith("/join/sign")


def test_an_answer_is_kept_when_the_server_ends_the_connection_before_the_request_ends(pg_app: Flask) -> None:
    # The request read through its session, so its transaction is open on a connection; then the server ends that
    # connection (a shutdown, or pg_terminate_backend) while the view finishes without the database. Closing the
    # session at the end of the request sends ROLLBACK on the dead connection: that must not turn the answer the
    # view made (a 302 after a form, a 503 that keeps what was typed) into the server's bare 500. Seen in
    # bench/faults.py while PostgreSQL stopped.
    @pg_app.get("/test-read-then-connection-ended")
    def read_then_connection_ended() -> str:
        db_session().execute(sqlalchemy.text("SELECT 1"))
        assert drop_connections(pg_app) >= 1
        return "the view's own answer"

    client = pg_app.test_client()
    response = client.get("/test-read-then-connection-ended", base_url=TIKTOK)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "the view's own answer")
    assert post_form(client, email="next@example.org").status_code == 302  # the pool gives a working connection
    assert counts(pg_app) == (1, 1)


# -- the database is really away ---------------------------------------------------------------------------------
@dataclass
class Outage:
    """An app whose database can be taken away and given back."""

    app: Flask
    away: Callable[[], None]
    back: Callable[[], None]


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Iterator[Outage]:
    if request.param == "postgresql":
        app = request.getfixturevalue("pg_app")
        cluster: PrivateCluster = request.getfixturevalue("cluster")
        yield Outage(app, cluster.stop, cluster.start)
        return
    app = make_app()
    engine = app.extensions["claimsite.db"].engine
    path = Path(engine.url.database)
    aside = path.with_name(path.name + ".aside")

    def away() -> None:  # the file cannot be opened any more (a missing volume, a broken mount)
        engine.dispose()
        path.rename(aside)
        path.mkdir()

    def back() -> None:
        shutil.rmtree(path)
        aside.rename(path)

    yield Outage(app, away, back)
    if aside.exists():
        back()
    engine.dispose()


TYPED = {
    **VALID,
    "name": "Anna de Vries-Ölçek",
    "email": "anna.ozcelik@example.org",
    "phone": "06 23456789",
    "street": "Lange Nieuwstraat 12",
    "postcode": "3512 PH",
    "city": "Utrecht",
    "birth_date": "1987-11-23",
}


@pytest.mark.parametrize(
    ("language", "notice"),
    [
        ("", "We konden je gegevens nu niet opslaan"),
        ("en", "We could not save your details just now"),
    ],
)
def test_the_join_form_comes_back_with_everything_typed_when_the_database_is_away(
    outage: Outage, language: str, notice: str
) -> None:
    client = outage.app.test_client()
    prefix = f"/{language}" if language else ""
    html = client.get(f"{prefix}/join", base_url=TIKTOK).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    outage.away()
    response = client.post(f"{prefix}/join", data={**TYPED, "csrf_token": token}, base_url=TIKTOK)
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:2000]
    assert int(response.headers["Retry-After"]) > 0
    assert notice in page and f'<html lang="{language or "nl"}">' in page
    assert page.index(notice) < page.index('<form method="post"')  # the message is on top of the form
    shown = {**TYPED, "phone": "+31623456789"}  # as the form normalised it when it checked the answers
    for name in ("name", "email", "phone", "street", "postcode", "city", "birth_date"):
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(shown[name])}"', page) or re.search(
            rf'value="{re.escape(shown[name])}"[^>]*name="{name}"', page
        ), name
    assert re.search(r'name="csrf_token"[^>]*value="[^"]+"', page)  # it can be sent again as it is
    outage.back()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    again = client.post(f"{prefix}/join", data={**TYPED, "csrf_token": token}, base_url=TIKTOK)
    assert again.status_code == 302 and again.location.endswith("/join/verify")


@pytest.mark.parametrize(("language", "title"), [("", "Even niet bereikbaar"), ("en", "Briefly unavailable")])
def test_other_pages_answer_503_in_the_visitors_language_when_the_database_is_away(
    outage: Outage, language: str, title: str
) -> None:
    client = outage.app.test_client()
    assert post_form(client, language).status_code == 302
    outage.away()
    prefix = f"/{language}" if language else ""
    response = client.get(f"{prefix}/join/verify", base_url=TIKTOK)  # looks up the sign-up this browser started
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:2000]
    assert int(response.headers["Retry-After"]) > 0
    assert title in page and f'<html lang="{language or "nl"}">' in page
    outage.back()
    assert client.get(f"{prefix}/join/verify", base_url=TIKTOK).status_code == 200


def test_the_staff_console_answers_503_when_the_database_is_away(make_app: Callable[..., Flask]) -> None:
    from tests.test_staff_console import ADMIN, csrf, logged_in_client, post

    app = make_app(admin_host="staff.example")
    engine = app.extensions["claimsite.db"].engine
    path = Path(engine.url.database)
    client = logged_in_client(app)
    anonymous = app.test_client()
    login_form = csrf(anonymous)
    engine.dispose()
    path.rename(path.with_name(path.name + ".aside"))
    path.mkdir()  # the file cannot be opened any more
    for response in (
        client.get("/", base_url=ADMIN),
        post(
            anonymous, "/login", {"csrf_token": login_form, "email": "mira@somi.nl", "password": "x", "code": "000000"}
        ),
    ):
        page = response.get_data(as_text=True)
        assert response.status_code == 503, page[:1000]
        assert int(response.headers["Retry-After"]) > 0 and response.headers["Cache-Control"] == "private, no-store"
        assert "The database is briefly unavailable" in page
