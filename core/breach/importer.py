"""``flask breach import``'s work: a leaked dump (CSV) in, one dataset's index file (:mod:`core.breach.index_file`)
out, replaced atomically.

The dump is read in blocks of whole lines; each row's ``phone`` cell is normalised (:mod:`core.breach.phones`) and
digested under the deployment's key (:mod:`core.breach.numbers`), and the other cells only say, by being empty or
not, which categories the record leaked (:mod:`core.breach.categories`). Nothing else of a row is kept: the values
are dropped as soon as their row is parsed, and no number or value reaches a file, a log line or an error message
(a row that cannot be read is reported by its line number only).

Blocks are parsed in ``jobs`` worker processes (parsing is the costly part: CSV, phone-number rules, BLAKE2b), while
this process gathers (digest, mask) pairs into a run of bounded size, sorts it with numpy, merges duplicate numbers
(OR of their masks) and writes it to a temporary run file beside the index. The runs are then merged (a k-way merge
in batches: all of every run's loaded records up to the smallest "last loaded" digest can go out at once) into
``<id>.idx.tmp-<random>``, which is synced and renamed over ``<id>.idx``. So memory stays within ``memory_bytes``
whatever the size of the dump (plus a few MiB per process for blocks in flight), and the run files and the temporary
index are removed in every case, also on Ctrl-C. An exclusive lock per dataset keeps two imports of it apart, and
lets an import remove what a killed one left behind.

The body of the result depends on the dump and the key alone (sorted, one record per number), so importing the
same file again gives the same records and the same version.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime as dt
import fcntl
import hashlib
import io
import multiprocessing
import operator
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.breach.categories import BY_KEY, KEYS, PHONE, categories_in
from core.breach.index_file import BODY_OFFSET, IndexHeader, index_path
from core.breach.numbers import NumberDigester, key_check
from core.breach.phones import NotAPhoneNumber, normalise

MIB = 1 << 20
DEFAULT_MEMORY = 256 * MIB
MIN_MEMORY = 16 * 1024
BLOCK_BYTES = 1 * MIB  # the dump is parsed in blocks of whole lines of about this size
# a record in a run being sorted: digest and mask (10 bytes), the sort order (8), the sorted copies (10), the
# records written out (10), the duplicate marks and where each number starts (9)
BYTES_PER_SORTED_RECORD = 50
FIRST_UNREADABLE = 10  # how many line numbers of unreadable rows are reported
RUN_RECORD = np.dtype([("digest", ">u8"), ("mask", ">u2")])  # 10 bytes, the index body's record too
DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")

Progress = Callable[[int, int], None]  # (bytes of the dump read, rows parsed)


class BreachImportError(Exception):
    """The dump cannot be imported; the message says why and what to do (and never quotes a row)."""


@dataclass
class ImportResult:
    """What an import did."""

    dataset: str
    path: Path
    rows: int  # data rows read (blank lines not counted)
    records: int  # distinct numbers in the index
    unreadable: int  # rows without a readable number, or with the wrong number of cells
    first_unreadable_lines: list[int]  # line numbers in the file (the header is line 1)
    runs: int  # sorted runs written before the merge
    seconds: float
    version: str
    categories: tuple[str, ...]
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Columns:
    """How a dump's header maps to the catalogue: the number of cells a row has, the ``phone`` cell, and the
    (cell, bit) of each category column."""

    count: int
    phone: int
    flags: tuple[tuple[int, int], ...]
    ignored: tuple[str, ...] = ()


def read_columns(header: Sequence[str], ignore: Iterable[str] = ()) -> Columns:
    """The :class:`Columns` of a dump whose header row is ``header`` (names compared without case or surrounding
    spaces). A column that names no category refuses the dump, unless ``ignore`` names it."""
    names = [name.strip().lower() for name in header]
    ignored = {name.strip().lower() for name in ignore}
    # The phone column first, and without quoting the row: a dump without a header row has its first record here.
    if PHONE.key not in names:
        raise BreachImportError(
            f"the header has no '{PHONE.key}' column; its first row must name the columns, one of them '{PHONE.key}'"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise BreachImportError(f"the header names column(s) {', '.join(twice)} more than once")
    unknown = [name for name in names if name not in BY_KEY and name not in ignored]
    if unknown:
        raise BreachImportError(
            f"unknown column(s) {', '.join(repr(name) for name in unknown)}; the known ones are {', '.join(KEYS)}. "
            "Rename a column to its category, or leave it out with --ignore-column NAME"
        )
    flags = tuple((index, BY_KEY[name].flag) for index, name in enumerate(names) if name in BY_KEY)
    return Columns(len(names), names.index(PHONE.key), flags, tuple(name for name in names if name in ignored))


@dataclass
class ParsedBlock:
    """One block's records: ``digests`` (8 bytes each) and ``masks`` (2 bytes each, big-endian) side by side."""

    digests: bytes
    masks: bytes
    rows: int
    unreadable: int
    unreadable_lines: list[int] = field(default_factory=list)


