"""The participant's vault through the app (issue 21): a large file deposited with the real ``flask vault deposit``
and downloaded through the real ``/my/vault/files/<id>`` of gunicorn, on the local store and on S3, with the memory
of both processes against a small file, and a search for the plaintext everywhere it could have been left.

Run: ``.venv/bin/python bench/vault_app.py`` (1 GiB against 10 MiB, both stores, a few minutes; ``--size 50M`` for a
quick run, ``--stores local`` for one store, ``--help`` for the rest).

For each store (a folder in the instance folder; a bucket on moto's S3 server, started on loopback in a process of
its own and stopped afterwards: ``tests/s3_server.py``):

- **The app** is the production one (``CLAIMSITE_ENV=production``, keys and seal of the bench's own, as
  ``bench/landing.py`` makes them; a migrated SQLite file in the instance folder; mail to an SMTP server on loopback
  in this process), configured through ``CLAIMSITE_*`` variables as README's recipe runs it. Every process the bench
  starts (the deposit, gunicorn, moto) gets ``TMPDIR`` set to a folder of the run.
- **The participant**: a confirmed sign-up of tiktokclaim written directly, and a vault whose key pair is made here
  in Python (the browser would make it; the wrapped private key does not matter to the server).
- **The plaintext**: a file written once per size, numbered 1 MiB blocks with a marker every 4 KiB
  (``MarkedPlaintext`` of ``bench/vault.py``: ``CLAIMSITE-PLAINTEXT-<random hex>``, new each run), and its SHA-256.
- **The deposit**: ``flask vault deposit`` as a subprocess (``.venv/bin/flask``, ``FLASK_APP=wsgi``); its peak RSS
  is the kernel's ``ru_maxrss`` of that process (``os.wait4``), start-up included, so the small file's run is the
  baseline: the difference is what the file's size adds. Its RSS is also polled every 50 ms: the last value seen,
  at its end, shows what it holds once the start-up's peak is behind it.
- **The download**: gunicorn with one sync worker (``gunicorn --workers 1 wsgi:app`` in the project folder, so with
  the shipped ``gunicorn.conf.py``); the participant logs in through the real login link (asked for on ``/en/my``,
  mailed by the job worker run here, opened and confirmed), finds the file's id on ``/en/my/vault/files`` and
  downloads ``/en/my/vault/files/<id>``; the ciphertext is decrypted as it arrives (``decrypt_stream``) into a
  SHA-256, never kept, which must equal the plaintext's. The worker's peak RSS is reset to its current RSS just
  before each download (``/proc/<pid>/clear_refs``) and read (VmHWM) once it has sent the last byte.
- **The search**, once both sizes went through: every regular file under the run's ``TMPDIR``, ``/tmp``,
  ``/var/tmp``, ``/dev/shm`` and the instance folder (the local store, the database and the logs are in it), and
  every object of the bucket, is read through for the marker; the input folder holds the plaintext on purpose and
  is left out, but is searched first, as a control that the search finds what it looks for. Files another process
  removes while the search runs are skipped. A temporary file that a process unlinks at once (``tempfile`` does)
  cannot be found afterwards; none of ours takes one: the plaintext goes from the input file through the
  encryption to the store, and the ciphertext from the store to the response, in blocks.

Printed per store and size: seconds, MiB/s and peak RSS of the deposit and of the server's download, then the growth
of each peak from the small file to the large one, whether the bytes came back the same, and where the marker was
found (if anywhere). The times include a process start-up (deposit) or the client's decryption (download) and move
with other load on the machine: the load average is printed beside them. Peak RSS does not depend on that load.

Exit status: 0 when every check passed, 1 when a check failed (the bytes differ, a marker was found, the search did
not find the control, or a peak grew by more than ``--max-growth``) or the app did not start or answer as it
should, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from landing import OFFLINE_STRIPE, BenchFailure, app_config
from vault import BLOCK, MarkedPlaintext, marker_at, size_argument

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server  # noqa: E402
from tests.smtp_server import SMTPServer, free_port  # noqa: E402

BIN = Path(sys.executable).parent
CAMPAIGN = "tiktokclaim"
HOST = "tiktokclaim.org"
ADDRESS = "vault-bench@example.org"
BUCKET = "claimsite-vault-bench"
STARTUP_SECONDS = 60
SEARCHED = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
MiB = 1 << 20


# --- the processes' memory -------------------------------------------------------------------------------------------
def proc_kib(pid: int, field_name: str) -> int | None:
    """A figure of /proc/<pid>/status in KiB (VmRSS: resident now, VmHWM: the peak), None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak(pid: int) -> bool:
    """Make the peak RSS of ``pid`` its current RSS (Linux 4.0+), so the next peak is the next request's own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


# --- the app's settings and participant ------------------------------------------------------------------------------
@dataclass
class Run:
    """One store's run: its folders, the environment of every process it starts, the participant."""

    store: str
    work: Path
    marker: bytes
    settings: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    private: Any = None
    problems: list[str] = field(default_factory=list)

    @property
    def instance(self) -> Path:
        return self.work / "instance"

    @property
    def tmpdir(self) -> Path:
        return self.work / "tmp"

    @property
    def inputs(self) -> Path:
        return self.work / "input"


