"""The database: one engine and session factory per app, one session per request, closed on teardown.

SQLite (the default, in ``instance/``) runs in WAL mode with a busy timeout so concurrent sign-ups wait for
each other instead of failing; PostgreSQL is used through ``CLAIMSITE_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Insert,
    MetaData,
    Select,
    Table,
    TypeDecorator,
    bindparam,
    case,
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

log = logging.getLogger(__name__)

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
            raise ValueError("naive datetime: use core.data.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error (logged with its traceback) names the statement, never the values bound to
    # it (tokens, keyed hashes, sealed data).
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, hide_parameters=True)
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
            close_session(session)


def close_session(session: Session) -> None:
    """Close ``session`` at the end of a request. Closing rolls back what it left open; where the server has ended
    the connection meanwhile (a restart, a shutdown) that ROLLBACK fails, and the connection is discarded instead:
    the server rolled it back when it ended it, and the answer the view made (a 302, a 503 that keeps the form) still
    reaches the visitor rather than the server's bare 500."""
    try:
        session.close()
    except DBAPIError as error:
        log.warning(
            "database connection ended before the request's session was closed (%s); discarded",
            type(getattr(error, "orig", None) or error).__name__,
        )
        session.invalidate()


def db_session() -> Session:
    """This request's (or CLI command's) session; opened on first use, closed when the app context ends."""
    session = g.get("db_session")
    if session is None:
        session = current_app.extensions["claimsite.db"].sessions()
        g.db_session = session
    return session


# session.info key: this session has sent (or tried to send) a COMMIT.
_COMMIT_SENT = "claimsite.commit_sent"


