"""Sign-up form posts per second and their latency (p50, p99) under gunicorn on loopback, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/signup.py`` (``--help`` lists the knobs). PostgreSQL is measured too when
``CLAIMSITE_TEST_POSTGRES_URL`` or ``--postgres-url`` names a server where we may create databases, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``: the bench creates ``claimsite_bench_<random>``,
migrates it and drops it afterwards (``WITH (FORCE)``); it never touches another database.

gunicorn builds the real production app through :func:`make_bench_app` (this module, imported as ``signup`` by
the workers; settings arrive in ``CLAIMSITE_BENCH_*`` environment variables). The only differences from
production: the rate limits always allow (the app's ``RateLimits`` is replaced by :class:`AlwaysAllow` in this
factory; core is unchanged), mail goes to ``smtp://127.0.0.1:1`` but is only queued, never sent (no worker runs),
and one extra view, ``<prefix>/__bench/noop``, answers a form post with a 302 without touching the database. It
measures what the load generator and the HTTP path cost on their own.

The load generator is this process: asyncio, one connection per client (kept alive where the server allows it;
sync workers close it after each answer), each client posting the form again as soon as the previous answer
arrived (closed loop). Every client
uses its own session (cookie + csrf_token fetched beforehand with ``GET <prefix>/join``) and a new e-mail address
for every post. A run stops sending at its deadline and waits for the posts in flight, so afterwards the rows in
the database must equal the 302 answers exactly.

``--profile N`` instead posts the form N times through Flask's test client on SQLite under cProfile and prints
where the time goes.

Exit status: 0 when figures were printed (also when a target is missed), 1 when the server did not start,
answered wrongly or the database does not match the answers, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import http.client
import os
import pstats
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from landing import ENV_INSTANCE, ENV_SECRET, BenchFailure, app_config, free_port, stop

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
ENV_DATABASE = "CLAIMSITE_BENCH_DATABASE_URL"
ENV_PREFIX = "CLAIMSITE_BENCH_PREFIX"
ENV_POSTGRES = "CLAIMSITE_TEST_POSTGRES_URL"
CAMPAIGN = "tiktokclaim"
NOOP_PATH = "/__bench/noop"
REFERENCE_PATH = "/__bench/insert-count"
STARTUP_SECONDS = 20
REQUEST_TIMEOUT = 10.0
MAX_RUN_SECONDS = 170  # the four measured runs with their warm-ups, start-up and checks
# The targets, on PostgreSQL. A bare insert-and-count view reached 300-450 posts/s with a p99 of about 60 ms
# on this 2-core machine, measured the same way.
TARGET_RATE, TARGET_RATE_CLIENTS = 250.0, 32
TARGET_P99_MS, TARGET_P99_CLIENTS = 100.0, 8

# A typical Dutch adult joining for themselves (the shipped tiktokclaim form); the e-mail address is added per post.
FORM = {
    "name": "Anna de Vries",
    "phone": "06 12345678",
    "street": "Kerkstraat 1",
    "postcode": "1234 AB",
    "city": "Utrecht",
    "country": "NL",
    "birth_date": "1990-05-01",
    "account": "",
    "for_whom": "self",
    "child_name": "",
    "child_birth_date": "",
}


# --- the app gunicorn serves --------------------------------------------------------------------------------


def build_app(secret_key: str, instance_dir: str, database_url: str, prefix: str):  # type: ignore[no-untyped-def]
    """The production app on ``database_url`` with rate limits that always allow, plus the no-op view."""
    import sqlalchemy
    from flask import redirect, request

    from core import create_app, csrf
    from core.data.db import db_session
    from core.ratelimits import RateLimits

    class AlwaysAllow(RateLimits):
        """Every attempt allowed: the bench posts thousands of forms from one IP."""

        def hit(self, rule: str, key: str | None) -> bool:
            return True

        def allowed(self, rule: str, key: str | None) -> bool:
            return True

    app = create_app({**app_config(secret_key, instance_dir), "database_url": database_url})
    # The limits always allow; shared counters (the breach check's funnel) still count in the app's storage.
    app.extensions["claimsite"].limits = AlwaysAllow(app.extensions["claimsite"].settings.ratelimit_storage_url)

    def bench_noop():  # type: ignore[no-untyped-def]
        request.form.get("email")  # parse the body like the real view does
        return redirect(f"{prefix}/join/verify")

    app.add_url_rule(NOOP_PATH, "bench_noop", bench_noop, methods=["POST"])
    csrf.exempt(bench_noop)

    # The targets' reference: a bare insert-and-count view (one row, a count, a commit), in a table of its own.
    reference = sqlalchemy.Table(
        "bench_reference",
        sqlalchemy.MetaData(),
        sqlalchemy.Column("id", sqlalchemy.Integer, primary_key=True),
        sqlalchemy.Column("email", sqlalchemy.String(200)),
    )
    reference.create(app.extensions["claimsite.db"].engine, checkfirst=True)
    add_row = sqlalchemy.insert(reference)
    count_rows = sqlalchemy.select(sqlalchemy.func.count()).select_from(reference)

    def bench_insert_count():  # type: ignore[no-untyped-def]
        db = db_session()
        db.execute(add_row, {"email": request.form.get("email")})
        count = db.scalar(count_rows)
        db.commit()
        answer = redirect(f"{prefix}/join/verify")
        answer.headers["X-Rows"] = str(count)
        return answer

    app.add_url_rule(REFERENCE_PATH, "bench_insert_count", bench_insert_count, methods=["POST"])
    csrf.exempt(bench_insert_count)
    return app


def make_bench_app():  # type: ignore[no-untyped-def]
    """gunicorn's app factory (``signup:make_bench_app()``)."""
    return build_app(os.environ[ENV_SECRET], os.environ[ENV_INSTANCE], os.environ[ENV_DATABASE], os.environ[ENV_PREFIX])