def configure(run: Run, smtp: SMTPServer, s3: S3Server | None) -> None:
    """The production app's settings for ``run``, and the environment that gives them to the processes."""
    settings: dict[str, Any] = app_config(secrets.token_urlsafe(32), str(run.instance))
    settings.update(
        database_url=f"sqlite:///{run.instance / 'claimsite.sqlite3'}",
        mail_url=smtp.url,
    )
    extra = {"TMPDIR": str(run.tmpdir), "FLASK_APP": "wsgi", "PYTHONDONTWRITEBYTECODE": "1"}
    if s3 is not None:
        settings.update(
            vault_store="s3", vault_s3_bucket=BUCKET, vault_s3_prefix="vault/", vault_s3_endpoint_url=s3.url
        )
        extra.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
    run.settings = settings
    run.env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("CLAIMSITE_")},
        **OFFLINE_STRIPE,  # production refuses a paying campaign without them; nothing is paid here
        **{f"CLAIMSITE_{name.upper()}": str(value) for name, value in settings.items()},
        **extra,
    }


def in_process_app(run: Run) -> Any:
    """The same app in this process, for what a bench may do behind its back: migrate, write the participant, run the
    job worker that mails the login link. No publishing thread."""
    from core import create_app

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        if name in run.env:
            os.environ[name] = run.env[name]
    return create_app({**run.settings, "publish_poll_seconds": 0})


def add_participant(app: Any) -> tuple[str, Any]:
    """A confirmed sign-up of ``ADDRESS`` with a vault; returns its reference (as the console shows it) and the
    vault's private key."""
    from core.data import vault_keys
    from core.data.db import db_session, utcnow
    from core.data.hashing import email_hash
    from core.data.models import Signup, Stage
    from core.site import site
    from core.vault.stream_format import generate_key_pair

    private, public_raw = generate_key_pair()
    with app.app_context():
        db, now = db_session(), utcnow()
        hashed = email_hash(site().hash_key, ADDRESS)
        token = secrets.token_urlsafe(32)
        db.add(
            Signup(
                token=token,
                campaign=CAMPAIGN,
                email_hash=hashed,
                language="en",
                stage=Stage.SIGNED,
                created_at=now,
                verified_at=now,
                signed_at=now,
                confirmed_at=now,
            )
        )
        db.commit()
        if vault_keys.set_up(db, hashed, public_raw, "{}", "{}", now) is not vault_keys.SetUp.DONE:
            raise BenchFailure("the participant's vault could not be set up")
    return token[:12], private


