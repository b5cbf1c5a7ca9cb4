"""Campaign loading at scale: start-up time, memory per campaign, and a request right after one file changed.

Run: ``.venv/bin/python bench/campaigns.py`` (``--count 100`` generated campaigns by default; ``--help``).

Each scenario runs in a fresh Python process, so imports and caches of one never flatter the other:

- ``shipped``: the campaigns in ``campaigns/`` as they are;
- ``shipped + N``: the same, plus N copies of one shipped campaign (``--source``, with its own folder, e.g. its
  agreements), each with its own slug and host, in a temporary folder.

For each it prints the wall time of ``create_app()``, the process's resident memory added by it (RSS after minus
before, from ``/proc/self/status``), the median time of a landing-page request, and the time of the first request
after one campaign file was changed (the development app reloads on the next request). Nothing is asserted: the
targets live in the issue, the figures here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "campaigns"
REQUESTS = 20


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def generate(folder: Path, source: str, count: int) -> None:
    """Copy the shipped campaigns into ``folder`` and add ``count`` renamed copies of ``source``."""
    shutil.copytree(SHIPPED, folder)
    text = (SHIPPED / f"{source}.yaml").read_text()
    own_folder = SHIPPED / source
    for n in range(1, count + 1):
        slug = f"{source}{n:03d}"
        copy = text.replace(f"slug: {source}", f"slug: {slug}")
        # every address of the source campaign gets a numbered twin (an address serves one campaign)
        copy = copy.replace(f"{source}.", f"{slug}.").replace(f"/{source}", f"/{slug}")
        (folder / f"{slug}.yaml").write_text(copy)
        if own_folder.is_dir():
            shutil.copytree(own_folder, folder / slug)


def child(campaigns: Path, host: str, changed: Path) -> dict[str, float]:
    """Runs in its own process: build the app, serve a landing page, change one file, serve again."""
    sys.path.insert(0, str(ROOT))
    import core  # noqa: F401  (imports are not what is measured)
    from core.data.migrations import upgrade

    instance = Path(tempfile.mkdtemp(prefix="bench-campaigns-"))
    database = f"sqlite:///{instance / 'bench.sqlite3'}"
    upgrade(database)
    from core import create_app

    before = rss_kib()
    start = time.perf_counter()
    app = create_app(
        {
            "env": "development",
            "secret_key": "bench-secret-key-that-is-long-enough-0123456789",
            "hash_key": "bench-hash-key-that-is-also-long-enough-98765",
            "instance_dir": instance,
            "database_url": database,
            "campaigns_dir": campaigns,
        }
    )
    started = time.perf_counter() - start
    added = rss_kib() - before
    errors = len(app.extensions["claimsite"].registry.snapshot.errors)
    served = len(app.extensions["claimsite"].registry.snapshot.campaigns)
    client = app.test_client()

    def landing() -> float:
        t = time.perf_counter()
        response = client.get("/", headers={"Host": host})
        elapsed = time.perf_counter() - t
        if response.status_code != 200:
            raise RuntimeError(f"{host}: {response.status_code}")
        return elapsed

    landing()  # first request: templates compiled, caches filled
    normal = statistics.median(landing() for _ in range(REQUESTS))
    text = changed.read_text()
    changed.write_text(text.replace("\n", "\n# changed by bench/campaigns.py\n", 1))
    after_change = landing()
    shutil.rmtree(instance, ignore_errors=True)
    return {
        "campaigns": served,
        "errors": errors,
        "startup_s": started,
        "rss_added_mib": added / 1024,
        "request_ms": normal * 1000,
        "request_after_change_ms": after_change * 1000,
    }


def run_scenario(count: int, source: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-campaigns-") as tmp:
        folder = Path(tmp) / "campaigns"
        generate(folder, source, count)
        changed = folder / (f"{source}{count:03d}.yaml" if count else f"{source}.yaml")
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), "--host", f"{source}.localhost", str(changed)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if out.returncode != 0:
            sys.exit(f"the child process failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="generated campaigns beside the shipped ones")
    parser.add_argument("--source", default="tiktokclaim", help="the shipped campaign to copy")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("changed", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.host, args.changed)))
        return
    rows = [
        ("shipped", run_scenario(0, args.source)),
        (f"shipped + {args.count}", run_scenario(args.count, args.source)),
    ]
    print(
        f"{'scenario':<16}{'campaigns':>10}{'errors':>8}{'start-up s':>12}{'RSS added MiB':>15}"
        f"{'request ms':>12}{'after a change ms':>19}"
    )
    for name, r in rows:
        print(
            f"{name:<16}{r['campaigns']:>10}{r['errors']:>8}{r['startup_s']:>12.2f}{r['rss_added_mib']:>15.1f}"
            f"{r['request_ms']:>12.1f}{r['request_after_change_ms']:>19.1f}"
        )
    base, big = rows[0][1], rows[1][1]
    extra = big["request_after_change_ms"] - big["request_ms"]
    print(
        f"with {args.count} more: start-up {big['startup_s']:.2f} s (target < 1 s), memory "
        f"{big['rss_added_mib'] - base['rss_added_mib']:.1f} MiB more than with the shipped ones (target < 50), "
        f"a request after one changed file {extra:.1f} ms more than a normal one (target < 50)"
    )


if __name__ == "__main__":
    main()