# --- databases ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(tmp: str) -> Iterator[str]:
    from core.data.migrations import upgrade

    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    yield url


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new database ``claimsite_bench_<random>`` on the server of ``admin_url``, migrated; dropped afterwards."""
    import sqlalchemy

    from core.data.migrations import upgrade

    name = f"claimsite_bench_{secrets.token_hex(6)}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        admin.dispose()
        raise BenchFailure(f"cannot create a database on {sqlalchemy.make_url(admin_url)!r}: {exc}") from None
    try:
        url = sqlalchemy.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Counts:
    """Sign-up rows of the campaign and queued mail jobs, read straight from the database."""

    def __init__(self, url: str) -> None:
        from core.data.db import make_engine

        self.engine = make_engine(url)

    def __call__(self) -> tuple[int, int]:
        from sqlalchemy import func, select

        from core.data.models import Job, JobStatus, Signup
        from core.jobs.mail import MAIL_JOB

        with self.engine.connect() as connection:
            rows = connection.scalar(select(func.count()).select_from(Signup).where(Signup.campaign == CAMPAIGN))
            jobs = connection.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.kind == MAIL_JOB, Job.campaign == CAMPAIGN, Job.status == JobStatus.PENDING)
            )
        return int(rows or 0), int(jobs or 0)

    def close(self) -> None:
        self.engine.dispose()


# --- the server ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    port: int
    host: str
    prefix: str

    @property
    def join_path(self) -> str:
        return f"{self.prefix}/join"


def campaign_address(secret_key: str, instance_dir: str) -> tuple[str, str]:
    """Host and path prefix of the campaign's canonical address (tiktokclaim.org, "")."""
    from core import create_app
    from core.campaigns import CampaignConfigError
    from core.settings import SettingsError

    try:
        app = create_app(app_config(secret_key, instance_dir))
    except (CampaignConfigError, SettingsError) as exc:
        raise BenchFailure(f"the production app cannot start:\n{exc}") from None
    loaded = app.extensions["claimsite"].registry.snapshot.campaigns.get(CAMPAIGN)
    if loaded is None or loaded.campaign.signup is None or loaded.campaign.status == "closed":
        raise BenchFailure(f"campaign {CAMPAIGN} is not served or has no open sign-up form")
    address = app.extensions["claimsite"].tenancy.index().canonical[CAMPAIGN]
    return address.host, address.prefix


