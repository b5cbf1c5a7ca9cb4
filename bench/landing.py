"""Landing-page throughput against a from-memory reference view, both served by gunicorn, measured with wrk.

Run: ``.venv/bin/python bench/landing.py`` (or ``make bench``); ``--help`` lists the knobs.

gunicorn builds the real production app through :func:`make_bench_app` (this module, imported as ``landing``
by the workers; settings arrive in ``CLAIMSITE_BENCH_*`` environment variables). That app has one extra view,
at ``<campaign prefix>/__bench/reference``, which returns from memory the landing page's exact bytes, status
and Content-Type. It passes through the same tenancy middleware, Flask dispatch and app-wide request hooks, so
landing/reference measures only what the landing view (language handling, page cache, templates) costs.

Exit status: 0 when figures were printed (also when the target is missed), 1 when the server did not start or
answered wrongly, 2 for a bad command line or a missing tool.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
REFERENCE_PATH = "/__bench/reference"
TARGET = 0.9
MAX_TOTAL_SECONDS = 60
STARTUP_SECONDS = 15
ENV_SECRET = "CLAIMSITE_BENCH_SECRET_KEY"
ENV_INSTANCE = "CLAIMSITE_BENCH_INSTANCE_DIR"
ENV_HOST = "CLAIMSITE_BENCH_HOST"
ENV_PREFIX = "CLAIMSITE_BENCH_PREFIX"
PREFERRED_CAMPAIGN = "tiktokclaim"


class BenchFailure(Exception):
    """The server did not start or answered wrongly (exit status 1)."""


# Production refuses to start when a campaign asks a payment that no provider may take (the TikTok claim does).
# The bench sends no payments, so Stripe keys that lead nowhere do: nothing here opens a checkout.
OFFLINE_STRIPE = {
    "CLAIMSITE_STRIPE_SECRET_KEY": "sk_test_bench_offline",
    "CLAIMSITE_STRIPE_WEBHOOK_SECRET": "whsec_bench_offline",
    "CLAIMSITE_STRIPE_API_BASE": "http://127.0.0.1:9",
}


def app_config(secret_key: str, instance_dir: str) -> dict[str, object]:
    # The hash key is derived from the secret only so the bench needs one variable; production keeps them apart.
    for name, value in OFFLINE_STRIPE.items():
        os.environ.setdefault(name, value)
    return {
        "env": "production",
        "secret_key": secret_key,
        "hash_key": secret_key[::-1] + "-hash",
        "contact_key": secret_key[::-1] + "-contact",
        "breach_key": secret_key[::-1] + "-breach",
        "instance_dir": instance_dir,
        "mail_url": "smtp://127.0.0.1:1",
        "sealing_public_key": bench_public_key(Path(instance_dir) / "keys"),
        # production refuses counts in memory; the benched pages hit no limit (bench/signup.py replaces them)
        "ratelimit_storage_url": os.environ.get("CLAIMSITE_RATELIMIT_STORAGE_URL") or "redis://127.0.0.1:6379/0",
        # Production refuses to start without a mandate seal and a time-stamping authority. These benches make no
        # mandate (the worker does, and none runs here), so nothing listens at the authority's address: a seal
        # would fail loudly. bench/faults.py, which runs the worker, starts a real one on loopback.
        **bench_seal(Path(instance_dir), os.environ.get("BENCH_TIMESTAMP_URL", "http://127.0.0.1:9/tsa")),
    }


def bench_seal(instance_dir: Path, timestamp_url: str) -> dict[str, str]:
    """Seal settings for a production app of a bench: a CA and seal certificate of the bench's own, made once in
    its temporary instance folder."""
    from core.certificates import development_identity

    identity = development_identity(instance_dir / "bench-seal", common_name="claimsite bench seal")
    return {
        "mandate_seal_key": str(identity.key),
        "mandate_seal_certificate": str(identity.certificate),
        "mandate_seal_chain": ":".join(str(path) for path in identity.chain),
        "mandate_timestamp_url": timestamp_url,
    }


def bench_public_key(folder: Path) -> str:
    """A key pair of the bench's own (made by the first app, before gunicorn starts): the public half, as
    production gets it; the private half stays in the temporary folder."""
    from core.sealing import generate

    existing = sorted(folder.glob("public-*.key"))
    public = existing[0] if existing else generate(folder)[1]
    return public.read_text(encoding="utf-8")


def make_bench_app():  # type: ignore[no-untyped-def]
    """gunicorn's app factory (``landing:make_bench_app()``): the real app plus the reference view."""
    from flask import Response, abort, request

    from core import create_app

    app = create_app(app_config(os.environ[ENV_SECRET], os.environ[ENV_INSTANCE]))
    host, prefix = os.environ[ENV_HOST], os.environ[ENV_PREFIX]
    stored: dict[tuple[str, str], tuple[int, str, bytes]] = {}

    def bench_reference() -> Response:
        answer = stored.get((request.host, request.script_root))
        if answer is None:
            abort(404)
        status, content_type, body = answer
        return Response(body, status=status, content_type=content_type)

    app.add_url_rule(REFERENCE_PATH, "bench_reference", bench_reference)
    # The landing page as a client without cookies gets it (like wrk), rendered once in this worker.
    landing = app.test_client().get(f"{prefix}/", headers={"Host": host})
    stored[(host, prefix)] = (landing.status_code, landing.content_type or "", landing.get_data())
    return app


