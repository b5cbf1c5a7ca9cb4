"""Does the time of ``POST /join`` tell whether an address already joined? Median and p90 latency of the form post
for new addresses and for known ones, under gunicorn on loopback, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/signup_known.py`` (``--help`` lists the knobs). PostgreSQL is measured too when
``CLAIMSITE_TEST_POSTGRES_URL`` or ``--postgres-url`` names a server where we may create databases; the bench
creates ``claimsite_bench_<random>``, migrates it and drops it afterwards, as ``signup.py`` does.

gunicorn serves the same app as ``signup.py`` (``signup:make_bench_app()``: the production app, rate limits that
always allow, mail only queued). One client (this process) first posts the form for ``--known`` addresses, which
makes them known, then posts ``--posts`` forms for new addresses and as many for known ones, alternating one of
each, so drift and other load on the machine fall on both alike. Each post is a fresh connection (sync workers
close it after each answer) with the client's own session and csrf_token. Only 302 answers to the verify page
count; anything else fails the run.

Exit status: 0 when figures were printed, 1 when the server did not start or answered wrongly, 2 for a bad command
line.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from landing import BenchFailure, stop
from signup import (
    ENV_POSTGRES,
    FORM,
    Server,
    Session,
    campaign_address,
    open_session_retrying,
    postgres_database,
    sqlite_database,
    start_server,
)


def post(server: Server, session: Session, address: str) -> float:
    """One form post for ``address``; its latency in seconds (connect to last byte of the answer)."""
    body = urlencode({**FORM, "email": address, "csrf_token": session.csrf_token})
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(
            "POST",
            server.join_path,
            body=body,
            headers={
                "Host": server.host,
                "Cookie": session.cookie,
                "User-Agent": "claimsite-bench",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    latency = time.perf_counter() - started
    location = response.getheader("Location", "")
    if response.status != 302 or not location.endswith(f"{server.prefix}/join/verify"):
        raise BenchFailure(f"POST {server.join_path} answered {response.status} {location!r}, not 302 to verify")
    return latency


def post_retrying(server: Server, session: Session, address: str, attempts: int = 5) -> None:
    """:func:`post`, tried again a few times: right after start-up a worker still booting can reset a connection
    (as ``signup.py`` saw too). Only for making addresses known; a measured post is never retried."""
    for attempt in range(attempts):
        try:
            post(server, session, address)
            return
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def percentile_ms(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))] * 1000  # nearest rank


def measure_database(
    args: argparse.Namespace, database: str, url: str, secret: str, tmp: str, host: str, prefix: str
) -> None:
    log = Path(tmp, f"gunicorn-{database}.log")
    server = start_server(args, secret, str(Path(tmp, "instance")), url, host, prefix, log)
    try:
        session = open_session_retrying(server)
        tag = secrets.token_hex(3)
        known = [f"known-{tag}-{n}@example.org" for n in range(args.known)]
        for address in known:  # they join (the form only: a sign-up that waits for its code)
            post_retrying(server, session, address)
        for n in range(args.warmup):  # warm: templates compiled, statements prepared, both kinds
            post(server, session, f"warm-{tag}-{n}@example.org")
            post(server, session, known[n % len(known)])
        new_ms: list[float] = []
        known_ms: list[float] = []
        cycle = itertools.cycle(known)
        for n in range(args.posts):
            new_ms.append(post(server, session, f"new-{tag}-{n}@example.org"))
            known_ms.append(post(server, session, next(cycle)))
        if server.process.poll() is not None:
            raise BenchFailure(f"gunicorn died during the run:\n{log.read_text()[-3000:]}")
    finally:
        stop(server.process)
    for label, values in (("new", new_ms), ("known", known_ms)):
        print(
            f"{database:10} {label:5} address: median {statistics.median(values) * 1000:6.1f} ms  "
            f"p90 {percentile_ms(values, 90):6.1f} ms  ({len(values)} posts)"
        )
    ratio = statistics.median(known_ms) / statistics.median(new_ms)
    print(f"{database:10} known/new median: {ratio:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300, help="form posts of each kind (new, known)")
    parser.add_argument("--known", type=int, default=50, help="addresses made known first, then posted in turn")
    parser.add_argument("--warmup", type=int, default=30, help="posts of each kind before measuring")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4, as README.md runs production)")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(ENV_POSTGRES, ""),
        help=f"PostgreSQL server where a database may be created (default: ${ENV_POSTGRES})",
    )
    args = parser.parse_args(argv)
    if args.posts < 10 or args.known < 1 or args.warmup < 0:
        parser.error("--posts must be at least 10, --known at least 1")
    args.worker_class, args.threads_per_worker = "sync", 1
    secret = secrets.token_urlsafe(36)
    try:
        with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
            host, prefix = campaign_address(secret, str(Path(tmp, "instance")))
            print(
                f"POST http://{host}{prefix}/join, one client, {args.posts} posts each for new and known "
                f"addresses, alternating; gunicorn {args.workers} sync workers; load average "
                f"{os.getloadavg()[0]:.2f}"
            )
            if "sqlite" in args.databases:
                with sqlite_database(tmp) as url:
                    measure_database(args, "sqlite", url, secret, tmp, host, prefix)
            if "postgresql" in args.databases and args.postgres_url:
                with postgres_database(args.postgres_url) as url:
                    measure_database(args, "postgresql", url, secret, tmp, host, prefix)
            elif "postgresql" in args.databases:
                print(f"postgresql skipped: set {ENV_POSTGRES} or --postgres-url")
    except (BenchFailure, OSError) as exc:
        print(f"bench failed: {exc!r}", file=sys.stderr)
        return 1
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
