"""One dataset's breach index on disk: its format, opening it, and looking a digest up in it.

The file (``<folder>/<dataset-id>.idx``)::

    bytes 0-7      magic b"CLMBRIDX"
    bytes 8-9      format version (big-endian), 1
    bytes 10-13    length of the header (big-endian)
    bytes 14-...   the header: UTF-8 JSON (dataset, records, imported_at, version, categories, key_check)
    byte  4096-    the body: ``records`` records sorted by digest, each an 8-byte digest and a 2-byte mask of
                   categories (big-endian), 10 bytes; no digest twice

The body starts on a page boundary so that it is mapped as it is. ``version`` is the first 16 hex digits of the
SHA-256 of the body: the same dump under the same key gives the same body and version (the sign-up's evidence names
the version the check ran against).

A lookup is a binary search of fixed depth over the memory-mapped body: it reads the same number of records
whether the digest is there or not (the check page must take the same time for every number). An importer never
writes this path in place: it writes a temporary file beside it and renames it over this one, so a reader opens
the old file or the new one, whole. :func:`current_index` notices the rename (the file's identity changed) and
opens the new file on the next lookup; an index already handed out keeps answering from the old file, whose pages
stay mapped until it is dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import mmap
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"CLMBRIDX"
FORMAT_VERSION = 1
BODY_OFFSET = 4096
RECORD_SIZE = 10  # 8-byte digest + 2-byte mask
SUFFIX = ".idx"
_PREAMBLE = struct.Struct(">8sHI")
_DIGEST = struct.Struct(">Q")
_MASK = struct.Struct(">H")


class IndexFileError(Exception):
    """The file is no breach index of this format, or it is damaged; the message says which file and why."""


@dataclass(frozen=True)
class IndexHeader:
    """What an index says about itself."""

    dataset: str
    records: int
    imported_at: dt.datetime
    version: str
    categories: tuple[str, ...]  # the category keys some record has, in catalogue order
    key_check: str  # core.breach.numbers.key_check of the key it was made with

    def to_bytes(self) -> bytes:
        """The preamble and header as written at the start of the file (deterministic: sorted JSON keys)."""
        header = json.dumps(
            {
                "dataset": self.dataset,
                "records": self.records,
                "imported_at": self.imported_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "version": self.version,
                "categories": list(self.categories),
                "key_check": self.key_check,
                "record": "blake2b-64 digest, uint16 mask, big-endian",
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        data = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header)) + header
        if len(data) > BODY_OFFSET:
            raise IndexFileError(f"the header of {self.dataset}'s index does not fit in {BODY_OFFSET} bytes")
        return data

    @classmethod
    def from_bytes(cls, data: bytes, path: Path) -> IndexHeader:
        if len(data) < _PREAMBLE.size:
            raise IndexFileError(f"{path}: too short to be a breach index")
        magic, version, length = _PREAMBLE.unpack_from(data)
        if magic != MAGIC:
            raise IndexFileError(f"{path}: not a breach index (import the dataset again with flask breach import)")
        if version != FORMAT_VERSION:
            raise IndexFileError(
                f"{path}: index format {version}, this code reads format {FORMAT_VERSION}; import the dataset again"
            )
        try:
            fields: dict[str, Any] = json.loads(data[_PREAMBLE.size : _PREAMBLE.size + length])
            return cls(
                dataset=str(fields["dataset"]),
                records=int(fields["records"]),
                imported_at=dt.datetime.fromisoformat(fields["imported_at"]),
                version=str(fields["version"]),
                categories=tuple(fields["categories"]),
                key_check=str(fields["key_check"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexFileError(f"{path}: damaged header ({type(exc).__name__}); import the dataset again") from None


def index_path(folder: Path, dataset_id: str) -> Path:
    """Where the index of ``dataset_id`` lives in ``folder``."""
    return folder / f"{dataset_id}{SUFFIX}"


class BreachIndex:
    """An open index file: :meth:`lookup` answers from its memory-mapped body. Safe to share between threads."""

    def __init__(self, path: Path, header: IndexHeader, mapped: mmap.mmap, identity: tuple[int, ...]) -> None:
        self.path = path
        self.header = header
        self._mapped = mapped
        self.identity = identity  # (device, inode, size, mtime): a replaced file has another
        self.size_bytes = identity[2]
        # a search of fixed depth: the same number of probes for every digest (see lookup)
        self._depth = max(header.records - 1, 0).bit_length()

    @property
    def records(self) -> int:
        """How many distinct numbers the index holds."""
        return self.header.records

    @property
    def imported_at(self) -> dt.datetime:
        return self.header.imported_at

    @property
    def version(self) -> str:
        """The first 16 hex digits of the SHA-256 of the body: the same for the same records."""
        return self.header.version

    def lookup(self, digest: bytes) -> int | None:
        """The mask of categories leaked with the number whose digest is ``digest``
        (:func:`core.breach.numbers.number_digest`), or None when the index does not hold it.

        Found or not, it does the same work: ``depth`` probes of a branch-free binary search (the half of the
        range it keeps is computed, not chosen by an early exit), then one read of the record it ends on.
        """
        records = self.header.records
        if records == 0:
            return None
        target = _DIGEST.unpack(digest)[0]
        mapped, unpack = self._mapped, _DIGEST.unpack_from
        base, length = 0, records
        for _ in range(self._depth):
            half = length >> 1
            probe = base + half
            # keep the upper half when its first digest is not above the target: base moves by half or by 0
            base += half * (unpack(mapped, BODY_OFFSET + probe * RECORD_SIZE)[0] <= target)
            length -= half
        offset = BODY_OFFSET + base * RECORD_SIZE
        found = unpack(mapped, offset)[0] == target
        mask = _MASK.unpack_from(mapped, offset + 8)[0]
        return mask if found else None


def open_index(path: Path) -> BreachIndex:
    """Open the index file at ``path`` (:class:`IndexFileError` if it is not one, or damaged;
    ``FileNotFoundError`` if there is none)."""
    with open(path, "rb") as file:
        stat = os.fstat(file.fileno())
        identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        header = IndexHeader.from_bytes(file.read(BODY_OFFSET), path)
        expected = BODY_OFFSET + header.records * RECORD_SIZE
        if stat.st_size != expected:
            raise IndexFileError(
                f"{path}: {stat.st_size} bytes where {header.records} records take {expected}; import the dataset again"
            )
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    return BreachIndex(path, header, mapped, identity)


def file_identity(path: Path) -> tuple[int, ...] | None:
    """(device, inode, size, mtime) of the file at ``path``, None if there is none: one ``stat``, cheap enough to
    ask on every lookup."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


_open: dict[Path, BreachIndex] = {}
_open_lock = threading.Lock()


def current_index(folder: Path, dataset_id: str) -> BreachIndex | None:
    """This process's open index of ``dataset_id`` in ``folder`` (see :func:`core.breach.index_folder`), opened
    again when the file was replaced since (a new import) and None while there is none. A long-running server thus
    answers from a new import without a restart."""
    path = index_path(folder, dataset_id)
    identity = file_identity(path)
    index = _open.get(path)
    if identity is None:
        return None
    if index is not None and index.identity == identity:
        return index
    with _open_lock:
        index = _open.get(path)
        if index is None or index.identity != file_identity(path):
            try:
                index = open_index(path)
            except FileNotFoundError:  # removed between the stat and the open
                _open.pop(path, None)
                return None
            _open[path] = index  # the one it replaces is unmapped once no caller holds it any more
        return index