def is_missing_table(error: BaseException) -> bool:
    """``error`` says a table does not exist: the database is new and ``flask db upgrade`` has not made them yet (it
    creates the app, and with it the start-up checks, before it migrates)."""
    cause = getattr(error, "orig", None)
    if getattr(cause, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return isinstance(cause, sqlite3.OperationalError) and str(cause).startswith("no such table")


def note_commit(session: Session) -> None:
    """Remember that ``session`` committed (or is about to): from then on, running its request again could write
    twice, or write what a commit of unknown outcome may already have written (see :mod:`core.data.faults`)."""
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


def dialect_insert(dialect_name: str, table: Any) -> Any:
    """An INSERT into ``table`` in the dialect of a connection (SQLite or PostgreSQL), which can take
    ``.on_conflict_do_nothing()`` and ``.on_conflict_do_update(...)``."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)


@cache
def insert_returning_id(table: Table) -> Insert:
    """``INSERT INTO table ... RETURNING id``, built once per table (statements are reused with new values)."""
    return insert(table).returning(table.c.id)


@dataclass(frozen=True)
class Excluded:
    """In :class:`OnConflict`: the value the INSERT that met the existing row carried for ``column``."""

    column: str


@dataclass(frozen=True)
class Added:
    """In :class:`OnConflict`: the existing row's value plus the INSERT's (a counter)."""


@dataclass(frozen=True)
class IfNew:
    """A dependent's value that depends on the parent row: ``new`` when this call inserted it, else ``known``."""

    new: Any
    known: Any


@dataclass(frozen=True)
class OnConflict:
    """What an INSERT does to the existing row with the same ``key`` columns: set each column of ``set`` to a
    value, to :class:`Excluded` or to :class:`Added`."""

    key: tuple[str, ...]
    set: dict[str, Any]


@dataclass(frozen=True)
class Dependent:
    """A row written with a parent row; ``parent_column`` (if any) receives the parent's id. With
    :func:`commit_new` it is written only when the parent is new; with :func:`commit_upsert` always (and
    ``on_conflict``, if given, says how it updates a row of its own that exists)."""

    table: Table
    values: dict[str, Any]
    parent_column: str | None = None
    on_conflict: OnConflict | None = None


def commit_new(
    session: Session,
    table: Table,
    values: dict[str, Any],
    unique: tuple[str, ...],
    dependents: Sequence[Dependent] = (),
) -> int | None:
    """INSERT a row and, only if it is new, its ``dependents``, and COMMIT; returns the new id, or ``None`` (and
    writes nothing) when a row with the same ``unique`` columns exists. The session must have no transaction
    open: this call starts and ends its own, so it never commits anyone else's changes.

    On PostgreSQL it is ONE statement (data-modifying CTEs: all or nothing) sent in autocommit through the driver,
    on a connection of the session's pool: one round trip, where BEGIN, a statement per row and COMMIT through the
    ORM cost six, and about a millisecond of CPU less (bench/README.md). Elsewhere (SQLite) a statement per row in
    one transaction of the session.

    A connection the server dropped (a restart) is replaced and the statement sent once more: it is idempotent by
    the unique key, so if the first one was committed after all, the second writes nothing and returns ``None``."""
    written = _write(session, _Plan(table, values, unique, None, None, tuple(dependents)))
    return None if written is None else written[0]


def commit_upsert(
    session: Session,
    table: Table,
    values: dict[str, Any],
    unique: tuple[str, ...],
    update: OnConflict,
    marker: str,
    dependents: Sequence[Dependent] = (),
) -> tuple[int, Any]:
    """INSERT a row, or update the existing one with the same ``unique`` columns as ``update`` says, and write
    its ``dependents`` either way, and COMMIT (as :func:`commit_new`: one statement on PostgreSQL). Returns the
    row's id and its ``marker`` column: a column (random, not in ``update``) whose value tells whether the row is
    new (it is the one given) or known (another), e.g. a random public token.

    The same statements run whether the row is new or known, so a caller that must not reveal which (the
    sign-up form) does the same work for both; only the database knows the difference. A connection the server
    dropped is replaced and the statement sent once more; if the first one was committed after all, the second
    updates the row as a repeated form would (its dependents are written again), and never makes a second row."""
    written = _write(session, _Plan(table, values, unique, update, marker, tuple(dependents)))
    assert written is not None, "an upsert always returns its row"
    return written[0], written[1]


@dataclass(frozen=True)
class _Plan:
    table: Table
    values: dict[str, Any]
    unique: tuple[str, ...]
    update: OnConflict | None
    marker: str | None
    dependents: tuple[Dependent, ...]


def _write(session: Session, plan: _Plan) -> tuple[Any, ...] | None:
    """The parent's returned row (id, and the marker if any), or None when it exists and is not updated."""
    if session.in_transaction():
        raise RuntimeError("commit_new() commits its own transaction: commit or roll back the session first")
    note_commit(session)
    if session.get_bind().dialect.name == "postgresql":
        try:
            return _commit_in_one_statement(session, plan)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        # Dropped before the answer came: sent once more on a new connection (see commit_new, commit_upsert).
        return _commit_in_one_statement(session, plan)
    shape = _shape(plan)
    parent, parts = _sqlite_statements(shape)
    row = session.execute(parent, _params(plan)).one_or_none()
    if row is not None:
        new = plan.marker is None or row[1] == plan.values[plan.marker]
        for statement, dependent in zip(parts, plan.dependents, strict=True):
            values = {
                f"c_{key}": (value.new if new else value.known) if isinstance(value, IfNew) else value
                for key, value in dependent.values.items()
            }
            if dependent.parent_column is not None:
                values[f"c_{dependent.parent_column}"] = row[0]
            if dependent.on_conflict is not None:
                values.update({f"u_{key}": value for key, value in _plain_sets(dependent.on_conflict)})
            session.execute(statement, values)
    session.commit()
    return None if row is None else tuple(row)


def _plain_sets(update: OnConflict) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in update.set.items() if not isinstance(value, Excluded | Added)]


def _conflict_shape(update: OnConflict | None) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]] | None:
    """An :class:`OnConflict` as part of a hashable shape: (key, ((column, kind, excluded column), ...))."""
    if update is None:
        return None
    sets = tuple(
        (key, "excluded", value.column)
        if isinstance(value, Excluded)
        else (key, "added", key)
        if isinstance(value, Added)
        else (key, "value", "")
        for key, value in update.set.items()
    )
    return update.key, sets


def _shape(plan: _Plan) -> _Shape:
    return _Shape(
        plan.table,
        tuple(plan.values),
        plan.unique,
        _conflict_shape(plan.update),
        plan.marker,
        tuple(
            (
                d.table,
                d.parent_column,
                tuple((key, isinstance(value, IfNew)) for key, value in d.values.items()),
                _conflict_shape(d.on_conflict),
            )
            for d in plan.dependents
        ),
    )


