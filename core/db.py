"""The database: one engine and session factory per app, one session per request, closed on teardown.

SQLite (the default, in ``instance/``) runs in WAL mode with a busy timeout so concurrent sign-ups wait for
each other instead of failing; PostgreSQL is used through ``CLAIMSITE_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import Flask, g
from sqlalchemy import (
    DateTime,
    Engine,
    Insert,
    MetaData,
    Select,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    insert,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError
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
        event.listen(self.sessions, "before_commit", note_commit)

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


# session.info key: this session has sent (or tried to send) a COMMIT.
_COMMIT_SENT = "claimsite.commit_sent"


def note_commit(session: Session) -> None:
    """Remember that ``session`` committed (or is about to): from then on, running its request again could write
    twice, or write what a commit of unknown outcome may already have written (see :mod:`core.database_faults`)."""
    session.info[_COMMIT_SENT] = True


def commit_sent(session: Session) -> bool:
    """``session`` has committed, or tried to, since it was opened."""
    return bool(session.info.get(_COMMIT_SENT))


def row_values(obj: Base) -> dict[str, Any]:
    """The set attributes of a new model object, as the values of its row (no id; column defaults apply)."""
    columns = _column_keys(obj.__table__)  # type: ignore[attr-defined]
    # A new object's set attributes are in its __dict__ (reading each column through the ORM costs more).
    return {key: value for key, value in vars(obj).items() if key in columns and value is not None}


@cache
def _column_keys(table: Table) -> frozenset[str]:
    return frozenset(column.key for column in table.columns if not column.primary_key)


@cache
def insert_returning_id(table: Table) -> Insert:
    """``INSERT INTO table ... RETURNING id``, built once per table (statements are reused with new values)."""
    return insert(table).returning(table.c.id)


@dataclass(frozen=True)
class Dependent:
    """A row to insert only together with a new parent row; ``parent_column`` (if any) receives the parent's id."""

    table: Table
    values: dict[str, Any]
    parent_column: str | None = None


def commit_new(session: Session, table: Table, values: dict[str, Any], unique: tuple[str, ...],
               dependents: Sequence[Dependent] = ()) -> int | None:
    """INSERT a row and, only if it is new, its ``dependents``, and COMMIT; returns the new id, or ``None`` (and
    writes nothing) when a row with the same ``unique`` columns exists. The session must have no transaction
    open: this call starts and ends its own, so it never commits anyone else's changes.

    For the busiest write of the site (every sign-up form). On PostgreSQL it is ONE statement (data-modifying
    CTEs: all or nothing) sent in autocommit through the driver, on a connection of the session's pool: one round
    trip, where BEGIN, a statement per row and COMMIT through the ORM cost six, and about a millisecond of CPU
    less (bench/README.md). Elsewhere (SQLite) a statement per row in one transaction of the session.

    A connection the server dropped (a restart) is replaced and the statement sent once more: it is idempotent by
    the unique key, so if the first one was committed after all, the second writes nothing and returns ``None``."""
    if session.in_transaction():
        raise RuntimeError("commit_new() commits its own transaction: commit or roll back the session first")
    note_commit(session)
    if session.get_bind().dialect.name == "postgresql":
        try:
            return _commit_in_one_statement(session, table, values, unique, dependents)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return _commit_in_one_statement(session, table, values, unique, dependents)
    new_id = session.execute(_insert_unless_present(table, unique), values).scalar_one_or_none()
    if new_id is not None:
        for dependent in dependents:
            row = dependent.values if dependent.parent_column is None else \
                {**dependent.values, dependent.parent_column: new_id}
            session.execute(insert(dependent.table), row)
    session.commit()
    return new_id


def _commit_in_one_statement(session: Session, table: Table, values: dict[str, Any], unique: tuple[str, ...],
                             dependents: Sequence[Dependent]) -> int | None:
    dialect = session.get_bind().dialect
    # SQLAlchemy would fill in Python-side column defaults; the driver does not.
    values = _with_defaults(table, values)
    dependents = [Dependent(d.table, _with_defaults(d.table, d.values), d.parent_column) for d in dependents]
    shape = _Shape(table, tuple(values), unique, tuple((d.table, d.parent_column, tuple(d.values)) for d in dependents))
    sql, processors = _compiled_statement(shape, dialect)
    params = {f"p_{key}": value for key, value in values.items()}
    for n, dependent in enumerate(dependents):
        params.update({f"d{n}_{key}": value for key, value in dependent.values.items()})
    for name, process in processors:
        params[name] = process(params[name])
    # A connection of the session's pool (checked as the session's would be), without the session's transaction
    # bookkeeping, which costs more CPU than the statement itself.
    try:
        pooled = session.get_bind().raw_connection()
    except dialect.loaded_dbapi.Error as exc:  # raised by the driver as it is: wrap it as a Connection would
        raise DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  dialect=dialect) from exc
    driver = pooled.driver_connection
    driver.autocommit = True  # psycopg: set on the client only, no round trip
    lost = False
    try:
        with driver.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy does: a connection the server closed is dropped from the pool, not handed out again; and
        # the error is raised as SQLAlchemy raises it (IntegrityError, ...), without the values (personal data).
        lost = dialect.is_disconnect(exc, driver, None)
        if lost:
            # The whole pool, as SQLAlchemy does for its own connections: when the server restarted, every pooled
            # connection is dead, and the retry must not take the next dead one.
            session.get_bind().pool._invalidate(pooled, exc)
        raise DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  connection_invalidated=lost, dialect=dialect) from exc
    finally:
        if not lost:
            driver.autocommit = False
        pooled.close()  # back to the pool
    return None if row is None else row[0]


