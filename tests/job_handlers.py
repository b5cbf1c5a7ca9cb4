"""Job handlers that a test module defines with ``@job_handler(kind)``; this module offers them to the worker as a
plugin does, through ``claimsite_job_handlers`` (register it on the app's plugin manager)."""

from __future__ import annotations

from collections.abc import Callable

from core.jobs.queue import Handler
from core.plugins import hookimpl

HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    """Make the decorated function the handler of jobs of ``kind``."""

    def add(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return add


@hookimpl
def claimsite_job_handlers() -> dict[str, Handler]:
    return dict(HANDLERS)