def start_server(
    args: argparse.Namespace, secret: str, instance_dir: str, database_url: str, host: str, prefix: str, log: Path
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        ENV_SECRET: secret,
        ENV_INSTANCE: instance_dir,
        ENV_DATABASE: database_url,
        ENV_PREFIX: prefix,
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
        "--backlog",
        "256",
        "--chdir",
        str(ROOT),
        "--pythonpath",
        str(BENCH_DIR),
        "signup:make_bench_app()",
    ]
    if args.worker_class == "gthread":
        command[-1:-1] = ["--threads", str(args.threads_per_worker)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, port, host, prefix)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchFailure(f"gunicorn exited with status {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            open_session(server, timeout=2.0)
            return server
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise BenchFailure(f"gunicorn did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class Session:
    cookie: str  # the Cookie header a browser sends back
    csrf_token: str


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def open_session(server: Server, timeout: float = 5.0, path: str | None = None) -> Session:
    """What a browser has after opening the form at ``path`` (default: the join form): its cookies and the form's
    csrf_token."""
    path = path or server.join_path
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": server.host})
        response = conn.getresponse()
        body = response.read().decode()
        cookies = [c.split(";", 1)[0] for c in response.msg.get_all("Set-Cookie") or []]
    finally:
        conn.close()
    token = CSRF_INPUT.search(body)
    if response.status != 200 or token is None or not any("claimsite_session=" in c for c in cookies):
        raise BenchFailure(
            f"GET http://{server.host}{path} answered {response.status} without a "
            "form with a csrf_token and a session cookie"
        )
    return Session("; ".join(cookies), token.group(1))


def open_session_retrying(server: Server, attempts: int = 5, path: str | None = None) -> Session:
    """:func:`open_session`, tried again a few times: right after start-up a worker still booting can reset a
    connection (seen once in many runs); the measured runs come later and count every such error."""
    for attempt in range(attempts):
        try:
            return open_session(server, path=path)
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


# --- the load generator -------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of the 302 answers
    answers: Counter[str] = field(default_factory=Counter)  # "302", "500", "connection: ...", ...
    # CPU seconds spent during the run by: this process (the load generator), gunicorn (master and workers),
    # every process named postgres, and the whole machine (all cores, anyone's).
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    machine_cpu: float = 0.0

    @property
    def ok(self) -> int:
        return self.answers["302"]

    @property
    def errors(self) -> int:
        return sum(self.answers.values()) - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))] * 1000  # nearest rank

    def per_post_ms(self, seconds: float) -> float:
        posts = sum(self.answers.values())
        return seconds / posts * 1000 if posts else float("nan")


CORES = os.cpu_count() or 1
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(master: int) -> tuple[float, float, float]:
    """CPU seconds since they started of gunicorn (``master`` and its workers), of the processes named postgres,
    and of the whole machine (busy time of all cores), from /proc."""
    gunicorn = postgres = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # a process that just ended
        name, _, rest = text.partition(" (")[2].rpartition(")")
        fields = rest.split()
        used = int(fields[11]) + int(fields[12])  # utime, stime
        if master in (int(stat.parent.name), int(fields[1])):
            gunicorn += used
        elif name == "postgres":
            postgres += used
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    busy = sum(values) - values[3] - values[4]  # all but idle and iowait
    return gunicorn / TICKS, postgres / TICKS, busy / TICKS


