"""Rendered pages kept for a few seconds: a landing page changes only when its campaign file or counter does."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

MAX_ENTRIES = 4096


class PageCache:
    """Bytes by key, each kept ``ttl`` seconds; a new campaign generation is part of the key, so a reload shows at
    once. ``ttl`` 0 turns the cache off (development)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: Hashable, body: bytes) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
