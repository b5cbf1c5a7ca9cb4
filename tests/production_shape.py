"""The production shape of README's "Production", all on loopback, started and stopped as one piece: nginx with the
file ``flask deploy nginx`` makes, in front of two gunicorn instances (standing for two machines), ``flask worker``
beside them, on the machine's PostgreSQL and Redis. ``make prod-check`` (tests/production_check.py) and
tests/test_production_shape.py run the same code::

    with ProductionShape(folder, postgres_admin_url, "redis://127.0.0.1:6379/12") as shape:
        shape.nginx.request("GET", "/", host="tiktokclaim.org")

What it starts, in order, and stops in the reverse order (also when a start fails, or on Ctrl-C):

- a PostgreSQL database of its own on the server ``postgres_admin_url`` names, migrated with ``flask db upgrade``
  as README's step 3 does, and dropped with everything in it afterwards;
- the rate-limit counts in the Redis database given (its ``LIMITS*`` keys are removed before and after: a count
  left by an earlier run would refuse this one's sign-ups);
- a real SMTP server (aiosmtpd, tests/smtp_server.py) that keeps every mail, the Stripe-compatible server of
  tests/stripe_server.py (production serves a campaign that charges only where a provider can take its fee), and
  what production refuses to start without: random secret, hash, contact and breach keys, a sealing key pair, the
  mandate seal of a CA made for the run and an RFC 3161 time-stamping authority on loopback (tests/conftest.py's
  ``ProductionSeal``);
- per machine, an instance folder and a copy of the shipped ``campaigns/`` of its own (README, "Publishing a
  change": each server has its own copy and publishes from it), and ``gunicorn --workers N`` on a port of its own
  with ``CLAIMSITE_ENV=production``, ``CLAIMSITE_TRUSTED_PROXIES=1`` and the staff console on ``STAFF_HOST``;
- ``flask worker`` processes (the first on machine A, the second on machine B...), on the same database;
- nginx (tests/nginx_server.py) with the output of ``flask deploy nginx --plain-http PORT --app A --app B``.

Plain HTTP: ``CLAIMSITE_PUBLIC_SCHEME=http``, so the session cookie is ``claimsite_session`` (no ``__Host-``
prefix, which browsers allow on HTTPS only). Each process writes its log into ``logs/`` (nginx's into ``nginx/``):
:meth:`ProductionShape.log_tails` shows them when something fails.

Every process runs the interpreter this one runs, with ``-m`` from the project folder (as tests/gunicorn_server.py
does), so the checkout's own code is what runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy

from tests.gunicorn_server import REPO, Answer, Gunicorn
from tests.nginx_server import Nginx, http_request
from tests.smtp_server import HOST, SMTPServer, free_port
from tests.stripe_server import StripeServer

STAFF_HOST = "staff.example"
SIGNUP_HOST = "tiktokclaim.org"  # open, with a join form
SESSION_COOKIE = "claimsite_session"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CODE = re.compile(r"\b(\d{6})\b")
STOP_SECONDS = 20
STRIPE_KEY = "sk_test_shape_0123456789"
STRIPE_WEBHOOK_SECRET = "whsec_shape_0123456789"


class ShapeError(RuntimeError):
    """A piece of the shape did not start; the message says which, with the end of its log."""


@dataclass
class Machine:
    """One app server: its instance folder, its copy of the campaign files, its gunicorn and its environment."""

    name: str
    folder: Path
    env: dict[str, str]
    server: Gunicorn
    started: float = field(default_factory=time.monotonic)  # when its gunicorn answered (time.monotonic)

    @property
    def campaigns(self) -> Path:
        return Path(self.env["CLAIMSITE_CAMPAIGNS_DIR"])

    @property
    def port(self) -> int:
        return self.server.port


@dataclass
class ProductionShape:
    folder: Path
    postgres_admin_url: str
    redis_url: str
    machines_count: int = 2
    workers_count: int = 1
    gunicorn_workers: int = 2
    nginx_options: tuple[str, ...] = ()  # more `flask deploy nginx` options, e.g. the edge limits
    nginx_extra: str = ""  # more of nginx's http context after the generated file (bench/spike.py's static server)
    machines: list[Machine] = field(default_factory=list)
    smtp: SMTPServer = field(default_factory=SMTPServer)
    stripe: StripeServer = field(default_factory=lambda: StripeServer(api_key=STRIPE_KEY))
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    database_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    nginx: Nginx | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.logs = self.folder / "logs"
        self._stack = contextlib.ExitStack()

    # --- start and stop ----------------------------------------------------------------------------------------
    def __enter__(self) -> ProductionShape:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._forget_limits()
        self._stack.callback(self._forget_limits)
        self.database_url = self._stack.enter_context(_database(self.postgres_admin_url))
        self._stack.enter_context(self.smtp)
        self._stack.enter_context(self.stripe)
        self.env = self._environment()
        for index in range(self.machines_count):
            name = chr(ord("a") + index)
            folder = self.folder / f"machine-{name}"
            (folder / "instance").mkdir(parents=True, exist_ok=True)
            if not (folder / "campaigns").exists():
                shutil.copytree(REPO / "campaigns", folder / "campaigns")
            env = {
                **self.env,
                "CLAIMSITE_INSTANCE_DIR": str(folder / "instance"),
                "CLAIMSITE_CAMPAIGNS_DIR": str(folder / "campaigns"),
            }
            if index == 0:
                self._run("migrate", [sys.executable, "-m", "flask", "db", "upgrade"], env)
            server = Gunicorn(env, log=self.logs / f"gunicorn-{name}.log", workers=self.gunicorn_workers)
            self._stack.enter_context(server)
            self.machines.append(Machine(name, folder, env, server))
        for index in range(self.workers_count):
            self.start_worker(self.machines[index % len(self.machines)], index)
        port = free_port()
        config = self._run(
            "flask deploy nginx",
            [
                sys.executable,
                "-m",
                "flask",
                "deploy",
                "nginx",
                "--admin-host",
                STAFF_HOST,
                "--plain-http",
                str(port),
                "--listen",
                HOST,
                "--cache-dir",
                str(self.folder / "nginx"),
                *[arg for machine in self.machines for arg in ("--app", f"{HOST}:{machine.port}")],
                *self.nginx_options,
            ],
            self.machines[0].env,
        )
        (self.folder / "nginx").mkdir(exist_ok=True)
        self.nginx = self._stack.enter_context(Nginx(self.folder / "nginx", config + self.nginx_extra, port))

    def _environment(self) -> dict[str, str]:
        from tests.conftest import ProductionSeal

        seal = ProductionSeal(self.folder / "seal")
        self._stack.callback(seal.authority.stop)
        return {
            **production_settings(
                self.folder / "keys",
                database_url=self.database_url,
                redis_url=self.redis_url,
                mail_url=self.smtp.url,
                stripe_url=self.stripe.url,
                seal=seal.environment,
            ),
            "CLAIMSITE_PUBLIC_SCHEME": "http",
            "CLAIMSITE_ADMIN_HOST": STAFF_HOST,
        }

    def _process_env(self, env: dict[str, str]) -> dict[str, str]:
        return {**{k: v for k, v in os.environ.items() if not k.startswith("CLAIMSITE_")}, **env}

    def _run(self, name: str, command: list[str], env: dict[str, str]) -> str:
        """Run a command to its end; its standard output (its errors go to its log)."""
        log = self.logs / f"{name.replace(' ', '-')}.log"
        with log.open("wb") as errors:
            done = subprocess.run(
                command, cwd=REPO, env=self._process_env(env), stdout=subprocess.PIPE, stderr=errors, timeout=300
            )
        if done.returncode != 0:
            raise ShapeError(f"{name} exited with {done.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        return done.stdout.decode()

    def start_worker(self, machine: Machine, index: int) -> subprocess.Popen[bytes]:
        """``flask worker`` on ``machine``'s settings, stopped with the shape."""
        with (self.logs / f"worker-{index + 1}-{machine.name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "worker", "--poll", "0.5"],
                cwd=REPO,
                env=self._process_env(machine.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches the shape, which stops it
            )
        self.workers.append(process)
        self._stack.callback(_stop, process)
        return process

    def kill(self, machine: Machine) -> None:
        """SIGKILL to ``machine``'s gunicorn master and its workers at once, as when the machine dies."""
        process = machine.server.process
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self, machine: Machine) -> None:
        """``machine``'s gunicorn started again on its port (where nginx looks for it)."""
        if machine.server.process is not None and machine.server.process.poll() is None:
            self.kill(machine)
        log = self.logs / f"gunicorn-{machine.name}-{time.strftime('%H%M%S')}.log"
        machine.server = Gunicorn(machine.env, log=log, workers=self.gunicorn_workers, port=machine.port)
        self._stack.enter_context(machine.server)
        machine.started = time.monotonic()

    def wait_until_nginx_uses(self, machine: Machine) -> None:
        """Wait until nginx sends requests to ``machine`` again after it was down: nginx leaves a server that failed
        out for the ``fail_timeout`` of its upstream block, counted from the failure, which was before the start."""
        assert self.nginx is not None
        found = re.search(r"fail_timeout=(\d+)s", (self.nginx.folder / "claimsite.conf").read_text(encoding="utf-8"))
        assert found is not None, "the generated upstream block has no fail_timeout"
        time.sleep(max(0.0, machine.started + int(found.group(1)) + 1.0 - time.monotonic()))

    def _forget_limits(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter("LIMITS*"))
            if keys:
                client.delete(*keys)
        except redis.RedisError as exc:
            raise ShapeError(
                f"Redis at {self.redis_url} does not answer ({exc}): production keeps its counts there"
            ) from None
        finally:
            client.close()

    # --- looking at it -----------------------------------------------------------------------------------------
    def log_tails(self, characters: int = 2000) -> str:
        """The end of every process's log, for a failure message."""
        paths = [*sorted(self.logs.glob("*.log")), self.folder / "nginx" / "error.log"]
        return "\n".join(
            f"--- {path} ---\n{path.read_text(errors='replace')[-characters:]}" for path in paths if path.exists()
        )

    def rows(self) -> set[tuple[str, str]]:
        """(campaign, email_hash) of every sign-up in the database."""
        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return {
                    (campaign, hashed)
                    for campaign, hashed in connection.execute(
                        sqlalchemy.text("SELECT campaign, email_hash FROM signups")
                    )
                }
        finally:
            engine.dispose()

    def email_hash(self, address: str) -> str:
        from core.data.hashing import email_hash

        return email_hash(self.env["CLAIMSITE_HASH_KEY"], address)

    def code_mails(self, address: str) -> list[str]:
        """The verification codes mailed to ``address`` so far (one per mail, in the order they came)."""
        with self.smtp.lock:
            subjects = [str(r.message["Subject"]) for r in self.smtp.messages if address in r.rcpt_tos]
        return [found.group(1) for found in map(CODE.search, subjects) if found]

    def wait_for_code_mails(self, addresses: list[str], timeout: float = 60.0) -> dict[str, list[str]]:
        """Each address's codes, once every address has one (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(self.code_mails(a) for a in addresses):
            time.sleep(0.2)
        return {address: self.code_mails(address) for address in addresses}


@contextlib.contextmanager
def _database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``admin_url``; dropped with everything in it afterwards."""
    name = f"claimsite_shape_{secrets.token_hex(6)}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as connection:
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        except sqlalchemy.exc.OperationalError as exc:
            raise ShapeError(f"PostgreSQL at {admin_url} does not answer: {exc.orig}") from None
        yield sqlalchemy.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(sqlalchemy.exc.OperationalError), admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def production_settings(
    keys: Path, *, database_url: str, redis_url: str, mail_url: str, stripe_url: str, seal: dict[str, str]
) -> dict[str, str]:
    """Production's settings (README, "Production", step 2) behind one proxy, every secret random for this run, the
    sealing key pair made in ``keys``; ``seal`` holds the mandate seal's settings. A campaign that charges is served
    only where a payment provider can take its fee: the Stripe stand-in at ``stripe_url`` with this module's keys."""
    from core.sealing import generate

    public = generate(keys)[1].read_text(encoding="utf-8").strip().splitlines()[-1]
    return {
        "FLASK_APP": "wsgi",
        "CLAIMSITE_ENV": "production",
        "CLAIMSITE_SECRET_KEY": secrets.token_urlsafe(48),
        "CLAIMSITE_HASH_KEY": secrets.token_urlsafe(48),
        "CLAIMSITE_CONTACT_KEY": secrets.token_urlsafe(48),
        "CLAIMSITE_BREACH_KEY": secrets.token_urlsafe(48),
        "CLAIMSITE_DATABASE_URL": database_url,
        "CLAIMSITE_RATELIMIT_STORAGE_URL": redis_url,
        "CLAIMSITE_TRUSTED_PROXIES": "1",
        "CLAIMSITE_MAIL_URL": mail_url,
        "CLAIMSITE_SEALING_PUBLIC_KEY": public,
        "CLAIMSITE_STRIPE_SECRET_KEY": STRIPE_KEY,
        "CLAIMSITE_STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "CLAIMSITE_STRIPE_API_BASE": stripe_url,
        **seal,
    }