async def read_answer(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    """Status and headers (names in lower case) of one answer, its body read and dropped."""
    status, headers, _body = await read_answer_with_body(reader)
    return status, headers


async def read_answer_with_body(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """Status, headers (names in lower case) and body of one answer. The head is read in one go and split once:
    the load generator shares the machine with the server, so it should cost little."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ConnectionError("closed by the server") from None
        raise
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ConnectionError(f"not HTTP: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise ConnectionError("answer without Content-Length")
    body = await reader.readexactly(int(headers["content-length"]))
    return parts[1], headers, body


async def client(server: Server, path: str, session: Session, deadline: float, run: Run, emails: Iterator[str]) -> None:
    """One visitor's browser: post, wait for the answer, post again, until the deadline."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\nCookie: {session.cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nUser-Agent: claimsite-bench\r\n"
    ).encode()
    fixed = urlencode({**FORM, "csrf_token": session.csrf_token})
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    expected_location = f"{server.prefix}/join/verify"
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert reader is not None
            body = f"{fixed}&{urlencode({'email': next(emails)})}".encode()
            started = time.perf_counter()
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            async with asyncio.timeout(REQUEST_TIMEOUT):  # no task per request, unlike wait_for
                status, headers = await read_answer(reader)
            latency = time.perf_counter() - started
        except (TimeoutError, OSError, EOFError, asyncio.IncompleteReadError) as exc:
            run.answers[f"connection: {type(exc).__name__} {exc}"[:80]] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
            continue
        if status == "302" and not headers.get("location", "").endswith(expected_location):
            status = f"302 to {headers.get('location')!r}"
        run.answers[status] += 1
        if status == "302":
            run.latencies.append(latency)
        if headers.get("connection", "").lower() == "close":
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def load(server: Server, path: str, sessions: list[Session], seconds: float, label: str, tag: str) -> Run:
    """``len(sessions)`` clients posting to ``path`` for ``seconds``; then the posts in flight are awaited."""
    run = Run(label, len(sessions))
    counter = iter(range(10**9))
    emails = (f"bench-{tag}-{i}@example.org" for i in counter)

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(client(server, path, s, deadline, run, emails) for s in sessions))

    before = cpu_seconds(server.process.pid)
    client_before, started = time.process_time(), time.perf_counter()
    asyncio.run(main())
    run.seconds = time.perf_counter() - started
    run.client_cpu = time.process_time() - client_before
    after = cpu_seconds(server.process.pid)
    run.server_cpu, run.database_cpu, run.machine_cpu = (b - a for a, b in zip(before, after, strict=True))
    return run


def describe(database: str, run: Run) -> str:
    """The run's line, and a second one on where the CPU went."""
    busy = run.machine_cpu / (run.seconds * CORES)
    others = max(0.0, run.machine_cpu - run.server_cpu - run.database_cpu - run.client_cpu) / (run.seconds * CORES)
    postgres = f", postgres {run.per_post_ms(run.database_cpu):.1f} ms" if database == "postgresql" else ""
    ceiling = CORES / (run.server_cpu / max(1, sum(run.answers.values())))
    return (
        f"{database:10} {run.clients:3} clients: {run.rate:6.1f} posts/s  p50 {run.percentile_ms(50):6.1f} ms  "
        f"p99 {run.percentile_ms(99):6.1f} ms  errors {run.errors}\n"
        f"{'':14}CPU per post: gunicorn {run.per_post_ms(run.server_cpu):.1f} ms{postgres}, load generator "
        f"{run.per_post_ms(run.client_cpu):.2f} ms ({run.client_cpu / run.seconds * 100:.0f}% of a core); "
        f"machine {busy * 100:.0f}% busy, {others * 100:.0f}% by other processes; gunicorn's CPU alone caps "
        f"{CORES} cores at {ceiling:.0f} posts/s"
    )