# --- the driver ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    slug: str
    host: str
    prefix: str  # "" for a whole host, "/palantirclaim" for a path campaign

    @property
    def landing_path(self) -> str:
        return f"{self.prefix}/"

    @property
    def reference_path(self) -> str:
        return f"{self.prefix}{REFERENCE_PATH}"


def choose_target(secret_key: str, instance_dir: str) -> Target:
    """tiktokclaim.org if it is served, else the first campaign's canonical address."""
    from core import create_app
    from core.campaigns import CampaignConfigError
    from core.data.migrations import upgrade
    from core.settings import SettingsError

    try:
        app = create_app(app_config(secret_key, instance_dir))
    except (CampaignConfigError, SettingsError) as exc:
        raise BenchFailure(f"the production app cannot start:\n{exc}") from None
    upgrade(app.extensions["claimsite.db"].url)  # the landing page shows the live participant count
    campaigns = app.extensions["claimsite"].registry.snapshot.campaigns
    if not campaigns:
        raise BenchFailure("no campaign is served (campaigns/ is empty)")
    slug = PREFERRED_CAMPAIGN if PREFERRED_CAMPAIGN in campaigns else sorted(campaigns)[0]
    address = app.extensions["claimsite"].tenancy.index().canonical[slug]
    return Target(slug, address.host, address.prefix)


def free_port() -> int:
    """A port below 32768 (outside Linux's ephemeral range) that nothing listens on right now."""
    for _ in range(100):
        port = random.randint(10000, 32767)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchFailure("no free port below 32768 on 127.0.0.1")


def fetch(port: int, host: str, path: str, timeout: float = 5.0) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def wait_until_up(server: subprocess.Popen[bytes], port: int, target: Target, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchFailure(f"gunicorn exited with status {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            fetch(port, target.host, target.reference_path, timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    raise BenchFailure(f"gunicorn did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


def check_answers(port: int, target: Target, workers: int) -> int:
    """Landing answers 200 and the reference the very same status, Content-Type and bytes, in every worker."""
    answers = set()
    for _ in range(4 * workers):  # enough requests to reach each worker
        for path in (target.landing_path, target.reference_path):
            answers.add(fetch(port, target.host, path))
    (status, content_type, body), *others = answers
    if others:
        described = ", ".join(f"{s} {ct!r} {len(b)} bytes" for s, ct, b in answers)
        raise BenchFailure(f"landing and reference differ (or vary between requests): {described}")
    if status != 200:
        raise BenchFailure(f"http://{target.host}{target.landing_path} answered {status}, not 200")
    if not content_type.startswith("text/html"):
        raise BenchFailure(f"landing page has Content-Type {content_type!r}")
    return len(body)


RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
REQUESTS = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: (.*)")


@dataclass(frozen=True)
class Figure:
    rate: float  # requests/s, as wrk measured
    cpu_us: float  # CPU time of the gunicorn processes per request, in microseconds


def server_cpu_seconds(master: int) -> float:
    """user + system CPU time of gunicorn's master and its workers (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a process that just ended
        pid, ppid = int(stat.parent.name), int(fields[1])
        if master in (pid, ppid):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def run_wrk(port: int, host: str, path: str, seconds: float, connections: int, threads: int, master: int) -> Figure:
    """wrk's figure for ``path``; a non-2xx answer is a wrong answer."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-H",
        f"Host: {host}",
        f"http://127.0.0.1:{port}{path}",
    ]
    cpu_before = server_cpu_seconds(master)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 10, check=False)
    except subprocess.TimeoutExpired:
        raise BenchFailure(f"wrk did not finish within {seconds + 10:g} s: the server hangs") from None
    cpu = server_cpu_seconds(master) - cpu_before
    rate, requests = RATE.search(result.stdout), REQUESTS.search(result.stdout)
    if result.returncode != 0 or rate is None or requests is None or int(requests.group(1)) == 0:
        raise BenchFailure(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    if bad := NON_2XX.search(result.stdout):
        raise BenchFailure(f"{bad.group(1)} non-2xx answers for {path}:\n{result.stdout}")
    if errors := SOCKET_ERRORS.search(result.stdout):
        print(f"    note: wrk socket errors for {path}: {errors.group(1)}")
    return Figure(float(rate.group(1)), cpu / int(requests.group(1)) * 1e6)


def start_gunicorn(
    args: argparse.Namespace, port: int, target: Target, secret: str, instance_dir: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        ENV_SECRET: secret,
        ENV_INSTANCE: instance_dir,
        ENV_HOST: target.host,
        ENV_PREFIX: target.prefix,
        "PYTHONDONTWRITEBYTECODE": "1",
    }  # no bench/__pycache__
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--log-level",
        "warning",
        "--graceful-timeout",
        "3",
        "--chdir",
        str(ROOT),
        "--pythonpath",
        str(BENCH_DIR),
        "landing:make_bench_app()",
    ]
    if args.worker_class == "gthread":
        command[-1:-1] = ["--threads", str(args.threads_per_worker)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()  # gunicorn's master stops its workers on SIGTERM
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, 9)  # the session we started: the master and its workers only
        server.wait(timeout=5)