# --- a visitor ---------------------------------------------------------------------------------------------------
class Visitor:
    """One browser: its own loopback address (nginx sees each as a client of its own) and its cookies.

    ``port`` is nginx's; a request sent to an app server's port directly carries ``X-Forwarded-For`` with the
    visitor's address, as nginx would add it (``CLAIMSITE_TRUSTED_PROXIES=1``)."""

    def __init__(self, port: int, host: str = SIGNUP_HOST, source: str = HOST) -> None:
        self.port, self.host, self.source = port, host, source
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, fields: dict[str, str] | None = None, port: int | None = None) -> Answer:
        """One request (to nginx, or to the app server on ``port``); raises OSError when the connection breaks."""
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if port is not None:
            headers["X-Forwarded-For"] = self.source
        body = b""
        if fields is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(fields).encode()
        answer = http_request(port or self.port, method, path, self.host, headers, body, self.source)
        for value in answer.all("Set-Cookie"):
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return answer

    def form_token(self, path: str, port: int | None = None) -> str:
        page = self.send("GET", path, port=port)
        found = CSRF.search(page.body)
        if page.status != 200 or found is None:
            raise AssertionError(f"GET {path}: {page.status}, no form:\n{page.body[:500]}")
        return found.group(1)

    def join(self, address: str, prefix: str = "/en", port: int | None = None, token: str | None = None) -> Answer:
        """The join form filled in and sent (as tests/test_signup.py's visitor fills it, with no phone number:
        production sends no SMS without a provider)."""
        from tests.test_signup import VALID

        token = token or self.form_token(f"{prefix}/join", port=port)
        fields = {**VALID, "phone": "", "email": address, "csrf_token": token}
        return self.send("POST", f"{prefix}/join", fields, port=port)