def parse_block(
    block: bytes, first_line: int, columns: Columns, default_region: str, digester: NumberDigester
) -> ParsedBlock:
    """The records of ``block`` (whole lines of the dump, the first being line ``first_line``)."""
    digests = bytearray()
    masks = bytearray()
    rows = unreadable = 0
    bad_lines: list[int] = []
    reader = csv.reader(io.StringIO(block.decode("utf-8", errors="replace"), newline=""))
    count, phone = columns.count, columns.phone
    # A row's mask comes from which category cells are filled: that pattern is looked up (and worked out the first
    # time it comes), so the cells are tested in C (itemgetter, strip, bool) rather than one by one in Python.
    indexes = [index for index, _flag in columns.flags]
    cells = operator.itemgetter(*indexes, *indexes[:1])  # one index more: itemgetter of one index gives no tuple
    mask_for: dict[tuple[bool, ...], bytes] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a NUL byte, a cell past the size limit: the row is unreadable
            row = None
        if row == []:
            continue  # a blank line
        rows += 1
        try:
            if row is None or len(row) != count:
                raise NotAPhoneNumber("wrong number of cells")
            digest = digester(normalise(row[phone], default_region))
        except NotAPhoneNumber:
            unreadable += 1
            if len(bad_lines) < FIRST_UNREADABLE:
                bad_lines.append(first_line + reader.line_num - 1)
            continue
        filled = tuple(map(bool, map(str.strip, cells(row))))
        mask = mask_for.get(filled)
        if mask is None:
            mask = mask_for[filled] = _mask(filled, columns.flags)
        digests += digest
        masks += mask
    return ParsedBlock(bytes(digests), bytes(masks), rows, unreadable, bad_lines)


def _mask(filled: tuple[bool, ...], flags: tuple[tuple[int, int], ...]) -> bytes:
    mask = PHONE.flag
    for is_filled, (_index, flag) in zip(filled, flags, strict=False):
        if is_filled:
            mask |= flag
    return mask.to_bytes(2, "big")


