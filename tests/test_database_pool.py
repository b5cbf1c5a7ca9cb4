"""Pooled PostgreSQL connections: checked before use only after sitting idle, and replaced when the server closed
them meanwhile (a restart, an idle timeout), so the next visitor never gets an error page for it."""

from __future__ import annotations

import pytest
import sqlalchemy

from core.data import db
from tests.conftest import POSTGRES_ADMIN_URL


def backend_pid(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()


def terminate(pid: int) -> None:
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    if database_url.startswith("sqlite"):
        pytest.skip("a PostgreSQL pool matter (SQLite has no server to close connections)")
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


def test_an_idle_connection_closed_by_the_server_is_replaced(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    first = backend_pid(engine)
    terminate(first)
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 0.0)  # it has been idle "long enough"
    assert backend_pid(engine) != first  # checked, found closed, replaced: no error


def test_a_connection_in_steady_use_is_not_pinged(engine) -> None:
    first = backend_pid(engine)
    assert backend_pid(engine) == first  # reused at once: no ping, the same server process
    terminate(first)
    # Without the idle check, the closed connection is only noticed when used (and then discarded by the pool).
    with pytest.raises(sqlalchemy.exc.OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != first


def test_connections_lost_during_commit_new_are_replaced_and_the_row_written_once(engine) -> None:
    """commit_new talks to the driver itself; a connection the server closed must still leave the pool, with every
    connection pooled beside it (a restart ends them all), and the statement is sent once more on a new one."""
    from sqlalchemy.orm import Session

    from core.data.migrations import upgrade
    from core.data.models import Signup

    upgrade(engine.url.render_as_string(hide_password=False))
    with engine.connect() as one, engine.connect() as two:  # two connections in the pool
        ended = [
            connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one() for connection in (one, two)
        ]
    for pid in ended:
        terminate(pid)

    def new_signup(token: str) -> int | None:
        with Session(engine) as session:
            return db.commit_new(
                session,
                Signup.__table__,
                {
                    "token": token,
                    "campaign": "tiktokclaim",
                    "email_hash": token * 8,
                    "language": "nl",
                    "stage": "started",
                    "created_at": db.utcnow(),
                    "code_attempts": 0,
                    "codes_sent": 0,
                },
                ("campaign", "email_hash"),
            )

    assert new_signup("lostconn") is not None  # no error: the second try went to a new connection
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT count(*) FROM signups")).scalar_one() == 1
    assert backend_pid(engine) not in ended