# --- the driver ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    runs: dict[tuple[str, int], Run] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def measure_database(
    args: argparse.Namespace, database: str, url: str, secret: str, tmp: str, host: str, prefix: str, outcome: Outcome
) -> None:
    instance_dir = str(Path(tmp, "instance"))
    log = Path(tmp, f"gunicorn-{database}.log")
    counts = Counts(url)
    rows_before, jobs_before = counts()
    answered = 0
    try:
        server = start_server(args, secret, instance_dir, url, host, prefix, log)
        try:
            sessions = [open_session_retrying(server) for _ in range(max(args.clients))]
            if args.calibrate and not outcome.runs:  # once, on the first database: it does not touch it
                noop = load(server, f"{prefix}{NOOP_PATH}", sessions, args.calibrate, "noop", "noop")
                print(
                    f"load generator check: a no-op view (same HTTP path and gunicorn, no database) takes "
                    f"{noop.rate:.0f} posts/s with {noop.clients} clients, p99 {noop.percentile_ms(99):.1f} ms, "
                    f"errors {noop.errors}; load generator CPU {noop.per_post_ms(noop.client_cpu):.2f} ms per "
                    "post"
                )
            if args.calibrate:
                for clients in args.clients:
                    ref = load(
                        server,
                        f"{prefix}{REFERENCE_PATH}",
                        sessions[:clients],
                        args.calibrate,
                        "reference",
                        f"ref-{database}-{clients}",
                    )
                    print(
                        f"reference: a bare insert-and-count view on {database} takes {ref.rate:.0f} posts/s with "
                        f"{clients} clients, p99 {ref.percentile_ms(99):.1f} ms, errors {ref.errors}; gunicorn "
                        f"CPU {ref.per_post_ms(ref.server_cpu):.1f} ms per post"
                    )
            for clients in args.clients:
                tag = f"{database}-{clients}-{secrets.token_hex(3)}"
                warm = load(server, server.join_path, sessions[:clients], args.warmup, "warm-up", f"{tag}-w")
                run = load(server, server.join_path, sessions[:clients], args.seconds, "run", tag)
                outcome.runs[(database, clients)] = run
                answered += warm.ok + run.ok
                print(describe(database, run))
                for what, count in sorted((warm.answers + run.answers).items()):
                    if what != "302":
                        print(f"{'':14}{count} x {what}")
                        outcome.problems.append(f"{database} {clients} clients: {count} x {what}")
            if server.process.poll() is not None:
                raise BenchFailure(f"gunicorn died during the run:\n{log.read_text()[-3000:]}")
        finally:
            stop(server.process)
        rows, jobs = counts()
    finally:
        counts.close()
    rows, jobs = rows - rows_before, jobs - jobs_before
    same = "ok" if rows == answered == jobs else "MISMATCH"
    print(
        f"{database:10} check: {answered} posts answered 302 (warm-ups included), {rows} new sign-up rows, "
        f"{jobs} queued mail jobs: {same}"
    )
    if same != "ok":
        outcome.problems.append(f"{database}: {answered} answers 302, {rows} rows, {jobs} mail jobs")


def verdict(outcome: Outcome, postgres: bool) -> None:
    note = "(targets measured for a bare insert-and-count view at 300-450 posts/s, p99 about 60 ms on this machine)"
    if not postgres:
        print(f"targets on PostgreSQL: not checked (set {ENV_POSTGRES} or --postgres-url) {note}")
        return
    fast = outcome.runs.get(("postgresql", TARGET_RATE_CLIENTS))
    quick = outcome.runs.get(("postgresql", TARGET_P99_CLIENTS))
    if fast is not None:
        met = "met" if fast.rate >= TARGET_RATE else "MISSED"
        print(
            f"target PostgreSQL >= {TARGET_RATE:.0f} posts/s with {TARGET_RATE_CLIENTS} clients: {met} "
            f"({fast.rate:.1f})"
        )
    if quick is not None:
        met = "met" if quick.percentile_ms(99) < TARGET_P99_MS else "MISSED"
        print(
            f"target PostgreSQL p99 < {TARGET_P99_MS:.0f} ms with {TARGET_P99_CLIENTS} clients: {met} "
            f"({quick.percentile_ms(99):.1f} ms)"
        )
    print(note)


