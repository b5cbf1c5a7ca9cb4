"""One ``Range: bytes=a-b`` of an HTTP request, as the vault download serves it (issue 21): a download comes in
short requests so that none outlives a sync worker's timeout, and no request may ask for more than ``cap`` bytes
(HTTP lets a server send less than asked; ``Content-Range`` says what was sent)."""

from __future__ import annotations

import re

RANGE_CAP = 16 * 1024 * 1024
_ONE_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


class UnsatisfiableRange(ValueError):
    """A range that starts at or past the end of the file: answered with 416."""


def requested_range(header: str | None, size: int, cap: int = RANGE_CAP) -> tuple[int, int] | None:
    """``(start, length)`` of the one range ``header`` asks for, capped; None for no (or an unreadable) ``Range``,
    which gets the whole file as HTTP says."""
    match = _ONE_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    start = int(match[1])
    if start >= size:
        raise UnsatisfiableRange(f"bytes {start}- of a file of {size}")
    end = min(int(match[2]) if match[2] else size - 1, size - 1, start + cap - 1)
    if end < start:
        return None
    return start, end - start + 1