# --- the servers -----------------------------------------------------------------------------------------------------
class Gunicorn:
    """``gunicorn --workers 1 wsgi:app`` in the project folder, as README runs it; ``worker_pid`` is its worker."""

    def __init__(self, run: Run) -> None:
        self.run, self.port = run, free_port()
        self.log = run.instance / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.run.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchFailure(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if request(self.port, "GET", "/en/", {}).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise BenchFailure(f"gunicorn did not answer in {STARTUP_SECONDS} s:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the master stops its worker
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    @property
    def worker_pid(self) -> int:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        if len(children) != 1:
            raise BenchFailure(f"gunicorn should have one worker, it has {len(children)}")
        return int(children[0])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes


def request(port: int, method: str, path: str, cookies: dict[str, str], form: dict[str, str] | None = None) -> Answer:
    """One request to the app as a browser on ``HOST`` sends it; the answer read whole (pages, not the download)."""
    headers = {"Host": HOST, "Accept-Language": "en"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    jar: dict[str, str] = {}
    for value in response.msg.get_all("Set-Cookie") or []:
        parsed = SimpleCookie()
        parsed.load(value)
        jar.update({name: morsel.value for name, morsel in parsed.items()})
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, jar, content)


def csrf_of(html: bytes) -> str:
    found = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html)
    if found is None:
        raise BenchFailure("no CSRF token on the page")
    return found.group(1).decode()


def log_in(app: Any, server: Gunicorn, smtp: SMTPServer) -> dict[str, str]:
    """The participant's session cookie, through the real login link: asked for on /en/my, mailed by the job
    worker, opened (a page with a button) and confirmed."""
    from core.jobs.queue import Worker

    cookies: dict[str, str] = {}
    form_page = request(server.port, "GET", "/en/my", cookies)
    cookies.update(form_page.cookies)
    asked = request(server.port, "POST", "/en/my", cookies, {"email": ADDRESS, "csrf_token": csrf_of(form_page.body)})
    cookies.update(asked.cookies)
    if asked.status != 302:
        raise BenchFailure(f"asking for a login link answered {asked.status}")
    while Worker(app).run_once():
        pass
    mails = [received.message for received in smtp.messages if ADDRESS in received.rcpt_tos]
    if not mails:
        raise BenchFailure("no login link was mailed")
    text = mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(rf"https://{re.escape(HOST)}(/\S*my/login/\S+)", text)
    if link is None:
        raise BenchFailure("the login mail holds no login link")
    button = request(server.port, "GET", link.group(1), cookies)
    cookies.update(button.cookies)
    done = request(server.port, "POST", link.group(1), cookies, {"csrf_token": csrf_of(button.body)})
    cookies.update(done.cookies)
    if done.status != 302 or not done.headers.get("location", "").endswith("/en/my"):
        raise BenchFailure(f"the login link answered {done.status} {done.headers.get('location')}")
    return cookies


# --- one file through ------------------------------------------------------------------------------------------------
@dataclass
class Figures:
    size: int
    deposit_seconds: float = 0.0
    deposit_peak_kib: int = 0
    deposit_last_kib: int | None = None
    deposit_load: str = ""
    download_seconds: float = 0.0
    server_rss_before_kib: int | None = None
    server_peak_kib: int | None = None
    download_load: str = ""
    same: bool = False


def write_plaintext(path: Path, size: int, marker: bytes) -> str:
    """The plaintext file of ``size`` bytes; returns its SHA-256."""
    digest, source = hashlib.sha256(), MarkedPlaintext(size, marker)
    with path.open("wb") as file:
        while block := source.read(BLOCK):
            digest.update(block)
            file.write(block)
    return digest.hexdigest()


def deposit(run: Run, reference: str, plain: Path, figures: Figures) -> None:
    """``flask vault deposit`` of ``plain`` for the participant, in a process of its own, with its peak RSS."""
    mapping = run.inputs / f"mapping-{figures.size}.csv"
    mapping.write_text(f"reference,file,name\n{reference},{plain.name},answer-{figures.size}.zip\n", encoding="utf-8")
    log = run.instance / f"deposit-{figures.size}.log"
    command = [str(BIN / "flask"), "vault", "deposit", str(mapping), "--campaign", CAMPAIGN, "--company", "bench"]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=run.env, stdout=out, stderr=subprocess.STDOUT)
        # Polled as it runs: the RSS it ends with shows what the work holds, apart from the start-up's peak.
        while (finished := os.wait4(process.pid, os.WNOHANG))[0] == 0:
            figures.deposit_last_kib = proc_kib(process.pid, "VmRSS") or figures.deposit_last_kib
            time.sleep(0.05)
    _pid, status, usage = finished
    process.returncode = os.waitstatus_to_exitcode(status)
    figures.deposit_seconds = time.perf_counter() - started
    figures.deposit_peak_kib = usage.ru_maxrss
    figures.deposit_load = load_average()
    if process.returncode != 0:
        raise BenchFailure(f"flask vault deposit exited with {process.returncode}:\n{log.read_text()[-3000:]}")


