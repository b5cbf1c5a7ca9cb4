"""The participant's vault (core/vault/): a large file encrypted into the local store and decrypted back, with the
time and memory each way, and a check that no plaintext reached the store.

Run: ``.venv/bin/python bench/vault.py`` (1 GiB; ``--size 20M`` for a quick run, ``--help`` for the rest).

- **The plaintext** is made as it is read (:class:`MarkedPlaintext`), never held whole and never on disk: 1 MiB
  blocks, each numbered in its first 8 bytes, filled with pseudo-random bytes and a marker every 4 KiB
  (``CLAIMSITE-PLAINTEXT-<random hex>``, new each run, so nothing but this run's plaintext can hold it).
- **In**: ``LocalFolderStore.put(key, EncryptingReader(plaintext, public key))``: the store pulls the vault file,
  which is encrypted chunk by chunk as it is pulled (``--chunk-size``, 1 MiB as in production), into a partial file
  renamed into place when whole.
- **Out**: ``decrypt_stream(store.open(key), sink, private key)``; the sink compares every byte with a second,
  identical generator (cheaper than hashing both sides, so the figures are the vault's own) and keeps nothing.
- **Memory**, per direction: the growth of the peak RSS (the process's peak is reset to its current RSS first,
  through ``/proc/self/clear_refs``, as bench/export.py does) and the peak of Python's allocations (tracemalloc).
  Tracing costs little here: the work is a few large allocations per chunk; ``--no-tracemalloc`` times without it.
- **The check**: every file under the store's folder (partial files included) is read through for the run's
  marker; there must be exactly one file, the stored one, of the vault file's size.

Exit status: 0 when the figures were printed and the checks passed, 1 when a check failed (the plaintext came back
different, or a marker was found), 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import re
import resource
import secrets
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from export import reset_peak_rss, status_kib

from core.vault.store import LocalFolderStore, new_key
from core.vault.stream_format import DEFAULT_CHUNK_SIZE, EncryptingReader, decrypt_stream, generate_key_pair

BLOCK = 1 << 20
MARKER_EVERY = 4096
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class MarkedPlaintext(io.RawIOBase):
    """``size`` bytes made as they are read: numbered 1 MiB blocks of pseudo-random bytes with ``marker`` every
    4 KiB. Two with the same ``marker`` and ``size`` give the same bytes."""

    def __init__(self, size: int, marker: bytes) -> None:
        super().__init__()
        template = bytearray(hashlib.shake_256(marker).digest(BLOCK))
        for offset in range(0, BLOCK, MARKER_EVERY):
            template[offset + 16 : offset + 16 + len(marker)] = marker
        self._template, self._block = bytes(template), bytearray(template)
        self.size, self.at = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        offset = self.at % BLOCK
        if offset == 0:
            self._block[:8] = (self.at // BLOCK).to_bytes(8, "big")
        count = min(len(buffer), BLOCK - offset, self.size - self.at)
        if count <= 0:
            return 0
        buffer[:count] = memoryview(self._block)[offset : offset + count]
        self.at += count
        return count


class CompareSink(io.RawIOBase):
    """Takes what is written and compares it with ``expected``, read alongside; keeps nothing."""

    def __init__(self, expected: BinaryIO) -> None:
        super().__init__()
        self._expected, self.size, self.first_difference = expected, 0, None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        at = 0
        while at < len(view):
            wanted = self._expected.read(len(view) - at) or b""
            if not wanted:
                self._differ(at)
                break
            if view[at : at + len(wanted)] != wanted:
                self._differ(at)
            at += len(wanted)
        self.size += len(view)
        return len(view)

    def _differ(self, at: int) -> None:
        if self.first_difference is None:
            self.first_difference = self.size + at


@dataclass
class Figures:
    seconds: float
    cpu_seconds: float
    rss_growth_kib: int | None
    traced_peak: int | None


def measured(work: Callable[[], Any], trace: bool) -> tuple[Any, Figures]:
    """``work()``, with its wall and CPU time, the growth of the peak RSS it caused, and tracemalloc's peak."""
    gc.collect()
    if trace:
        tracemalloc.start()
    exact = reset_peak_rss()
    rss_before = status_kib("VmRSS")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    try:
        result = work()
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        peak = status_kib("VmHWM")
        traced = tracemalloc.get_traced_memory()[1] if trace else None
    finally:
        if trace:
            tracemalloc.stop()
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    growth = peak - rss_before if exact and peak is not None and rss_before is not None else None
    return result, Figures(seconds, cpu, growth, traced)


