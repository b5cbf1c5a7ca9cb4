"""A traffic spike on the production shape: nginx's micro-cache against nginx serving a static file, and sign-ups
during the spike.

Run: ``.venv/bin/python bench/spike.py`` (``--help`` lists the knobs; about 3 minutes, both cores busy). Needs wrk
(Debian's package, ``make system-deps``), nginx, PostgreSQL (``--postgres``, where it creates and drops a database
of its own) and Redis (database 11 by default, as ``make prod-check``).

It starts the shape of ``make prod-check`` (tests/production_shape.py: nginx with the file ``flask deploy nginx``
makes, here with its edge limits off, since all load comes from one address; two gunicorn instances of 2 workers;
two mail workers; production settings) and gives nginx one more server, on a port of its own, that serves the
landing page's exact bytes (``Host: tiktokclaim.org``, ``/``, fetched from the app first) as a static file.

1. **Throughput**, in interleaved rounds (the order turns each round) of wrk with 64 connections on the same page:
   nginx's static file, the page through nginx's micro-cache (and the app behind it), and the page from one app
   instance alone (gunicorn directly, with the app's own 2 s page cache). Each request carries one of several
   browsers' ``Accept-Language`` and ``User-Agent`` headers in turn (a wrk Lua script, the same for all three);
   none sends a cookie or ``Accept-Encoding``. Printed: requests/s per round, the medians, the ratio
   micro-cached/static (target: at least 0.8) and the micro-cache's hit ratio (from an access log of nginx's
   ``$upstream_cache_status``).
2. **The spike**: wrk with 64 connections on the landing page through nginx for 30 s, and alongside it sign-ups at a
   steady 20 a second (each from a loopback address of its own: ``GET /en/join`` for the form and the session
   cookie, then the ``POST``), scheduled on the clock, not after the previous answer. Printed: the posts' p50 and
   p99 (target: p99 under 200 ms), and then that none was lost: posts answered 302 = sign-up rows = code mails
   the mail server received.

The exit status is 1 when a piece does not start, wrk gets a non-2xx answer, or a sign-up is lost; a missed
target only prints.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.nginx_server import http_request, nginx_binary  # noqa: E402
from tests.production_shape import SIGNUP_HOST, ProductionShape, ShapeError, Visitor  # noqa: E402
from tests.smtp_server import free_port  # noqa: E402

RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: (.*)")
LANGUAGES = [
    "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7",
    "en-US,en;q=0.9",
    "nl",
    "de-DE,de;q=0.9,en;q=0.8",
    "en-GB,en;q=0.9,nl;q=0.8",
    "fr-FR,fr;q=0.9,en;q=0.5",
    "nl-BE,nl;q=0.9,fr;q=0.8",
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
]


class BenchFailure(Exception):
    pass


def lua_script(folder: Path) -> Path:
    """wrk's script: each request with the next browser's Accept-Language and User-Agent."""

    def table(values: list[str]) -> str:
        return "{" + ", ".join(f'"{value}"' for value in values) + "}"

    path = folder / "browsers.lua"
    path.write_text(
        f"""local languages = {table(LANGUAGES)}