class HashSink:
    """Where the decrypted plaintext goes: into a SHA-256, nowhere else."""

    def __init__(self) -> None:
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def file_id_of(server: Gunicorn, cookies: dict[str, str], name: str) -> tuple[int, int]:
    """The id and ciphertext size of the file named ``name`` in the participant's vault, from /en/my/vault/files."""
    listing = request(server.port, "GET", "/en/my/vault/files", cookies)
    if listing.status != 200:
        raise BenchFailure(f"/en/my/vault/files answered {listing.status}")
    found = [item for item in json.loads(listing.body)["files"] if item["file_name"] == name]
    if len(found) != 1:
        raise BenchFailure(f"the vault lists {len(found)} file(s) named {name}")
    return found[0]["id"], found[0]["size_cipher"]


def download(run: Run, server: Gunicorn, cookies: dict[str, str], figures: Figures, expected_sha256: str) -> None:
    """The file's ciphertext from the app, decrypted as it arrives, with the server worker's peak RSS."""
    from core.vault.stream_format import decrypt_stream

    file_id, size_cipher = file_id_of(server, cookies, f"answer-{figures.size}.zip")
    worker = server.worker_pid
    exact = reset_peak(worker)
    figures.server_rss_before_kib = proc_kib(worker, "VmRSS") if exact else None
    sink = HashSink()
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        headers = {"Host": HOST, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        connection.request("GET", f"/en/my/vault/files/{file_id}", headers=headers)
        response = connection.getresponse()
        if response.status != 200 or response.getheader("Content-Length") != str(size_cipher):
            raise BenchFailure(f"the download answered {response.status}, {response.getheader('Content-Length')} bytes")
        decrypt_stream(response, sink, run.private)  # type: ignore[arg-type]
        if response.read(1):
            raise BenchFailure("the download goes on after the vault file's last chunk")
    finally:
        connection.close()
    figures.download_seconds = time.perf_counter() - started
    figures.download_load = load_average()
    figures.server_peak_kib = proc_kib(worker, "VmHWM")
    figures.same = sink.size == figures.size and sink.digest.hexdigest() == expected_sha256
    if not figures.same:
        run.problems.append(f"{run.store}: the {figures.size:,} bytes came back different ({sink.size:,} bytes)")


# --- the search for the plaintext ------------------------------------------------------------------------------------
def files_under(folders: list[Path], left_out: Path) -> Iterator[Path]:
    """Every regular file under ``folders`` once (by inode), not following links, except under ``left_out``."""
    seen: set[tuple[int, int]] = set()
    for folder in folders:
        for top, dirs, names in os.walk(folder, followlinks=False):
            if Path(top) == left_out:
                dirs[:] = []
                continue
            for name in names:
                path = Path(top) / name
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if not path.is_symlink() and path.is_file() and (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    yield path


def found_in(path: Path, marker: bytes) -> bool:
    with path.open("rb") as file:
        return marker_at(file, marker) is not None


def search(run: Run, s3: S3Server | None) -> tuple[list[str], int, int]:
    """Where the run's marker is, in the folders and the bucket; also how many files and bytes were read."""
    found: list[str] = []
    files = read = 0
    for path in files_under([run.tmpdir, *SEARCHED, run.instance], run.inputs):
        try:
            with path.open("rb") as file:
                at = marker_at(file, run.marker)
                read += file.tell()
        except OSError:  # removed or unreadable meanwhile (another process's)
            continue
        files += 1
        if at is not None:
            found.append(f"{path} at byte {at}")
    if s3 is not None:
        client = s3.client()
        for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"]
            at = marker_at(body, run.marker)
            files, read = files + 1, read + item["Size"]
            if at is not None:
                found.append(f"s3://{BUCKET}/{item['Key']} at byte {at}")
        for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
            run.problems.append(f"{run.store}: an unfinished upload is left in the bucket: {upload['Key']}")
    return found, files, read


def stored_count(run: Run, s3: S3Server | None) -> int:
    if s3 is not None:
        return len(s3.client().list_objects_v2(Bucket=BUCKET).get("Contents", []))
    folder = run.instance / "vault"
    return sum(1 for path in folder.rglob("*") if path.is_file())


# --- the report ------------------------------------------------------------------------------------------------------
def mib(kib: int | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib is not None else "n/a"


def rate(size: int, seconds: float) -> str:
    return f"{size / MiB / seconds:7.1f} MiB/s" if seconds else "    inf MiB/s"


def print_figures(store: str, figures: Figures) -> None:
    label = f"{store:<5} {figures.size / MiB:6.0f} MiB"
    print(
        f"{label}  deposit  {figures.deposit_seconds:6.2f} s {rate(figures.size, figures.deposit_seconds)}  "
        f"peak RSS {mib(figures.deposit_peak_kib):>9}, {mib(figures.deposit_last_kib)} at its end  "
        f"(load {figures.deposit_load})",
        flush=True,
    )
    before = f", {mib(figures.server_rss_before_kib)} before" if figures.server_rss_before_kib is not None else ""
    print(
        f"{label}  download {figures.download_seconds:6.2f} s {rate(figures.size, figures.download_seconds)}  "
        f"peak RSS {mib(figures.server_peak_kib):>9}{before}  bytes {'same' if figures.same else 'DIFFER'}  "
        f"(load {figures.download_load})",
        flush=True,
    )


def growth(run: Run, what: str, small: int | None, large: int | None, limit_kib: int) -> str:
    if small is None or large is None:
        run.problems.append(f"{run.store}: no peak RSS of the {what}")
        return f"{what} n/a"
    grew = large - small
    if grew > limit_kib:
        run.problems.append(f"{run.store}: the {what}'s peak RSS grew by {mib(grew)} with the file")
    return f"{what} {'+' if grew >= 0 else ''}{grew / 1024:.1f} MiB"


# --- one store -------------------------------------------------------------------------------------------------------
def measure_store(store: str, sizes: tuple[int, int], work: Path, marker: bytes, max_growth: int) -> list[str]:
    """Both sizes through one store; returns the problems found (empty when every check passed)."""
    run = Run(store, work, marker)
    for folder in (run.instance, run.tmpdir, run.inputs):
        folder.mkdir(parents=True)
    # moto's process inherits this environment (tests/s3_server.py): its temporary files (it spools the parts) go to
    # the run's TMPDIR too. This process chose its own temporary folder before.
    with (
        patched_environ(TMPDIR=str(run.tmpdir)),
        SMTPServer() as smtp,
        S3Server() if store == "s3" else contextlib.nullcontext() as s3,
    ):
        configure(run, smtp, s3)
        if s3 is not None:
            s3.client().create_bucket(Bucket=BUCKET)
        from core.data.migrations import upgrade

        upgrade(run.settings["database_url"])
        app = in_process_app(run)
        reference, run.private = add_participant(app)
        results = []
        with Gunicorn(run) as server:
            cookies = log_in(app, server, smtp)
            for size in sizes:
                plain = run.inputs / f"plaintext-{size}.bin"
                expected = write_plaintext(plain, size, marker)
                figures = Figures(size)
                deposit(run, reference, plain, figures)
                download(run, server, cookies, figures, expected)
                print_figures(store, figures)
                results.append(figures)
        app.extensions["claimsite.db"].engine.dispose()
        small, large = results
        print(
            f"{store:<5} peak RSS growth from {small.size / MiB:.0f} to {large.size / MiB:.0f} MiB: "
            + growth(run, "deposit", small.deposit_peak_kib, large.deposit_peak_kib, max_growth // 1024)
            + ", "
            + growth(run, "server", small.server_peak_kib, large.server_peak_kib, max_growth // 1024),
            flush=True,
        )
        if not all(found_in(path, marker) for path in run.inputs.glob("plaintext-*.bin")):
            run.problems.append(f"{store}: the search does not find the marker in the plaintext files themselves")
        left = sum(1 for path in run.tmpdir.rglob("*") if path.is_file())
        started = time.perf_counter()
        found, files, read = search(run, s3)
        stored = stored_count(run, s3)
        if stored != len(sizes):
            run.problems.append(f"{store}: the store holds {stored} file(s), not {len(sizes)}")
        print(
            f"{store:<5} plaintext marker: {'FOUND in ' + '; '.join(found) if found else 'not found'} "
            f"({files} files, {read / MiB:.0f} MiB read in {time.perf_counter() - started:.1f} s: the run's TMPDIR, "
            f"{', '.join(str(f) for f in SEARCHED)}, the instance folder{' and the bucket' if s3 else ''}; "
            f"the store holds {stored} files; {left} left in the run's TMPDIR)",
            flush=True,
        )
        if found:
            run.problems.append(f"{store}: plaintext found: {'; '.join(found)}")
    return run.problems


@contextlib.contextmanager
def patched_environ(**values: str) -> Iterator[None]:
    """This process's environment with ``values`` (what the processes it starts inherit), restored afterwards."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=size_argument, default=1 << 30, help="the large file (default 1G = 1 GiB)")
    parser.add_argument("--small", type=size_argument, default=10 << 20, help="the baseline file (default 10M)")
    parser.add_argument("--stores", default="local,s3", help="local, s3 or both (default local,s3)")
    parser.add_argument(
        "--max-growth", type=size_argument, default=32 << 20, help="peak RSS growth that fails the run (default 32M)"
    )
    parser.add_argument("--folder", type=Path, help="where the run's folders go (default: a temporary folder)")
    args = parser.parse_args(argv)
    stores = [name.strip() for name in args.stores.split(",") if name.strip()]
    if not stores or set(stores) - {"local", "s3"} or args.small >= args.size:
        parser.error("--stores takes local, s3 or local,s3; --small must be smaller than --size")
    marker = b"CLAIMSITE-PLAINTEXT-" + secrets.token_hex(8).encode()
    print(
        f"{args.size:,} bytes against {args.small:,}, stores: {', '.join(stores)}; load average {load_average()} "
        f"on {os.cpu_count()} cores",
        flush=True,
    )
    problems: list[str] = []
    for store in stores:
        if args.folder is not None:
            args.folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"claimsite-vault-app-{store}-", dir=args.folder))
        try:
            problems += measure_store(store, (args.small, args.size), work, marker, args.max_growth)
        except BenchFailure as failure:
            problems.append(f"{store}: {failure}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print("FAILED:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