def marker_at(file: BinaryIO, marker: bytes) -> int | None:
    """Where ``marker`` first occurs in ``file``, read in blocks with an overlap; None if nowhere."""
    tail, offset = b"", 0
    while block := file.read(8 * BLOCK):
        window = tail + block
        at = window.find(marker)
        if at >= 0:
            return offset - len(tail) + at
        tail = window[-(len(marker) - 1) :]
        offset += len(block)
    return None


def markers_in(folder: Path, marker: bytes) -> list[tuple[str, int]]:
    """Every file under ``folder`` that holds ``marker``, with where it first does."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as file:
                at = marker_at(file, marker)
            if at is not None:
                found.append((str(path), at))
    return found


def size_argument(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)i?B?", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a size such as 20M, 1G or 1048576 (K, M, G are powers of 1024)"
        )
    return int(match[1]) * UNITS[match[2]]


def line(name: str, size: int, figures: Figures) -> str:
    rate = size / figures.seconds / (1 << 20) if figures.seconds else float("inf")
    rss = f"{figures.rss_growth_kib / 1024:.1f} MiB" if figures.rss_growth_kib is not None else "n/a (no /proc)"
    traced = f"{figures.traced_peak / (1 << 20):.1f} MiB" if figures.traced_peak is not None else "not traced"
    return (
        f"{name:<16} {figures.seconds:7.2f} s  {rate:7.1f} MiB/s  CPU {figures.cpu_seconds:6.2f} s  "
        f"peak RSS growth {rss}  tracemalloc peak {traced}"
    )


def run(size: int, chunk_size: int, folder: Path, trace: bool) -> int:
    marker = b"CLAIMSITE-PLAINTEXT-" + secrets.token_hex(8).encode()
    private, public = generate_key_pair()
    store, key = LocalFolderStore(folder / "vault"), new_key()
    print(f"{size:,} bytes ({size / (1 << 20):.1f} MiB), chunks of {chunk_size:,} bytes, store in {store.folder}")
    print(f"peak RSS before: {(status_kib('VmHWM') or 0) / 1024:.1f} MiB (the interpreter and imports)")

    reader = EncryptingReader(MarkedPlaintext(size, marker), public, chunk_size)  # type: ignore[arg-type]
    stored, figures_in = measured(lambda: store.put(key, reader), trace)
    print(line("encrypt + store", size, figures_in))

    sink = CompareSink(MarkedPlaintext(size, marker))  # type: ignore[arg-type]

    def read_back() -> int:
        with store.open(key) as file:
            return decrypt_stream(file, sink, private)  # type: ignore[arg-type]

    returned, figures_out = measured(read_back, trace)
    print(line("open + decrypt", size, figures_out))

    problems = []
    if returned != size or sink.size != size or sink.first_difference is not None:
        problems.append(
            f"the plaintext came back different: {returned:,} bytes, first difference at {sink.first_difference}"
        )
    if not stored == reader.info.size_cipher == store.size(key):
        problems.append(f"stored {stored:,} bytes, the vault file has {reader.info.size_cipher:,}")
    files = [path for path in store.folder.rglob("*") if path.is_file()]
    if files != [store.path(key)]:
        problems.append(f"the store holds {[str(path) for path in files]}, not the one file {store.path(key)}")
    # The scan must be able to find what it looks for: the plaintext itself, in memory, holds the marker where it
    # was put, also across the scan's own block boundaries.
    control = MarkedPlaintext(8 * BLOCK + 3 * MARKER_EVERY, marker)
    control.at = 8 * BLOCK - 20
    if marker_at(control, marker) != 36:  # type: ignore[arg-type]
        problems.append("the marker scan does not find the marker in the plaintext itself")
    scan_started = time.perf_counter()
    found = markers_in(store.folder, marker)
    print(
        f"plaintext marker: {'FOUND ' + str(found) if found else 'not found'} in {len(files)} file(s) of the store "
        f"({time.perf_counter() - scan_started:.1f} s to scan); overhead {stored - size:,} bytes"
    )
    if found:
        problems.append(f"plaintext found in the store: {found}")
    for problem in problems:
        print("FAILED:", problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=size_argument, default=1 << 30, help="plaintext size (default 1G = 1 GiB)")
    parser.add_argument("--chunk-size", type=size_argument, default=DEFAULT_CHUNK_SIZE, help="default 1M")
    parser.add_argument("--folder", type=Path, help="where the store goes (default: a temporary folder, removed)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="time without tracing Python's allocations")
    args = parser.parse_args(argv)
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="claimsite-vault-bench-", dir=args.folder))
    else:
        work = Path(tempfile.mkdtemp(prefix="claimsite-vault-bench-"))
    try:
        return run(args.size, args.chunk_size, work, not args.no_tracemalloc)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