def measure(args: argparse.Namespace) -> Outcome:
    secret = secrets.token_urlsafe(36)
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp:
        host, prefix = campaign_address(secret, str(Path(tmp, "instance")))
        threads = f" x {args.threads_per_worker} threads" if args.worker_class == "gthread" else ""
        print(
            f"POST http://{host}{prefix}/join under gunicorn {args.workers} {args.worker_class} worker(s)"
            f"{threads}; clients {', '.join(map(str, args.clients))}; {args.warmup:g} s warm-up + "
            f"{args.seconds:g} s per run; {CORES} cores, load average {os.getloadavg()[0]:.2f}"
        )
        if "sqlite" in args.databases:
            with sqlite_database(tmp) as url:
                measure_database(args, "sqlite", url, secret, tmp, host, prefix, outcome)
        if "postgresql" in args.databases and args.postgres_url:
            with postgres_database(args.postgres_url) as url:
                measure_database(args, "postgresql", url, secret, tmp, host, prefix, outcome)
        elif "postgresql" in args.databases:
            print(f"postgresql skipped: set {ENV_POSTGRES} or --postgres-url")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    verdict(outcome, "postgresql" in args.databases and bool(args.postgres_url))
    return outcome


# --- the profile --------------------------------------------------------------------------------------------

# Parts of one post, found by function in the profile: (label, file name ending, function name, and, when the
# function is also called elsewhere, the caller whose calls count).
PARTS = [
    ("the view, core.web.views.signup.start", "core/web/views/signup.py", "start", None),
    ("  build_form (a WTForms class per request)", "core/signup/fields.py", "build_form", None),
    ("    country_choices", "core/signup/fields.py", "country_choices", None),
    ("  form.validate_on_submit", "flask_wtf/form.py", "validate_on_submit", None),
    ("    phone number check", "core/signup/fields.py", "validate_phone", None),
    ("    country in ~250 choices (pre_validate)", "wtforms/fields/choices.py", "pre_validate", None),
    ("  flow.start", "core/signup/flow.py", "start", None),
    ("    insert sign-up (SELECT, SAVEPOINT, flush)", "core/signup/flow.py", "_new_or_known", None),
    ("    send_code", "core/signup/flow.py", "send_code", None),
    ("      mail.compose", "core/jobs/mail.py", "compose", None),
    ("        Jinja (subject, text, HTML)", "jinja2/environment.py", "render", "core/jobs/mail.py"),
    ("        set_content + add_alternative", "email/message.py", "set_content", "core/jobs/mail.py"),
    ("      queue_mail (message.as_string)", "core/jobs/mail.py", "queue_mail", None),
    ("      issue_code (HMAC)", "core/signup/codes.py", "issue_code", None),
    ("  db.commit (flush of 4 rows + COMMIT)", "sqlalchemy/orm/session.py", "commit", "core/web/views/signup.py"),
    ("    COMMIT in sqlite3 (fsync)", "~", "<method 'commit' of 'sqlite3.Connection' objects>", None),
    ("  url_for + redirect", "flask/helpers.py", "url_for", None),
    ("session cookie (sign and set)", "flask/sessions.py", "save_session", None),
    ("all e-mail header objects (email.headerregistry)", "email/headerregistry.py", "__call__", None),
    ("all SQL through SQLAlchemy's engine", "sqlalchemy/engine/base.py", "_execute_context", None),
    ("  of which in sqlite3 itself", "~", "<method 'execute' of 'sqlite3.Cursor' objects>", None),
    ("all flask_babel gettext calls", "flask_babel/__init__.py", "gettext", None),
    ("all date parsing (strptime)", "_strptime.py", "_strptime_datetime", None),
    ("translations loaded again (.mo parse)", "gettext.py", "_parse", None),
]