def _with_defaults(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    missing = {key: default() for key, default in _python_defaults(table) if key not in values}
    return {**values, **missing} if missing else values


@cache
def _python_defaults(table: Table) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """(column, a function giving its value) for each column with a Python-side default, except the primary key."""
    found: list[tuple[str, Callable[[], Any]]] = []
    for column in table.columns:
        default = column.default
        if column.primary_key or default is None:
            continue
        if getattr(default, "is_scalar", False):
            found.append((column.key, lambda value=default.arg: value))  # type: ignore[attr-defined,misc]
        elif getattr(default, "is_callable", False):
            found.append((column.key, lambda make=default.arg: make(None)))  # type: ignore[attr-defined,misc]
    return tuple(found)


@cache
def _insert_unless_present(table: Table, unique: tuple[str, ...]) -> Insert:
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)


@dataclass(frozen=True)
class _Shape:
    """What a statement of :func:`commit_new` depends on (the values change, the statement does not)."""

    table: Table
    columns: tuple[str, ...]
    unique: tuple[str, ...]
    dependents: tuple[tuple[Table, str | None, tuple[str, ...]], ...]


@cache
def _compiled_statement(shape: _Shape, dialect: Any) -> tuple[str, list[tuple[str, Callable[[Any], Any]]]]:
    """The SQL of :func:`_one_statement` for the driver, and the columns' bind processors by parameter."""
    compiled = _one_statement(shape).compile(dialect=dialect)
    processors = [(name, process) for name, bind in compiled.binds.items()
                  if (process := bind.type.bind_processor(dialect)) is not None]
    return str(compiled), processors


@cache
def _one_statement(shape: _Shape) -> Select[Any]:
    """``WITH parent AS (INSERT ... ON CONFLICT DO NOTHING RETURNING id), d0 AS (INSERT ... SELECT parent.id, ...
    FROM parent), ... SELECT id FROM parent``: the dependents are inserted only when the parent row was.

    The parts of one statement run in no set order, so the rows for one table (in a row each) go in one INSERT
    whose SELECT is ordered as given: their ids then keep that order (the evidence of a sign-up is read by id)."""
    table = shape.table
    parent = postgresql.insert(table).values(
        {key: bindparam(f"p_{key}", type_=table.c[key].type) for key in shape.columns}
    ).on_conflict_do_nothing(index_elements=list(shape.unique)).returning(table.c.id).cte("parent")
    statement = select(parent.c.id)
    groups = itertools.groupby(enumerate(shape.dependents), key=lambda numbered: numbered[1])
    for part, (same_kind, numbered) in enumerate(groups):
        dependent, parent_column, columns = same_kind
        rows = [select(literal_column(str(n)).label("row_number"),
                       *[bindparam(f"d{n}_{key}", type_=dependent.c[key].type).label(key) for key in columns])
                for n, _ in numbered]
        given = union_all(*rows).subquery() if len(rows) > 1 else rows[0].subquery()
        selected = [given.c[key] for key in columns]
        targets = list(columns)
        if parent_column is not None:
            selected.insert(0, parent.c.id)
            targets.insert(0, parent_column)
        ordered = select(*selected).select_from(parent).join(given, true()).order_by(given.c.row_number)
        statement = statement.add_cte(insert(dependent).from_select(targets, ordered).cte(f"d{part}"))
    return statement


def set_once(session: Session, column: InstrumentedAttribute[Any], row_id: int, value: Any) -> bool:
    """Set ``column`` of row ``row_id`` to ``value`` only if it is still NULL, in one statement; True if this call
    did it. Two processes racing for the same one-time step (a mail sent once) cannot both win."""
    model = column.class_
    return bool(session.execute(update(model).where(model.id == row_id, column.is_(None))
                                .values({column.key: value}).execution_options(synchronize_session=False)).rowcount)
