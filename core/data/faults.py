"""What a request does when the database connection fails: once more on a new connection where that is safe, else
a 503 that keeps what the visitor typed (the page itself is made in :mod:`core.web.views.errors`).

A connection the server dropped (PostgreSQL restarted, an idle connection was ended) fails the first statement
sent on it. SQLAlchemy then discards it and every connection pooled with it, so the view is run again on a new
session, once, if the request has not committed anything yet: up to then the server rolled back all it did, so
running it again cannot write twice. Once a COMMIT was sent its outcome is unknown when the connection drops, and
the view is not replayed (the one idempotent commit, :func:`core.data.db.commit_new`, retries by itself). What a view
did outside the database before the failure happens twice: a rate-limit count (one attempt more), a call to the
payment provider (made with an idempotency key, so it gets the same answer).

When the database is really away (refused, down, an SQLite file that cannot be opened, no connection free in
time), the view may have said how to answer with :func:`when_database_away` (the join form does: it comes back
with everything typed in it); other pages get the site's 503 page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from core.data.db import close_session, commit_sent

log = logging.getLogger(__name__)

# The errors that mean "the database cannot be reached or used right now" (not: a query or the data is wrong).
# sqlalchemy's TimeoutError: no pooled connection became free in time.
UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)
RETRY_AFTER_SECONDS = 30  # a restart takes seconds; a visitor should not be told to wait long

View = Callable[..., Any]
AwayPage = Callable[[], Response]


def is_dropped_connection(error: BaseException) -> bool:
    """``error`` came from a connection the server closed (SQLAlchemy has discarded it and its pool)."""
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


def describe(error: BaseException) -> str:
    """The driver's error in one short line, for the log: no SQL and no parameters (they may be personal data)."""
    cause = getattr(error, "orig", None) or error
    first_line = (str(cause).strip().splitlines() or [""])[0][:200]
    return f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__


def when_database_away(page: AwayPage) -> None:
    """Answer this request with ``page()`` (as a 503) if the database turns out to be unreachable; for a view
    whose visitor would otherwise lose what they typed. ``page`` must not need the database."""
    g.database_away_page = page


def away_page() -> AwayPage | None:
    """The page a view registered with :func:`when_database_away` in this request, if any."""
    return g.get("database_away_page")


def _replay_is_safe() -> bool:
    session: Session | None = g.get("db_session")
    return session is None or not commit_sent(session)


def _new_session() -> None:
    """Drop this request's session (its connection is gone); the next db_session() opens a new one."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        close_session(session)


def retried_once(view: View) -> View:
    """``view``, run once more on a new connection when its connection was dropped before it committed."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except sa_exc.DBAPIError as error:
            if not (is_dropped_connection(error) and _replay_is_safe()):
                raise
            log.warning(
                "database connection dropped during %s %s (%s); running it once more on a new one",
                request.method,
                request.endpoint,
                describe(error),
            )
        _new_session()
        return view(*args, **kwargs)

    return run


def init_app(app: Flask) -> None:
    """Wrap every view of ``app`` registered so far in :func:`retried_once` (call after the blueprints)."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = retried_once(view)
