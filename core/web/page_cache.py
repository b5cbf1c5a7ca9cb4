"""Rendered pages kept for a few seconds: a landing page changes only when its campaign file or counter does.

Each page is kept with its ETag, hashed once when it is put, so a public page served from here answers
``If-None-Match`` without hashing its body again (:func:`core.web.caching.public_page`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Hashable
from typing import NamedTuple

MAX_ENTRIES = 4096


class CachedPage(NamedTuple):
    body: bytes
    etag: str  # strong: a hash of exactly these bytes


def page_etag(body: bytes) -> str:
    """A strong ETag for ``body`` (without quotes)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class PageCache:
    """Bytes by key, each kept ``ttl`` seconds; a new campaign generation is part of the key, so a reload shows at
    once. ``ttl`` 0 turns the cache off (development)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, CachedPage]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CachedPage | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: Hashable, body: bytes) -> CachedPage:
        """Keep ``body`` under ``key`` for ``ttl`` seconds; the page with its ETag, kept or not."""
        page = CachedPage(body, page_etag(body))
        if self.ttl <= 0:
            return page
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, page)
        return page

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