def location_path(answer: Answer) -> str:
    return urllib.parse.urlsplit(answer.header("Location") or "").path


# --- the smoke test ----------------------------------------------------------------------------------------------
@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def published_pages(campaigns_dir: Path) -> list[tuple[str, str, str]]:
    """(host, path, language) of every published campaign's landing page in each of its languages."""
    from core.campaigns import CampaignRegistry
    from core.campaigns.addresses import Address
    from core.campaigns.themes import Themes
    from core.plugins import PluginHost
    from core.settings import FolderSettings

    folders = FolderSettings(campaigns_dir=campaigns_dir)
    plugins = PluginHost()
    themes = Themes(folders.themes_dir, folders.campaigns_dir)
    snapshot = CampaignRegistry(folders.campaigns_dir, lambda: plugins.settings_schemas, themes).check()
    pages = []
    for loaded in snapshot.campaigns.values():
        campaign = loaded.campaign
        if campaign.status == "draft":
            continue
        address = Address.parse([*campaign.hosts, *campaign.paths][0])
        for language in campaign.languages:
            suffix = "/" if language == campaign.default_language else f"/{language}/"
            pages.append((address.host, address.prefix + suffix, language))
    return sorted(pages)


def smoke(shape: ProductionShape) -> list[Check]:
    """Through nginx: every published campaign's landing page in each of its languages, a sign-up whose
    verification mail reaches the mail server, and the staff console on its own host only."""
    assert shape.nginx is not None
    port = shape.nginx.port
    checks = []
    pages = published_pages(shape.machines[0].campaigns)
    wrong = []
    for host, path, language in pages:
        answer = shape.nginx.request("GET", path, host=host)
        if answer.status != 200 or f'<html lang="{language}"' not in answer.body:
            wrong.append(f"http://{host}{path}: {answer.status}")
    checks.append(
        Check(
            f"{len(pages)} landing pages (every published campaign, each language): 200, <html lang>",
            bool(pages) and not wrong,
            "; ".join(wrong),
        )
    )

    address = f"prod-check-{secrets.token_hex(4)}@example.org"
    name = f"a sign-up on {SIGNUP_HOST}: the form answers 302, its row is stored, its code mail is delivered"
    try:
        posted = Visitor(port, source="127.0.200.1").join(address)
    except (AssertionError, OSError) as exc:  # no form, or no answer
        checks.append(Check(name, False, str(exc)[:500]))
    else:
        mails = shape.wait_for_code_mails([address], timeout=60) if posted.status == 302 else {address: []}
        row = ("tiktokclaim", shape.email_hash(address)) in shape.rows()
        checks.append(
            Check(
                name,
                posted.status == 302 and row and len(mails[address]) == 1,
                f"answer {posted.status}, row stored: {row}, code mails: {len(mails[address])}",
            )
        )

    on_campaign = shape.nginx.request("GET", "/login", host=SIGNUP_HOST).status
    on_staff = shape.nginx.request("GET", "/login", host=STAFF_HOST).status
    checks.append(
        Check(
            f"the staff login: 404 on {SIGNUP_HOST}, 200 on {STAFF_HOST}",
            (on_campaign, on_staff) == (404, 200),
            f"{on_campaign} on the campaign host, {on_staff} on the staff host",
        )
    )
    return checks
