"""Faults during a burst of sign-ups: PostgreSQL restarts, gunicorn workers and the mail worker are killed.

Run: ``.venv/bin/python bench/faults.py`` (``--help`` lists the knobs; about 2 minutes on 2 cores, CPU heavy).

It sets up production as README.md's "Production" section runs it, all on loopback: a private PostgreSQL 15
cluster of its own (``initdb`` in a temporary folder, a free port below 32768; ``tests/private_postgres.py``),
migrated with ``flask db upgrade``; ``gunicorn --workers 4 wsgi:app`` with ``CLAIMSITE_ENV=production``, random
secret and hash keys, a sealing key pair of its own, ``CLAIMSITE_TRUSTED_PROXIES=1`` (the client plays the proxy:
``X-Forwarded-For`` with an address per visitor, ``X-Forwarded-Proto: https``), the rate limits in the
machine's Redis (database 14, whose counts it removes when it ends); mail to an aiosmtpd catcher in this process
(``tests/smtp_server.py``); payments through the Stripe-compatible loopback server (``tests/stripe_server.py``),
which delivers signed webhooks to gunicorn (and, as Stripe does, posts an event again later when it was not taken);
and ``flask worker`` beside it.

Visitors (a few client threads) then join through the real HTTP flow: the form, the code from the caught mail, the
agreements and a typed signature, and on the TikTok claim (one sign-up in four) the payment. A visitor who gets a
503 checks that the page kept what they typed and sends it again a moment later; one whose connection broke (a
killed worker) sends it again too. Meanwhile, by progress: PostgreSQL restarts once (``pg_ctl stop -m fast`` and
start; three of the visitors arrive while it is down), a running gunicorn worker is killed (SIGKILL) twice, and
the mail worker is killed right after the mail server kept a message (before the job is marked done, so that mail
goes out twice) and started again.

Checks, printed with the figures; the exit status is 1 when one fails:

- every form post answered 302 has its sign-up row in the database and its code mail in the catcher;
- no answer 500 at all;
- every 503 to a form post showed the form with the values typed;
- every signed sign-up (and paid, where it must be) got exactly one confirmation mail within the deadline, copies
  with the same Message-ID counted once.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

from tests.private_postgres import PrivateCluster, available  # noqa: E402
from tests.production_shape import STRIPE_KEY, STRIPE_WEBHOOK_SECRET  # noqa: E402
from tests.smtp_server import Received, SMTPServer, free_port  # noqa: E402

BIN = Path(sys.executable).parent
FREE = "facebookleak.somi.nl"  # free: a participant once signed
PAID = "tiktokclaim.org"  # asks EUR 17.50 first: a participant once paid
REQUEST_TIMEOUT = 30.0
FORM = {
    "name": "Anna de Vries",
    "phone": "",
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
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CODE = re.compile(r"\b(\d{6})\b")


class FaultScriptError(Exception):
    """Something the script needs did not start (exit status 1)."""


# --- what happened -------------------------------------------------------------------------------------------------
@dataclass
class Record:
    """Everything the visitors saw, for the checks."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (step, status) -> how many
    form_302: list[tuple[str, str]] = field(default_factory=list)  # (host, address)
    kept_503: int = 0
    lost_503: list[str] = field(default_factory=list)  # addresses whose 503 page lost the form
    signed: list[tuple[str, str]] = field(default_factory=list)  # (host, address), paid where asked
    gave_up: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    forms_sent: int = 0

    def answer(self, step: str, status: int | str) -> None:
        with self.lock:
            self.answers[(step, str(status))] += 1

    def note(self, text: str, started: float) -> None:
        with self.lock:
            self.faults.append(f"{time.monotonic() - started:6.1f} s  {text}")
        print(f"  fault: {text}", flush=True)


@dataclass
class Answer:
    status: int
    location: str
    body: str