def _params(plan: _Plan) -> dict[str, Any]:
    """The parent's parameters: ``p_`` its values, ``u_`` plain values of its update, ``m_`` the marker."""
    params = {f"p_{key}": value for key, value in plan.values.items()}
    if plan.update is not None:
        params.update({f"u_{key}": value for key, value in _plain_sets(plan.update)})
    if plan.marker is not None:
        params[f"m_{plan.marker}"] = plan.values[plan.marker]
    return params


def _set_clause(
    statement: Any, table: Table, conflict: tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], prefix: str
) -> dict[str, Any]:
    _key, sets = conflict
    clause: dict[str, Any] = {}
    for key, kind, column in sets:
        if kind == "excluded":
            clause[key] = statement.excluded[column]
        elif kind == "added":
            clause[key] = table.c[key] + statement.excluded[key]
        else:
            clause[key] = bindparam(f"{prefix}u_{key}", type_=table.c[key].type)
    return clause


def _parent_insert(shape: _Shape, dialect_insert: Callable[[Table], Any]) -> Any:
    table = shape.table
    statement = dialect_insert(table).values(
        {key: bindparam(f"p_{key}", type_=table.c[key].type) for key in shape.columns}
    )
    if shape.update is None:
        statement = statement.on_conflict_do_nothing(index_elements=list(shape.unique))
    else:
        statement = statement.on_conflict_do_update(
            index_elements=list(shape.unique), set_=_set_clause(statement, table, shape.update, "")
        )
    returned = [table.c.id] + ([table.c[shape.marker]] if shape.marker else [])
    return statement.returning(*returned)


@cache
def _sqlite_statements(shape: _Shape) -> tuple[Any, tuple[Any, ...]]:
    """SQLite: the parent's statement, and one per dependent row (its values bound by column name)."""
    parts = []
    for dependent, parent_column, columns, conflict in shape.dependents:
        names = [key for key, _if_new in columns] + ([parent_column] if parent_column else [])
        statement = sqlite.insert(dependent).values(
            {key: bindparam(f"c_{key}", type_=dependent.c[key].type) for key in names}
        )
        if conflict is not None:
            statement = statement.on_conflict_do_update(
                index_elements=list(conflict[0]), set_=_set_clause(statement, dependent, conflict, "")
            )
        parts.append(statement)
    return _parent_insert(shape, sqlite.insert), tuple(parts)


def _commit_in_one_statement(session: Session, plan: _Plan) -> tuple[Any, ...] | None:
    dialect = session.get_bind().dialect
    # SQLAlchemy would fill in Python-side column defaults; the driver does not.
    values = _with_defaults(plan.table, plan.values)
    dependents = [
        Dependent(d.table, _with_defaults(d.table, d.values), d.parent_column, d.on_conflict) for d in plan.dependents
    ]
    plan = _Plan(plan.table, values, plan.unique, plan.update, plan.marker, tuple(dependents))
    sql, processors = _compiled_statement(_shape(plan), dialect)
    params = _params(plan)
    for n, dependent in enumerate(dependents):
        for key, value in dependent.values.items():
            if isinstance(value, IfNew):
                params[f"d{n}_{key}_new"], params[f"d{n}_{key}_known"] = value.new, value.known
            else:
                params[f"d{n}_{key}"] = value
        if dependent.on_conflict is not None:
            params.update({f"d{n}u_{key}": value for key, value in _plain_sets(dependent.on_conflict)})
    for name, process in processors:
        params[name] = process(params[name])
    # A connection of the session's pool (checked as the session's would be), without the session's transaction
    # bookkeeping, which costs more CPU than the statement itself.
    try:
        pooled = session.get_bind().raw_connection()
    except dialect.loaded_dbapi.Error as exc:  # raised by the driver as it is: wrap it as a Connection would
        raise DBAPIError.instance(
            None, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        ) from exc
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
        raise DBAPIError.instance(
            sql,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc
    finally:
        if not lost:
            driver.autocommit = False
        pooled.close()  # back to the pool
    return None if row is None else tuple(row)


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


_Conflict = tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]] | None