local agents = {table(AGENTS)}
local n = 0
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
request = function()
  n = n + 1
  wrk.headers["Accept-Language"] = languages[n % #languages + 1]
  wrk.headers["User-Agent"] = agents[math.floor(n / #languages) % #agents + 1]
  return wrk.format("GET")
end
""",
        encoding="utf-8",
    )
    return path


def run_wrk(script: Path, port: int, seconds: int, connections: int, threads: int) -> float:
    """Requests/s wrk measured on the landing page at 127.0.0.1:``port``; a non-2xx answer is a failure."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",  # wrk takes whole seconds
        "--timeout",
        "5s",
        "-s",
        str(script),
        "-H",
        f"Host: {SIGNUP_HOST}",
        f"http://127.0.0.1:{port}/",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 15, check=False)
    except subprocess.TimeoutExpired:
        raise BenchFailure(f"wrk did not finish within {seconds + 15:g} s") from None
    rate = RATE.search(result.stdout)
    if result.returncode != 0 or rate is None:
        raise BenchFailure(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    if bad := NON_2XX.search(result.stdout):
        raise BenchFailure(f"{bad.group(1)} non-2xx answers on port {port}:\n{result.stdout}")
    if errors := SOCKET_ERRORS.search(result.stdout):
        print(f"    note: wrk socket errors on port {port}: {errors.group(1)}", flush=True)
    return float(rate.group(1))


class CacheLog:
    """nginx's access log of ``$upstream_cache_status``: the share of HITs among the lines added since ``mark``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def statuses(self) -> dict[str, int]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            counts: dict[str, int] = {}
            for line in log:
                status = line.split(b" ", 1)[0].decode() or "-"
                counts[status] = counts.get(status, 0) + 1
        return counts


def throughput(args: argparse.Namespace, shape: ProductionShape, static_port: int, script: Path) -> None:
    assert shape.nginx is not None
    cache_log = CacheLog(shape.folder / "nginx" / "cache-status.log")
    kinds = {
        "nginx static file": static_port,
        "nginx micro-cache + app": shape.nginx.port,
        "app alone (one instance)": shape.machines[0].port,
    }
    for port in kinds.values():  # warm-up
        run_wrk(script, port, args.warmup, args.connections, args.threads)
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    hits: dict[str, int] = {}
    print(f"\n1. throughput: wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds of {args.seconds:g} s")
    for round_ in range(args.rounds):
        order = list(kinds)[round_ % 3 :] + list(kinds)[: round_ % 3]
        line = []
        for kind in order:
            cache_log.mark()
            rate = run_wrk(script, kinds[kind], args.seconds, args.connections, args.threads)
            figures[kind].append(rate)
            if kind == "nginx micro-cache + app":
                for status, n in cache_log.statuses().items():
                    hits[status] = hits.get(status, 0) + n
            line.append(f"{kind}: {rate:,.0f}/s")
        print(f"  round {round_ + 1}: " + "; ".join(line), flush=True)
    medians = {kind: statistics.median(rates) for kind, rates in figures.items()}
    static = medians["nginx static file"]
    for kind, median in medians.items():
        print(f"  median {kind:<26} {median:>10,.0f}/s  ({median / static:.2f} of static)")
    cached = medians["nginx micro-cache + app"] / static
    print(f"  micro-cached / static: {cached:.2f} (target: at least 0.8): {'met' if cached >= 0.8 else 'MISSED'}")
    total = sum(hits.values())
    print(
        f"  micro-cache hit ratio: {hits.get('HIT', 0) / total:.4f} of {total:,} requests ("
        + ", ".join(f"{status} {n:,}" for status, n in sorted(hits.items()))
        + ")"
    )


def spike(args: argparse.Namespace, shape: ProductionShape, script: Path) -> bool:
    """wrk on the landing page through nginx, and sign-ups at a steady rate alongside; True when none was lost."""
    assert shape.nginx is not None
    port = shape.nginx.port
    total = int(args.spike_seconds * args.signups_per_second)
    run = time.strftime("%H%M%S")
    addresses = [f"spike-{run}-{n}@example.org" for n in range(total)]
    results: list[tuple[float, float, int | str]] = []  # (late by, post latency, status)
    lock = threading.Lock()

    def sign_up(n: int, at: float) -> None:
        late = time.monotonic() - at
        visitor = Visitor(port, source=f"127.0.{20 + n // 250}.{n % 250 + 1}")
        try:
            token = visitor.form_token("/en/join")
            started = time.monotonic()
            status: int | str = visitor.join(addresses[n], token=token).status
        except (OSError, AssertionError) as exc:
            started, status = time.monotonic(), type(exc).__name__
        with lock:
            results.append((late, time.monotonic() - started, status))

    print(
        f"\n2. spike: wrk -t{args.threads} -c{args.connections} on the landing page through nginx for "
        f"{args.spike_seconds:g} s, with {args.signups_per_second:g} sign-ups/s alongside",
        flush=True,
    )
    wrk_rate: list[float] = []
    load = threading.Thread(
        target=lambda: wrk_rate.append(run_wrk(script, port, args.spike_seconds, args.connections, args.threads))
    )
    load.start()
    time.sleep(1.0)  # the spike is on before the first sign-up
    start = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        for n in range(total):
            at = start + n / args.signups_per_second
            time.sleep(max(0.0, at - time.monotonic()))
            pool.submit(sign_up, n, at)
    load.join()
    latencies = sorted(latency for _, latency, _ in results)
    statuses: dict[str, int] = {}
    for _, _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"  landing page through nginx during the spike: {wrk_rate[0]:,.0f}/s")
    print(
        f"  sign-up posts: {len(results)} ({', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))}); "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (target: under 200 ms): "
        f"{'met' if p99 < 0.2 else 'MISSED'}; started at most {max(late for late, _, _ in results) * 1000:.0f} ms "
        "after their time"
    )
    return check_none_lost(shape, addresses, statuses.get("302", 0))


def check_none_lost(shape: ProductionShape, addresses: list[str], answered_302: int) -> bool:
    rows = shape.rows()
    stored = [address for address in addresses if ("tiktokclaim", shape.email_hash(address)) in rows]
    mails = shape.wait_for_code_mails(stored, timeout=120)
    time.sleep(2.0)
    mailed = sum(len(shape.code_mails(address)) for address in stored)
    none_lost = answered_302 == len(stored) == mailed and all(mails.values())
    print(
        f"  answered 302: {answered_302}; sign-up rows: {len(stored)}; code mails received: {mailed}: "
        f"{'none lost' if none_lost else 'LOST OR DOUBLED'}"
    )
    return none_lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run in a round (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="wrk warm-up on each, seconds (default 2)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--spike-seconds", type=int, default=30)
    parser.add_argument("--signups-per-second", type=float, default=20.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None or nginx_binary() is None:
        print("needs wrk and nginx (Debian's packages: make system-deps)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="claimsite-spike-") as tmp:
        folder = Path(tmp)
        static_port, static_root = free_port(), folder / "static"
        static_root.mkdir()
        extra = f"""
# bench/spike.py: the cache status of each request, and the landing page's bytes as a static file.
log_format claimsite_cache_status '$upstream_cache_status $status';
access_log {folder / "nginx" / "cache-status.log"} claimsite_cache_status;
server {{
    listen 127.0.0.1:{static_port};
    server_name _;
    root {static_root};
    location / {{ index index.html; }}
}}
"""
        shape = ProductionShape(
            folder,
            args.postgres,
            args.redis,
            workers_count=2,
            nginx_options=("--requests-per-second", "0", "--connections-per-address", "0"),
            nginx_extra=extra,
        )
        try:
            with shape:
                page = Visitor(shape.machines[0].port).send("GET", "/", port=shape.machines[0].port)
                if page.status != 200:
                    raise BenchFailure(f"the landing page answered {page.status}")
                (static_root / "index.html").write_bytes(page.body.encode("utf-8"))
                static = http_request(static_port, "GET", "/", SIGNUP_HOST)
                if static.body != page.body:
                    raise BenchFailure("the static file is not the landing page's bytes")
                print(
                    f"shape up: nginx on {shape.nginx.port} (static file on {static_port}), gunicorn "  # type: ignore[union-attr]
                    f"{', '.join(str(m.port) for m in shape.machines)} ({shape.gunicorn_workers} workers each), "
                    f"{len(shape.workers)} mail workers; the page is {len(page.body.encode()):,} bytes",
                    flush=True,
                )
                script = lua_script(folder)
                throughput(args, shape, static_port, script)
                return 0 if spike(args, shape, script) else 1
        except (BenchFailure, ShapeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(shape.log_tails(), file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
