"""How fast the breach index is made and read: a synthetic dump of N records, imported, then looked up.

Run: ``.venv/bin/python bench/breach.py`` (``--records N``, default 1 million; ``--help`` lists the rest). It writes
a dump shaped like a leak (``phone`` plus every category column, each cell filled or empty at random) of uniform
random mobile numbers under a few country codes, written as dumps write them (``+31...``, ``0031...``,
``31...``), into a temporary folder; imports it with the real importer (:func:`core.breach.importer.import_dump`,
what ``flask breach import`` runs) in a child process; and prints rows/s, the child's peak memory (its
``ru_maxrss``, which covers its parsing workers too) and CPU time per row, bytes per record of the index, and the
time of one lookup (median and p99 over ``--lookups``, half of them numbers in the dump, half not). Targets for
100 million records: at least 150,000 rows/s with under 1 GiB of memory, at most 12 bytes per record, a lookup
under 50 µs.

Exit status: 0 when figures were printed, 1 when the import failed or a lookup answered wrongly.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (country code, first digits of a mobile number, digits after them): valid mobile ranges of each plan
PLANS = (("31", "61", 7), ("49", "151", 8), ("32", "47", 7), ("33", "61", 7), ("44", "77", 8))
FORMATS = ("+{}", "00{}", "{}")
KEY = b"bench-breach-key-0123456789abcdef"


def write_dump(path: Path, records: int, seed: int) -> list[str]:
    """Write the dump; returns a sample of its numbers (E.164) for the lookups."""
    from core.breach.categories import KEYS

    columns = [key for key in KEYS if key != "phone"]
    rng = random.Random(seed)
    sample: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as dump:
        dump.write(",".join(["phone", *columns]) + "\n")
        lines: list[str] = []
        for index in range(records):
            code, prefix, digits = PLANS[index % len(PLANS)]
            national = prefix + str(rng.randrange(10**digits)).zfill(digits)
            if len(sample) < 100_000 and index % 7 == 0 and _valid(f"+{code}{national}"):
                sample.append(f"+{code}{national}")
            cells = "".join("," + ("x" if rng.random() < 0.6 else "") for _ in columns)
            lines.append(FORMATS[index % 3].format(code + national) + cells)
            if len(lines) >= 50_000:
                dump.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            dump.write("\n".join(lines) + "\n")
    return sample


def _valid(number: str) -> bool:
    from core.breach.phones import NotAPhoneNumber, normalise

    try:
        return normalise(number, "NL") == number
    except NotAPhoneNumber:
        return False


def run_import(dump: Path, folder: Path, memory: int, jobs: int) -> dict[str, object]:
    """Import in a child process (its peak memory is then its own); returns the importer's figures."""
    program = (
        "import json, sys; from pathlib import Path; from core.breach.importer import import_dump\n"
        "r = import_dump(Path(sys.argv[1]), dataset_id='bench', folder=Path(sys.argv[2]),"
        " key=bytes.fromhex(sys.argv[3]), default_region='NL', memory_bytes=int(sys.argv[4]), jobs=int(sys.argv[5]))\n"
        "print(json.dumps({'rows': r.rows, 'records': r.records, 'unreadable': r.unreadable, 'runs': r.runs,"
        " 'seconds': r.seconds, 'path': str(r.path)}))\n"
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    done = subprocess.run(
        [sys.executable, "-c", program, str(dump), str(folder), KEY.hex(), str(memory), str(jobs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"the import failed:\n{done.stderr}")
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["peak_kib"] = max(usage.ru_maxrss, before)
    # CPU time of the import and its workers: less moved by other load than rows per second of wall time
    figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime - cpu_before
    return figures


def time_lookups(index_file: Path, found: list[str], count: int, seed: int) -> tuple[float, float]:
    """(median, p99) µs of one lookup (digest in hand), half of them numbers in the index, half not."""
    from core.breach.index_file import open_index
    from core.breach.numbers import number_digest

    index = open_index(index_file)
    rng = random.Random(seed)
    numbers = [
        (rng.choice(found), True) if i % 2 else (f"+3197{rng.randrange(10**9):09d}", False) for i in range(count)
    ]
    timings = []
    for number, expected in numbers:
        digest = number_digest(KEY, number)
        start = time.perf_counter_ns()
        mask = index.lookup(digest)
        timings.append(time.perf_counter_ns() - start)
        if (mask is not None) != expected:
            sys.exit(f"lookup answered wrongly ({'not found' if expected else 'found'})")
    timings.sort()
    return statistics.median(timings) / 1000, timings[int(len(timings) * 0.99)] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="rows in the dump (default 1 million)")
    parser.add_argument("--memory", type=int, default=256, help="the import's --memory in MiB (default 256)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parsing processes (default: CPUs)")
    parser.add_argument("--lookups", type=int, default=200_000, help="lookups timed (default 200,000)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--keep", type=Path, help="write the dump and index here and keep them")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="claimsite-bench-breach-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        dump = folder / "dump.csv"
        started = time.monotonic()
        found = write_dump(dump, args.records, args.seed)
        print(
            f"dump: {args.records:,} rows, {dump.stat().st_size / 2**20:,.0f} MiB, "
            f"in {time.monotonic() - started:.1f} s"
        )
        figures = run_import(dump, folder, args.memory * 2**20, args.jobs)
        index_file = Path(str(figures["path"]))
        rows, records, seconds = int(figures["rows"]), int(figures["records"]), float(figures["seconds"])  # type: ignore[arg-type]
        print(
            f"import: {rows / seconds:,.0f} rows/s ({seconds:.1f} s, {args.jobs} parsing process(es), "
            f"{figures['runs']} run(s), {figures['unreadable']} unreadable); peak memory "
            f"{int(figures['peak_kib']) / 1024:,.0f} MiB (--memory {args.memory} MiB)"  # type: ignore[call-overload]
        )
        cpu = float(figures["cpu_seconds"])  # type: ignore[arg-type]
        print(
            f"import CPU: {cpu:.1f} s in all processes, {cpu / rows * 1e6:.1f} µs per row: "
            f"{rows / cpu:,.0f} rows per CPU-second"
        )
        size = index_file.stat().st_size
        print(f"index: {records:,} numbers, {size / 2**20:,.1f} MiB, {size / max(records, 1):.2f} bytes per record")
        median, p99 = time_lookups(index_file, found, args.lookups, args.seed)
        print(f"lookup: median {median:.1f} µs, p99 {p99:.1f} µs ({args.lookups:,} lookups, half found)")
        load = os.getloadavg()
        print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other load moves every figure)")


if __name__ == "__main__":
    main()