class Visitor:
    """One browser behind the proxy: its own cookies and IP address, one campaign host."""

    def __init__(self, port: int, host: str, ip: str, record: Record) -> None:
        self.port, self.host, self.ip, self.record = port, host, ip, record
        self.cookies: dict[str, str] = {}

    def send(self, step: str, method: str, path: str, form: dict[str, str] | None = None) -> Answer | None:
        """One request; None when the connection broke (a killed worker) or timed out."""
        headers = {
            "Host": self.host,
            "X-Forwarded-For": self.ip,
            "X-Forwarded-Proto": "https",
            "Referer": f"https://{self.host}{path}",
            "Accept-Language": "nl",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.record.answer(step, "connection broke")
            return None
        finally:
            connection.close()
        for value in response.msg.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        self.record.answer(step, response.status)
        location = response.getheader("Location") or ""
        return Answer(
            response.status,
            urlsplit(location).path
            if location.startswith("http") and urlsplit(location).hostname == self.host
            else location,
            text,
        )

    def page(self, step: str, path: str, ok: tuple[int, ...] = (200,), tries: int = 30) -> Answer:
        """GET ``path`` until it answers one of ``ok`` (a visitor reloads after an error page)."""
        for _ in range(tries):
            answer = self.send(step, "GET", path)
            if answer is not None and answer.status in ok:
                return answer
            time.sleep(1.0)
        raise GiveUp(f"{step}: no page after {tries} tries")


class GiveUp(Exception):
    pass


# --- the mail catcher ----------------------------------------------------------------------------------------------
def mails_to(smtp: SMTPServer, address: str) -> list[EmailMessage]:
    with smtp.lock:
        return [r.message for r in smtp.messages if address in r.rcpt_tos]


def is_confirmation(message: EmailMessage) -> bool:
    return any((part.get_filename() or "").startswith("mandate-") for part in message.iter_attachments())


def latest_code(smtp: SMTPServer, address: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = [m for m in mails_to(smtp, address) if CODE.search(str(m["Subject"]))]
        if codes:
            return CODE.search(str(codes[-1]["Subject"])).group(1)  # type: ignore[union-attr]
        time.sleep(0.3)
    raise GiveUp("no code mail")


# --- one sign-up ---------------------------------------------------------------------------------------------------
def sign_up(visitor: Visitor, address: str, smtp: SMTPServer, stripe: object, record: Record) -> None:
    typed = {**FORM, "email": address, "name": f"Anna {address.split('@')[0]}"}
    answer = visitor.page("GET /join", "/join")
    for _ in range(30):  # the form, sent again after a 503 or a broken connection, as a visitor would
        token = CSRF.search(answer.body).group(1)  # type: ignore[union-attr]
        with record.lock:
            record.forms_sent += 1
        sent = visitor.send("POST /join", "POST", "/join", {**typed, "csrf_token": token})
        if sent is not None and sent.status == 302:
            with record.lock:
                record.form_302.append((visitor.host, address))
            break
        if sent is not None and sent.status == 503:
            kept = all(re.search(rf'value="{re.escape(typed[name])}"', sent.body) for name in ("name", "email"))
            with record.lock:
                if kept:
                    record.kept_503 += 1
                else:
                    record.lost_503.append(address)
            if kept and CSRF.search(sent.body):
                answer = sent
                time.sleep(1.0)
                continue
        time.sleep(1.0)
        if sent is None or sent.status != 503:
            answer = visitor.page("GET /join", "/join")
    else:
        raise GiveUp("the form was never taken")

    for _ in range(20):  # the newest code (a form sent twice has two)
        code = latest_code(smtp, address, timeout=120)
        answer = visitor.page("GET /join/verify", "/join/verify", ok=(200, 302))
        if answer.status == 302:  # proven already (an answer lost to a broken connection)
            break
        sent = visitor.send(
            "POST /join/verify", "POST", "/join/verify", {"code": code, "csrf_token": CSRF.search(answer.body).group(1)}
        )  # type: ignore[union-attr]
        if sent is not None and sent.status == 302 and sent.location.endswith("/join/sign"):
            break
        time.sleep(1.0)
    else:
        raise GiveUp("the code was never taken")

    for _ in range(20):
        answer = visitor.page("GET /join/sign", "/join/sign", ok=(200, 302))
        if answer.status == 302 and answer.location.endswith("/join/companies"):  # a data request: whom to ask first
            choose_companies(visitor)
            continue
        if answer.status == 302:  # signed already (an answer lost to a broken connection)
            sent = answer
            break
        form = {"csrf_token": CSRF.search(answer.body).group(1), "signature_typed": typed["name"]}  # type: ignore[union-attr]
        for agreement, sha in re.findall(r'name="sha-([a-z0-9-]+)" value="([0-9a-f]{64})"', answer.body):
            form[f"sha-{agreement}"], form[f"agree-{agreement}"] = sha, "yes"
        option = re.search(r'name="fee_option" value="([^"]+)"', answer.body)
        if option:
            form["fee_option"] = option.group(1)
        sent = visitor.send("POST /join/sign", "POST", "/join/sign", form)
        if sent is not None and sent.status == 302:
            break
        time.sleep(1.0)
    else:
        raise GiveUp("the signature was never taken")

    if "/join/done" in sent.location:  # the done page sends an unpaid sign-up on to its payment page
        sent = visitor.page("GET /join/done", "/join/done", ok=(200, 302))
    if "/join/pay/" in sent.location:
        pay(visitor, sent.location, stripe)
    with record.lock:
        record.signed.append((visitor.host, address))


def choose_companies(visitor: Visitor) -> None:
    """facebookleak's request to Meta: the company ticked, and the profile link Meta needs to find the person."""
    answer = visitor.page("GET /join/companies", "/join/companies", ok=(200, 302))
    if answer.status == 302:  # chosen already (an answer lost to a broken connection)
        return
    chosen = {
        "company": "meta",
        "detail-meta-profile-link": "https://facebook.com/anna",
        "csrf_token": CSRF.search(answer.body).group(1),  # type: ignore[union-attr]
    }
    sent = visitor.send("POST /join/companies", "POST", "/join/companies", chosen)
    if sent is None or sent.status != 302:  # the signing loop asks again, as a visitor reloads after an error
        time.sleep(1.0)


def pay(visitor: Visitor, pay_path: str, stripe: object) -> None:
    for _ in range(20):
        answer = visitor.page("GET /join/pay", pay_path)
        if not CSRF.search(answer.body):  # paid already: no button any more
            return
        sent = visitor.send("POST /join/pay", "POST", pay_path, {"csrf_token": CSRF.search(answer.body).group(1)})  # type: ignore[union-attr]
        if sent is not None and sent.status == 303:
            session_id = sent.location.rstrip("/").rpartition("/")[2]
            with contextlib.suppress(ValueError):  # already completed by an earlier try
                stripe.complete(session_id)  # type: ignore[attr-defined]
            return
        time.sleep(1.0)
    raise GiveUp("the payment was never started")


# --- the servers ---------------------------------------------------------------------------------------------------
@dataclass
class Servers:
    env: dict[str, str]
    port: int
    log: Path
    gunicorn: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    def start_gunicorn(self, workers: int) -> None:
        self.gunicorn = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise FaultScriptError(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/", headers={"Host": FREE})
                if connection.getresponse().status == 200:
                    return
            time.sleep(0.3)
        raise FaultScriptError(f"gunicorn did not answer:\n{self.log.read_text()[-3000:]}")

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [str(BIN / "flask"), "worker", "--poll", "0.5"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def gunicorn_workers(self) -> list[int]:
        assert self.gunicorn is not None
        children = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        for process in (self.worker, self.gunicorn):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def production_env(
    folder: Path, database_url: str, smtp_url: str, stripe_url: str, timestamp_url: str
) -> dict[str, str]:
    """Production's settings as ``make prod-check`` has them (tests/production_shape.py), on this script's own
    PostgreSQL cluster and instance folder. Production refuses limits in memory: the machine's Redis, in a database
    number of this script's own whose counts it removes when it ends (forget_limits)."""
    from landing import bench_seal

    from tests.production_shape import production_settings

    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAIMSITE_")}
    seal = {f"CLAIMSITE_{name.upper()}": value for name, value in bench_seal(folder, timestamp_url).items()}
    env.update(
        production_settings(
            folder / "keys",
            database_url=database_url,
            redis_url=REDIS_URL,
            mail_url=smtp_url,
            stripe_url=stripe_url,
            seal=seal,
        )
    )
    env["CLAIMSITE_INSTANCE_DIR"] = str(folder / "instance")
    return env


REDIS_URL = "redis://127.0.0.1:6379/14"


def forget_limits() -> None:
    """Remove the rate-limit counts this run left in its Redis database (the limits library's keys only)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter("LIMITS*"))
    if keys:
        client.delete(*keys)


@contextlib.contextmanager
def cluster_with_database() -> Iterator[tuple[PrivateCluster, str]]:
    import sqlalchemy

    cluster = PrivateCluster().start()
    try:
        engine = sqlalchemy.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text('CREATE DATABASE "claimsite"'))
        engine.dispose()
        yield cluster, cluster.url("claimsite")
    finally:
        cluster.remove()


# --- the run -------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from tests.stripe_server import StripeServer
    from tests.timestamp_authority import TimestampAuthority

    if not available():
        raise FaultScriptError("needs the PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin)")
    record = Record()
    with (
        tempfile.TemporaryDirectory(prefix="claimsite-faults-") as tmp,
        cluster_with_database() as (cluster, url),
        SMTPServer() as smtp,
        StripeServer(api_key=STRIPE_KEY) as stripe,
        TimestampAuthority(Path(tmp) / "tsa") as authority,
    ):
        folder = Path(tmp)
        port = free_port()
        env = production_env(folder, url, smtp.url, stripe.url, authority.url)
        servers = Servers(env, port, folder / "servers.log")
        stripe.add_webhook_endpoint(
            f"http://127.0.0.1:{port}/payments/stripe/webhook", STRIPE_WEBHOOK_SECRET, host=PAID
        )
        migrated = subprocess.run(
            [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=servers.env, capture_output=True, text=True
        )
        if migrated.returncode != 0:
            raise FaultScriptError(f"flask db upgrade failed:\n{migrated.stderr[-3000:]}")
        try:
            servers.start_gunicorn(args.workers)
            servers.start_worker()
            print(
                f"gunicorn ({args.workers} workers) on 127.0.0.1:{port}, PostgreSQL on {cluster.port}, "
                f"SMTP on {smtp.port}, Stripe on {stripe.port}; {args.signups} sign-ups from {args.clients} "
                "clients",
                flush=True,
            )
            started = time.monotonic()
            stop = threading.Event()
            threading.Thread(target=retry_webhooks, args=(stripe, stop), daemon=True).start()
            try:
                burst(args, servers, cluster, smtp, stripe, record, started)
                burst_seconds = time.monotonic() - started
                waited = wait_for_confirmations(smtp, record, args.deadline)
            finally:
                stop.set()
            with stripe.lock:
                for delivery in stripe.deliveries:
                    record.answer("webhook (Stripe)", delivery.status or "connection broke")
            return report(args, record, smtp, servers.env, url, burst_seconds, waited)
        finally:
            servers.stop()
            print(f"(server and worker log: {servers.log}, removed with the temporary folder)", flush=True)


def burst(
    args: argparse.Namespace,
    servers: Servers,
    cluster: PrivateCluster,
    smtp: SMTPServer,
    stripe: object,
    record: Record,
    started: float,
) -> None:
    numbers = iter(range(args.signups))
    numbers_lock = threading.Lock()
    run_id = secrets.token_hex(3)

    def one_sign_up() -> bool:
        """Make the next sign-up of the 200; False when all are taken."""
        with numbers_lock:
            n = next(numbers, None)
        if n is None:
            return False
        host = PAID if n % args.paid_every == 0 else FREE
        visitor = Visitor(servers.port, host, f"10.{n // 250}.{n % 250}.7", record)
        address = f"faults-{run_id}-{n}@example.org"
        try:
            sign_up(visitor, address, smtp, stripe, record)
        except GiveUp as exc:
            with record.lock:
                record.gave_up.append(f"{address}: {exc}")
        return True

    def client() -> None:
        while one_sign_up():
            pass

    def kill_mail_worker_after_next_mail(_: Received) -> None:
        smtp.on_message = None
        worker = servers.worker
        assert worker is not None
        os.kill(worker.pid, signal.SIGKILL)  # the server kept the message; the worker never hears so
        record.note(f"mail worker {worker.pid} killed (SIGKILL) right after the mail server kept a message", started)

        def restart() -> None:
            worker.wait()
            time.sleep(1.0)
            servers.start_worker()
            record.note(f"mail worker started again ({servers.worker.pid})", started)  # type: ignore[union-attr]

        threading.Thread(target=restart, daemon=True).start()

    def kill_a_gunicorn_worker() -> None:
        # One that is running (most likely in the middle of a request), if one is within a few seconds.
        victim, busy = servers.gunicorn_workers()[0], False
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not busy:
            for pid in servers.gunicorn_workers():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "R":
                        victim, busy = pid, True
                        break
            time.sleep(0.005)
        os.kill(victim, signal.SIGKILL)
        record.note(f"gunicorn worker {victim} killed (SIGKILL){' while running' if busy else ''}", started)

    def restart_postgresql() -> None:
        record.note("PostgreSQL stopping (pg_ctl stop -m fast)", started)
        cluster.stop("fast")
        # The clients are mostly waiting for code mails now (the mail worker needs the database too): a few new
        # visitors arrive during the outage, so that form posts meet it.
        for _ in range(args.outage_visitors):
            late = threading.Thread(target=one_sign_up, name="outage-visitor")
            late.start()
            clients.append(late)
        time.sleep(args.down_seconds)
        cluster.start()
        record.note(f"PostgreSQL started again after {args.down_seconds:.1f} s down", started)

    def arm_mail_kill() -> None:
        smtp.on_message = kill_mail_worker_after_next_mail

    # By progress (forms taken), so that each fault lands in the middle of the traffic whatever the speed.
    plan: list[tuple[float, Callable[[], None]]] = [
        (0.20, restart_postgresql),
        (0.35, kill_a_gunicorn_worker),
        (0.50, arm_mail_kill),
        (0.65, kill_a_gunicorn_worker),
    ]

    def faults() -> None:
        for share, fault in plan:
            while len(record.form_302) < share * args.signups:
                if not any(t.is_alive() for t in clients):
                    return
                time.sleep(0.1)
            fault()

    clients = [threading.Thread(target=client, name=f"client-{i}") for i in range(args.clients)]
    for thread in clients:
        thread.start()
    injector = threading.Thread(target=faults, name="faults", daemon=True)
    injector.start()
    while any(thread.is_alive() for thread in list(clients)):
        time.sleep(0.2)
    injector.join(timeout=60)


def retry_webhooks(stripe: object, stop: threading.Event) -> None:
    """As Stripe does: an event whose deliveries all failed (a 503, a broken connection) is posted again later."""
    attempts: Counter[str] = Counter()
    while not stop.wait(3.0):
        with stripe.lock:  # type: ignore[attr-defined]
            outcome: dict[str, bool] = {}
            for delivery in stripe.deliveries:  # type: ignore[attr-defined]
                ok = delivery.status is not None and 200 <= delivery.status < 300
                outcome[delivery.event_id] = outcome.get(delivery.event_id, False) or ok
        for event_id, delivered in outcome.items():
            if not delivered and attempts[event_id] < 10:
                attempts[event_id] += 1
                stripe.deliver(event_id)  # type: ignore[attr-defined]


def confirmations(smtp: SMTPServer, address: str) -> tuple[int, int]:
    """(confirmation mails received, distinct Message-IDs among them) for ``address``."""
    found = [m for m in mails_to(smtp, address) if is_confirmation(m)]
    return len(found), len({str(m["Message-ID"]) for m in found})


def wait_for_confirmations(smtp: SMTPServer, record: Record, deadline_seconds: float) -> float:
    """Seconds waited until every signed sign-up had a confirmation (or the deadline passed)."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if all(confirmations(smtp, address)[0] for _, address in record.signed):
            break
        time.sleep(1.0)
    time.sleep(3.0)  # a copy sent again arrives a little later
    return time.monotonic() - started


def report(
    args: argparse.Namespace,
    record: Record,
    smtp: SMTPServer,
    env: dict[str, str],
    url: str,
    burst_seconds: float,
    waited: float,
) -> int:
    import sqlalchemy

    from core.data.hashing import email_hash

    hash_key = env["CLAIMSITE_HASH_KEY"]
    slugs = {FREE: "facebookleak", PAID: "tiktokclaim"}
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = set(connection.execute(sqlalchemy.text("SELECT campaign, email_hash FROM signups")).all())
        # What the database says of a sign-up without its confirmation (which half never finished)
        states = {
            (campaign, hashed): (stage, paid, mandate, confirmed)
            for campaign, hashed, stage, paid, mandate, confirmed in connection.execute(
                sqlalchemy.text(
                    "SELECT campaign, email_hash, stage, paid_at IS NOT NULL, mandate_sha256 IS NOT NULL, "
                    "confirmed_at IS NOT NULL FROM signups"
                )
            ).all()
        }
    engine.dispose()

    print("\nfaults:")
    for line in record.faults:
        print(f"  {line}")
    print(
        f"\nburst: {burst_seconds:.0f} s; then {waited:.0f} s until the last confirmation (deadline "
        f"{args.deadline:.0f} s)"
    )
    print("answers by request and status:")
    by_step: dict[str, Counter[str]] = defaultdict(Counter)
    for (step, status), n in record.answers.items():
        by_step[step][status] += n
    for step in sorted(by_step):
        print(f"  {step:<18} " + ", ".join(f"{status}: {n}" for status, n in sorted(by_step[step].items())))

    failures: list[str] = []
    distinct_302 = sorted(set(record.form_302))
    no_row = [a for host, a in distinct_302 if (slugs[host], email_hash(hash_key, a)) not in rows]
    no_code = [a for _, a in distinct_302 if not any(CODE.search(str(m["Subject"])) for m in mails_to(smtp, a))]
    errors_500 = sum(n for (_, status), n in record.answers.items() if status == "500")
    copies = sum(confirmations(smtp, a)[0] - confirmations(smtp, a)[1] for _, a in record.signed)
    code_copies = 0
    for _, address in distinct_302:
        codes = [str(m["Message-ID"]) for m in mails_to(smtp, address) if CODE.search(str(m["Subject"]))]
        code_copies += len(codes) - len(set(codes))
    missing = [a for _, a in record.signed if confirmations(smtp, a)[1] == 0]
    doubled = [a for _, a in record.signed if confirmations(smtp, a)[1] > 1]

    print(
        f"\nforms sent: {record.forms_sent}; answered 302: {len(record.form_302)} "
        f"({len(distinct_302)} sign-ups); 503 with the form kept: {record.kept_503}, lost: {len(record.lost_503)}"
    )
    print(f"signed (and paid where asked): {len(record.signed)} of {args.signups}; gave up: {len(record.gave_up)}")
    print(f"mail copies sent again with the same Message-ID (folded): {code_copies} code, {copies} confirmation")
    checks = [
        ("every 302 to the form has its sign-up row", not no_row, f"{len(no_row)} without a row"),
        ("every 302 to the form has its code mail", not no_code, f"{len(no_code)} without a code mail"),
        ("no answer 500", errors_500 == 0, f"{errors_500} answers 500"),
        ("every 503 to the form kept the values typed", not record.lost_503, f"{len(record.lost_503)} lost"),
        ("every sign-up was completed", not record.gave_up, "; ".join(record.gave_up[:5])),
        ("every signed sign-up got its confirmation", not missing, f"{len(missing)} without one"),
        ("no confirmation twice (distinct Message-IDs)", not doubled, f"{len(doubled)} with more than one"),
    ]
    print("\nchecks:")
    for name, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))
        if not ok:
            failures.append(name)
    for host, address in [(h, a) for h, a in record.signed if a in missing][:10]:
        stage, paid, mandate, confirmed = states.get((slugs[host], email_hash(hash_key, address)), ("?",) * 4)
        print(
            f"    no confirmation: {address} ({slugs[host]}): stage {stage}, paid {paid}, mandate made {mandate}, "
            f"confirmation queued {confirmed}"
        )
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=200)
    parser.add_argument("--clients", type=int, default=6, help="client threads (default 6)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, as README runs it)")
    parser.add_argument("--paid-every", type=int, default=4, help="every n-th sign-up is on the paid campaign")
    parser.add_argument(
        "--down-seconds", type=float, default=5.0, help="how long PostgreSQL stays down in its restart (default 5)"
    )
    parser.add_argument(
        "--outage-visitors",
        type=int,
        default=3,
        help="visitors who start joining while PostgreSQL is down (of the sign-ups; default 3)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=240.0,
        help="seconds after the burst by which every confirmation must have arrived",
    )
    args = parser.parse_args()
    try:
        return run(args)
    except FaultScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        forget_limits()


if __name__ == "__main__":
    sys.exit(main())
