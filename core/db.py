"""The database: one engine and session factory per app, one session per request, closed on teardown.

SQLite (the default, in ``instance/``) runs in WAL mode with a busy timeout so concurrent sign-ups wait for
each other instead of failing; PostgreSQL is used through ``CLAIMSITE_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import cache
from typing import Any

from flask import Flask, g
from sqlalchemy import DateTime, Engine, Insert, MetaData, Table, TypeDecorator, create_engine, event, insert, update
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker

# Stable constraint names, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use core.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


# A pooled connection unused for this long is checked before use (the server may have closed it, e.g. after a
# restart); one in steady use is not. SQLAlchemy's pool_pre_ping checks every time: a round trip per request.
IDLE_BEFORE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (a new one if need be).
            raise DisconnectionError("a pooled connection was closed by the server") from exc


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def init_app(self, app: Flask) -> None:
        app.extensions["claimsite.db"] = self
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def db_session() -> Session:
    """This request's (or CLI command's) session; opened on first use, closed when the app context ends."""
    session = g.get("db_session")
    if session is None:
        from flask import current_app

        session = current_app.extensions["claimsite.db"].sessions()
        g.db_session = session
    return session


def insert_row(session: Session, obj: Base) -> int:
    """INSERT one new model object's set attributes as a plain statement in the session's transaction; returns
    its id. For hot paths only: the object does not join the session (column defaults apply as usual)."""
    table = obj.__table__  # type: ignore[attr-defined]
    values = {column.key: value for column in table.columns
              if column.key != "id" and (value := getattr(obj, column.key)) is not None}
    return session.execute(insert_returning_id(table), values).scalar_one()


@cache
def insert_returning_id(table: Table) -> Insert:
    """``INSERT INTO table ... RETURNING id``, built once per table (statements are reused with new values)."""
    return insert(table).returning(table.c.id)


def set_once(session: Session, column: InstrumentedAttribute[Any], row_id: int, value: Any) -> bool:
    """Set ``column`` of row ``row_id`` to ``value`` only if it is still NULL, in one statement; True if this call
    did it. Two processes racing for the same one-time step (a mail sent once) cannot both win."""
    model = column.class_
    return bool(session.execute(update(model).where(model.id == row_id, column.is_(None))
                                .values({column.key: value}).execution_options(synchronize_session=False)).rowcount)