def import_dump(
    source: Path,
    *,
    dataset_id: str,
    folder: Path,
    key: bytes,
    default_region: str,
    memory_bytes: int = DEFAULT_MEMORY,
    ignore_columns: Iterable[str] = (),
    jobs: int = 1,
    imported_at: dt.datetime | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the dump at ``source`` as the index of ``dataset_id`` in ``folder`` (made if missing), replacing the
    index there at the end in one rename; ``key`` is :func:`core.breach.numbers.digest_key`'s. Raises
    :class:`BreachImportError` for a dump it refuses (and leaves the old index as it was)."""
    if not DATASET_ID.fullmatch(dataset_id):
        raise BreachImportError(f"'{dataset_id}' is no dataset id (lower-case letters, digits and dashes)")
    if memory_bytes < MIN_MEMORY:
        raise BreachImportError(f"--memory must be at least {MIN_MEMORY // 1024} KiB")
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    with _dataset_lock(folder, dataset_id), _Scratch(folder, dataset_id) as scratch:
        with open(source, "rb") as dump:
            header_line = dump.readline().decode("utf-8-sig", errors="replace")
            header = next(csv.reader([header_line]), [])
            columns = read_columns(header, ignore_columns)
            blocks = _blocks(dump, first_line=2)
            sorter = _RunWriter(scratch, max(memory_bytes // BYTES_PER_SORTED_RECORD, 1))
            rows = unreadable = 0
            unreadable_lines: list[int] = []
            for parsed, read in _parsed(blocks, columns, default_region, key, jobs):
                sorter.add(parsed.digests, parsed.masks)
                rows += parsed.rows
                unreadable += parsed.unreadable
                unreadable_lines += parsed.unreadable_lines[: FIRST_UNREADABLE - len(unreadable_lines)]
                if progress is not None:
                    progress(read, rows)
            sorter.flush()
        if not sorter.runs:
            # an empty dump, or one read with the wrong default region, must not wipe out the index there is
            raise BreachImportError(
                f"none of the {rows:,} rows has a readable phone number, so the index was left as it was "
                "(is --default-region right?)"
            )
        target = index_path(folder, dataset_id)
        temporary = scratch.new(f"{target.name}.tmp-")
        records, version, mask = _merge_runs(sorter.runs, temporary, memory_bytes)
        present = tuple(category.key for category in categories_in(mask))
        header_bytes = IndexHeader(
            dataset=dataset_id,
            records=records,
            imported_at=imported_at or dt.datetime.now(dt.UTC),
            version=version,
            categories=present,
            key_check=key_check(key),
        ).to_bytes()
        with open(temporary, "r+b") as out:
            out.write(header_bytes)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
        _sync_folder(folder)
    return ImportResult(
        dataset=dataset_id,
        path=target,
        rows=rows,
        records=records,
        unreadable=unreadable,
        first_unreadable_lines=unreadable_lines,
        runs=len(sorter.runs),
        seconds=time.monotonic() - started,
        version=version,
        categories=present,
        ignored_columns=columns.ignored,
    )


def _blocks(dump: IO[bytes], first_line: int) -> Iterator[tuple[bytes, int, int]]:
    """(block of whole lines, its first line number, bytes of the dump read so far)."""
    rest = b""
    read = dump.tell()
    while True:
        chunk = dump.read(BLOCK_BYTES)
        read += len(chunk)
        if not chunk:
            if rest:
                yield rest, first_line, read
            return
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a block: keep reading
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        yield block, first_line, read
        first_line += block.count(b"\n")


def _parsed(
    blocks: Iterator[tuple[bytes, int, int]], columns: Columns, default_region: str, key: bytes, jobs: int
) -> Iterator[tuple[ParsedBlock, int]]:
    """Each block parsed, in order, with the bytes read: here, or in ``jobs`` worker processes with at most two
    blocks each in flight (so a fast reader never piles the dump up in memory)."""
    if jobs <= 1:
        digester = NumberDigester(key)
        for block, first_line, read in blocks:
            yield parse_block(block, first_line, columns, default_region, digester), read
        return
    # spawn, not fork: the app that runs the command may have threads, and a forked lock could be held forever
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(jobs, initializer=_start_worker, initargs=(columns, default_region, key))
    try:
        pending: collections.deque[tuple[Any, int]] = collections.deque()
        for block, first_line, read in blocks:
            pending.append((pool.apply_async(_parse_in_worker, (block, first_line)), read))
            if len(pending) >= 2 * jobs:
                result, done = pending.popleft()
                yield result.get(), done
        while pending:
            result, done = pending.popleft()
            yield result.get(), done
        pool.close()
    finally:
        pool.terminate()
        pool.join()


_worker: dict[str, Any] = {}


def _start_worker(columns: Columns, default_region: str, key: bytes) -> None:
    _worker.update(columns=columns, region=default_region, digester=NumberDigester(key))


def _parse_in_worker(block: bytes, first_line: int) -> ParsedBlock:
    return parse_block(block, first_line, _worker["columns"], _worker["region"], _worker["digester"])


class _Scratch:
    """The temporary files of one import in the index's folder: made with names no other file has, and removed
    when the import ends, however it ends (a file already renamed into place is no longer there to remove)."""

    def __init__(self, folder: Path, dataset_id: str) -> None:
        self.folder = folder
        self.prefix = f".{dataset_id}."
        self.files: list[Path] = []

    def __enter__(self) -> _Scratch:
        # what an import killed outright (SIGKILL, power cut) left behind; the dataset lock says none is running
        for leftover in self.folder.glob(f"{self.prefix}run-*"):
            leftover.unlink(missing_ok=True)
        for leftover in self.folder.glob(f"{self.prefix[1:]}idx.tmp-*"):
            leftover.unlink(missing_ok=True)
        return self

    def new(self, prefix: str) -> Path:
        path = self.folder / f"{prefix}{secrets.token_hex(8)}"
        with open(path, "xb"):
            pass
        self.files.append(path)
        return path

    def run_file(self) -> Path:
        return self.new(f"{self.prefix}run-")

    def __exit__(self, *exc: object) -> None:
        for path in self.files:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _dataset_lock(folder: Path, dataset_id: str) -> Iterator[None]:
    with open(folder / f".{dataset_id}.lock", "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BreachImportError(f"another import of {dataset_id} is running; wait until it ends") from None
        yield


class _RunWriter:
    """Gathers (digest, mask) pairs and writes them out as sorted runs of at most ``capacity`` records, each number
    once (masks OR-ed)."""

    def __init__(self, scratch: _Scratch, capacity: int) -> None:
        self.scratch = scratch
        self.capacity = capacity
        self.digests = np.empty(capacity, dtype=np.uint64)
        self.masks = np.empty(capacity, dtype=np.uint16)
        self.filled = 0
        self.runs: list[Path] = []

    def add(self, digests: bytes, masks: bytes) -> None:
        new_digests = np.frombuffer(digests, dtype=">u8")
        new_masks = np.frombuffer(masks, dtype=">u2")
        start = 0
        while start < len(new_digests):
            take = min(self.capacity - self.filled, len(new_digests) - start)
            # as native integers, digests sort in the order of their big-endian bytes: the index's order
            self.digests[self.filled : self.filled + take] = new_digests[start : start + take]
            self.masks[self.filled : self.filled + take] = new_masks[start : start + take]
            self.filled += take
            start += take
            if self.filled == self.capacity:
                self.flush()

    def flush(self) -> None:
        if not self.filled:
            return
        digests, masks = _sorted_unique(self.digests[: self.filled], self.masks[: self.filled])
        path = self.scratch.run_file()
        with open(path, "wb") as run:
            _records(digests, masks).tofile(run)
        self.runs.append(path)
        self.filled = 0


def _sorted_unique(digests: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``digests`` sorted, each once, with the OR of the masks it came with."""
    order = np.argsort(digests, kind="stable")
    digests, masks = digests[order], masks[order]
    if len(digests) == 0:
        return digests, masks
    starts = np.flatnonzero(np.concatenate(([True], digests[1:] != digests[:-1])))
    return digests[starts], np.bitwise_or.reduceat(masks, starts)


def _records(digests: np.ndarray, masks: np.ndarray) -> np.ndarray:
    records = np.empty(len(digests), dtype=RUN_RECORD)
    records["digest"] = digests
    records["mask"] = masks
    return records


class _RunReader:
    """A sorted run read back ``chunk`` records at a time."""

    def __init__(self, path: Path, chunk: int) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - closed by the merge, which holds several at once
        self.chunk = chunk
        self.digests = np.empty(0, dtype=np.uint64)
        self.masks = np.empty(0, dtype=np.uint16)
        self.exhausted = False
        self.load()

    def load(self) -> None:
        records = np.fromfile(self.file, dtype=RUN_RECORD, count=self.chunk)
        if len(records) < self.chunk:
            self.exhausted = True
        self.digests = records["digest"].astype(np.uint64)
        self.masks = records["mask"].astype(np.uint16)

    def take_through(self, bound: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Its loaded records up to ``bound`` (all when None), removed from it; loads the next chunk when it has
        given everything it had loaded."""
        cut = len(self.digests) if bound is None else int(np.searchsorted(self.digests, bound, side="right"))
        taken = self.digests[:cut], self.masks[:cut]
        self.digests, self.masks = self.digests[cut:], self.masks[cut:]
        if not len(self.digests) and not self.exhausted:
            self.load()
        return taken


def _merge_runs(runs: Sequence[Path], target: Path, memory_bytes: int) -> tuple[int, str, int]:
    """Merge the sorted ``runs`` into the body of ``target`` (after room for the header, which the caller writes and
    syncs with it); returns (records, version, OR of every mask)."""
    chunk = max(memory_bytes // (BYTES_PER_SORTED_RECORD * max(len(runs), 1)), 1024)
    readers = [_RunReader(path, chunk) for path in runs]
    body = hashlib.sha256()
    records = 0
    every_mask = 0
    try:
        with open(target, "wb") as out:
            out.write(b"\0" * BODY_OFFSET)
            while True:
                live = [reader for reader in readers if len(reader.digests)]
                if not live:
                    break
                # Everything loaded up to the smallest last-loaded digest of a run that has more to load can go out:
                # no run holds a smaller digest further on (each run is sorted and has each digest once).
                waiting = [int(reader.digests[-1]) for reader in live if not reader.exhausted]
                bound = min(waiting) if waiting else None
                parts = [reader.take_through(bound) for reader in live]
                digests, masks = _sorted_unique(
                    np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])
                )
                data = _records(digests, masks).tobytes()
                body.update(data)
                out.write(data)
                records += len(digests)
                if len(masks):
                    every_mask |= int(np.bitwise_or.reduce(masks))
    finally:
        for reader in readers:
            reader.file.close()
    return records, body.hexdigest()[:16], every_mask


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry), so a crash right after cannot bring the old file back."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
