"""Publishing in a running process: a changed campaign goes live here within seconds, with no restart.

Each web and worker process looks at the campaign files every ``publish_poll_seconds`` in a thread of its own and
publishes the campaigns whose files changed and then stayed unchanged for ``publish_quiet_seconds``
(:meth:`CampaignRegistry.publish_settled`): the new snapshot is validated whole before it is swapped in, and a
campaign that fails validation keeps serving its last good version. Development looks on every request instead.

The thread is started by the first request a process serves (or by the worker), in the process that serves it:
a thread started before gunicorn forks its workers would not run in them.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from core.campaigns.registry import CampaignRegistry

log = logging.getLogger(__name__)


class CampaignPublisher:
    """Looks for settled campaign changes every ``interval`` seconds, in a daemon thread of this process."""

    def __init__(self, registry: CampaignRegistry, interval: float, quiet: float) -> None:
        self.registry = registry
        self.interval = interval
        self.quiet = quiet
        self._lock = threading.Lock()
        self._pid: int | None = None

    def ensure_running(self) -> None:
        """Start the thread in this process, once (cheap to call on every request)."""
        if self.interval <= 0 or self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            threading.Thread(target=self._run, name="campaign-publisher", daemon=True).start()
            self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                if self.registry.publish_settled(time.monotonic(), self.quiet):
                    snapshot = self.registry.snapshot
                    log.info(
                        "campaigns published: generation %d, %d served, %d file problem(s)",
                        snapshot.generation,
                        len(snapshot.campaigns),
                        len(snapshot.errors),
                    )
            except Exception:  # the thread must outlive any surprise; the last good snapshot keeps serving
                log.exception("looking for campaign changes failed; trying again in %s s", self.interval)