def profile(posts: int) -> None:
    """cProfile over ``posts`` form posts through Flask's test client, on a migrated SQLite file."""
    secret = secrets.token_urlsafe(36)
    with tempfile.TemporaryDirectory(prefix="claimsite-bench-") as tmp, sqlite_database(tmp) as url:
        host, prefix = campaign_address(secret, str(Path(tmp, "instance")))
        app = build_app(secret, str(Path(tmp, "instance")), url, prefix)
        browser = app.test_client()
        page = browser.get(f"{prefix}/join", headers={"Host": host}).get_data(as_text=True)
        token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
        numbers = iter(range(10**9))

        def post() -> None:
            data = {**FORM, "csrf_token": token, "email": f"profile-{next(numbers)}@example.org"}
            answer = browser.post(f"{prefix}/join", data=data, headers={"Host": host})
            if answer.status_code != 302:
                raise BenchFailure(f"the form post answered {answer.status_code}, not 302")

        for _ in range(50):  # warm: templates compiled, caches filled
            post()
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(posts):
            post()
        wall_ms = (time.perf_counter() - started) / posts * 1000
        cpu_ms = (time.process_time() - cpu) / posts * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(posts):
            post()
        profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(
        f"{posts} posts through Flask's test client on SQLite, one thread: {wall_ms:.2f} ms per post "
        f"({cpu_ms:.2f} ms CPU) without the profiler; under cProfile {total / posts * 1000:.2f} ms per post."
    )
    print(
        "where one post's time goes (cumulative, under cProfile; the shares hold, the absolute times are "
        "inflated by the profiler):"
    )
    found: dict[str, float] = {}
    entries = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, _tt, cumulative, callers) in entries:
        for label, ending, name, caller in PARTS:
            if function != name or not filename.endswith(ending):
                continue
            if caller is not None:  # only the calls from that caller: (cc, nc, tt, ct) per caller
                cumulative = sum(c[3] for (f, _l, _n), c in callers.items() if f.endswith(caller))
            found[label] = max(found.get(label, 0.0), cumulative)
    for label, *_ in PARTS:
        seconds = found.get(label, 0.0)
        print(f"  {label:50} {seconds / posts * 1000:6.2f} ms  {seconds / total * 100:5.1f}%")
    print("\nthe functions with the most own time:")
    stats.sort_stats("tottime").print_stats(15)


# --- command line -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each run")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32], help="concurrent clients, one run each")
    parser.add_argument(
        "--calibrate",
        type=float,
        default=3.0,
        help="seconds against the no-op view first, to check the load generator (0: skip)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4, as README.md runs production)")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads-per-worker", type=int, default=4, help="gunicorn threads (gthread)")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(ENV_POSTGRES, ""),
        help=f"PostgreSQL server where a database may be created (default: ${ENV_POSTGRES})",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        default=0,
        help="instead: cProfile N posts through Flask's test client on SQLite (e.g. 500)",
    )
    args = parser.parse_args(argv)
    if args.profile:
        try:
            profile(args.profile)
        except BenchFailure as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        return 0
    databases = ("sqlite" in args.databases) + ("postgresql" in args.databases and bool(args.postgres_url))
    budget = databases * len(args.clients) * (args.warmup + args.seconds) + args.calibrate
    if args.seconds <= 0 or args.warmup < 0 or min(args.clients) < 1 or budget > MAX_RUN_SECONDS:
        parser.error(f"(warm-up + seconds) x clients x databases + calibration must stay within {MAX_RUN_SECONDS} s")
    try:
        outcome = measure(args)
    except BenchFailure as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    if outcome.problems:
        print("wrong answers or counts:\n  " + "\n  ".join(outcome.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