def measure(args: argparse.Namespace) -> None:
    secret = secrets.token_urlsafe(36)  # 48 characters
    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
        instance_dir = str(Path(tmp, "instance"))
        target = choose_target(secret, instance_dir)
        port = free_port()
        log = Path(tmp, "gunicorn.log")
        threads = f" x {args.threads_per_worker} threads" if args.worker_class == "gthread" else ""
        print(
            f"campaign {target.slug}: landing http://{target.host}{target.landing_path} vs reference "
            f"{target.reference_path}\ngunicorn {args.workers} {args.worker_class} worker(s){threads} on "
            f"127.0.0.1:{port}; wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds of "
            f"{args.seconds:g} s; load average {os.getloadavg()[0]:.2f}"
        )
        server = start_gunicorn(args, port, target, secret, instance_dir, log)
        try:
            wait_until_up(server, port, target, log)
            size = check_answers(port, target, args.workers)
            print(f"landing answers 200 text/html, {size} bytes; the reference view returns the same bytes")

            def wrk(path: str, seconds: float) -> Figure:
                return run_wrk(port, target.host, path, seconds, args.connections, args.threads, server.pid)

            wrk(target.landing_path, args.warmup / 2)
            wrk(target.reference_path, args.warmup / 2)
            landing: list[Figure] = []
            reference: list[Figure] = []
            for n in range(args.rounds):
                order = [(target.landing_path, landing), (target.reference_path, reference)]
                for path, figures in order if n % 2 == 0 else reversed(order):  # alternate to cancel drift
                    figures.append(wrk(path, args.seconds))
                lo, ref = landing[-1], reference[-1]
                print(
                    f"round {n + 1}: landing {lo.rate:7.1f} req/s ({lo.cpu_us:4.0f} us CPU/req)  "
                    f"reference {ref.rate:7.1f} req/s ({ref.cpu_us:4.0f} us CPU/req)  "
                    f"ratio {lo.rate / ref.rate:.3f}"
                )
            if server.poll() is not None:
                raise BenchFailure(f"gunicorn died during the run:\n{log.read_text()[-3000:]}")
        finally:
            stop(server)
    ratio = statistics.median(lo.rate / ref.rate for lo, ref in zip(landing, reference, strict=True))
    cpu_landing = statistics.median(f.cpu_us for f in landing)
    cpu_reference = statistics.median(f.cpu_us for f in reference)
    print(
        f"median: landing {statistics.median(f.rate for f in landing):.1f} req/s, "
        f"reference {statistics.median(f.rate for f in reference):.1f} req/s"
    )
    print(
        f"server CPU per request: landing {cpu_landing:.0f} us, reference {cpu_reference:.0f} us; "
        f"reference/landing {cpu_reference / cpu_landing:.3f} (less sensitive to other load)"
    )
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"ratio landing/reference {ratio:.3f} (median of rounds): {verdict} the target {TARGET}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up, split over both views")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads-per-worker", type=int, default=1, help="gunicorn threads (gthread)")
    args = parser.parse_args(argv)
    budget = args.warmup + 2 * args.rounds * args.seconds + STARTUP_SECONDS
    if args.rounds < 1 or args.seconds <= 0 or args.warmup <= 0 or budget > MAX_TOTAL_SECONDS:
        parser.error(
            f"rounds x 2 x seconds + warm-up + {STARTUP_SECONDS} s start-up must stay within {MAX_TOTAL_SECONDS} s"
        )
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    try:
        measure(args)
    except BenchFailure as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