@dataclass(frozen=True)
class _Shape:
    """What a statement of :func:`commit_new` / :func:`commit_upsert` depends on (the values change, the statement
    does not). Each dependent: (table, parent column, ((column, is IfNew), ...), its on-conflict shape)."""

    table: Table
    columns: tuple[str, ...]
    unique: tuple[str, ...]
    update: _Conflict
    marker: str | None
    dependents: tuple[tuple[Table, str | None, tuple[tuple[str, bool], ...], _Conflict], ...]


@cache
def _compiled_statement(shape: _Shape, dialect: Any) -> tuple[str, list[tuple[str, Callable[[Any], Any]]]]:
    """The SQL of :func:`_one_statement` for the driver, and the columns' bind processors by parameter."""
    compiled = _one_statement(shape).compile(dialect=dialect)
    processors = [
        (name, process)
        for name, bind in compiled.binds.items()
        if (process := bind.type.bind_processor(dialect)) is not None
    ]
    return str(compiled), processors


@cache
def _one_statement(shape: _Shape) -> Select[Any]:
    """``WITH parent AS (INSERT ... ON CONFLICT ... RETURNING id), d0 AS (INSERT ... SELECT parent.id, ... FROM
    parent), ... SELECT id FROM parent``: the dependents are inserted only when the parent returned its row (always
    for an upsert; only when it is new for :func:`commit_new`).

    The parts of one statement run in no set order, so the rows for one table (in a row each) go in one INSERT
    whose SELECT is ordered as given: their ids then keep that order (the evidence of a sign-up is read by id).
    A value that depends on whether the parent is new (:class:`IfNew`) is a CASE on the marker column."""
    table = shape.table
    parent = _parent_insert(shape, postgresql.insert).cte("parent")
    statement = select(parent.c.id, *([parent.c[shape.marker]] if shape.marker else []))
    is_new = (
        None
        if shape.marker is None
        else parent.c[shape.marker] == bindparam(f"m_{shape.marker}", type_=table.c[shape.marker].type)
    )
    groups = itertools.groupby(enumerate(shape.dependents), key=lambda numbered: numbered[1])
    for part, (same_kind, numbered_rows) in enumerate(groups):
        dependent, parent_column, columns, conflict = same_kind
        numbered = list(numbered_rows)
        rows = []
        for n, _ in numbered:
            cells = [literal_column(str(n)).label("row_number")]
            for key, if_new in columns:
                column_type = dependent.c[key].type
                if if_new:
                    cells += [
                        bindparam(f"d{n}_{key}_new", type_=column_type).label(f"{key}_new"),
                        bindparam(f"d{n}_{key}_known", type_=column_type).label(f"{key}_known"),
                    ]
                else:
                    cells.append(bindparam(f"d{n}_{key}", type_=column_type).label(key))
            rows.append(select(*cells))
        given = union_all(*rows).subquery() if len(rows) > 1 else rows[0].subquery()
        selected: list[Any] = []
        for key, if_new in columns:
            if if_new:
                assert is_new is not None, "IfNew needs a marker column"
                selected.append(case((is_new, given.c[f"{key}_new"]), else_=given.c[f"{key}_known"]))
            else:
                selected.append(given.c[key])
        targets = [key for key, _if_new in columns]
        if parent_column is not None:
            selected.insert(0, parent.c.id)
            targets.insert(0, parent_column)
        ordered = select(*selected).select_from(parent).join(given, true()).order_by(given.c.row_number)
        insert_rows = postgresql.insert(dependent).from_select(targets, ordered)
        if conflict is not None:
            insert_rows = insert_rows.on_conflict_do_update(
                index_elements=list(conflict[0]),
                set_=_set_clause(insert_rows, dependent, conflict, f"d{numbered[0][0]}"),
            )
        statement = statement.add_cte(insert_rows.cte(f"d{part}"))
    return statement


def set_once(
    session: Session, column: InstrumentedAttribute[Any], row_id: int, value: Any, *conditions: ColumnElement[bool]
) -> bool:
    """Set ``column`` of row ``row_id`` to ``value`` only if it is still NULL (and the row meets ``conditions``), in
    one statement; True if this call did it. Two processes racing for the same one-time step (a mail sent once)
    cannot both win, and the conditions are read from the row as it is then, not from anyone's earlier copy."""
    model = column.class_
    return bool(
        session.execute(
            update(model)
            .where(model.id == row_id, column.is_(None), *conditions)
            .values({column.key: value})
            .execution_options(synchronize_session=False)
        ).rowcount
    )
