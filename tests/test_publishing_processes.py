"""Publishing across processes, as production runs: two app servers (gunicorn) and a mail worker, each with its own
copy of the campaigns in memory. While they serve, staff add a campaign, edit a shared agreement text and break a
third campaign's file. Within 10 s both servers serve the new campaign and the worker sends its mail; the broken
campaign is reported; every other campaign answers 200 on both servers throughout (every answer is recorded)."""

from __future__ import annotations

import http.client
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    BREACH_KEY,
    CONTACT_KEY,
    HASH_KEY,
    PRODUCTION_PUBLIC_KEY,
    REPO,
    SECRET,
    STRIPE_KEY,
    STRIPE_WEBHOOK_SECRET,
    ProductionSeal,
)
from tests.gunicorn_server import Gunicorn
from tests.smtp_server import HOST
from tests.test_ratelimit_storage import redis_url  # noqa: F401  (a fixture)

PROMISE_SECONDS = 10.0
STEADY = [("facebookleak.somi.nl", "/en/"), ("tiktokclaim.org", "/en/"), ("somi.nl", "/palantirclaim/en/")]


def add_campaign(folder: Path) -> None:
    """instaclaim: a copy of facebookleak (open, free, with a sign-up) at an address of its own, whose terms are
    a new version in its own folder."""
    text = (folder / "facebookleak.yaml").read_text()
    text = text.replace("slug: facebookleak", "slug: instaclaim").replace("facebookleak.somi.nl", "instaclaim.somi.nl")
    text = text.replace('- id: terms\n      version: "2026-12-03"', '- id: terms\n      version: "2026-12-21"')
    own = folder / "instaclaim" / "agreements"
    own.mkdir(parents=True)
    for language in ("nl", "en"):
        shared = folder / "_shared" / "agreements" / f"terms.2026-12-03.{language}.md"
        (own / f"terms.2026-12-21.{language}.md").write_text(shared.read_text())
    (folder / "instaclaim.yaml.tmp").write_text(text)
    (folder / "instaclaim.yaml.tmp").rename(folder / "instaclaim.yaml")  # as an editor or rsync saves it


class Watch:
    """Asks every steady campaign on every server, again and again, until stopped; keeps every answer's status."""

    def __init__(self, servers: list[Gunicorn]) -> None:
        self.servers = servers
        self.answers: list[tuple[int, str, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for index, server in enumerate(self.servers):
                for host, path in STEADY:
                    try:
                        status = server.get(path, host=host).status
                    except (OSError, http.client.HTTPException):
                        status = 0
                    self.answers.append((index, host, path, status))
            time.sleep(0.05)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--poll", "0.2"]
        with (tmp_path / "worker.log").open("wb") as log:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def join(server: Gunicorn, host: str, email: str) -> tuple[int, str]:
    """Open the join form and send it, as a visitor's browser does; the status and body of the answer."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=10)
    try:
        connection.request("GET", "/en/join", headers={"Host": host})
        form = connection.getresponse()
        page = form.read().decode()
        cookie = "; ".join(value.split(";")[0] for key, value in form.getheaders() if key.lower() == "set-cookie")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert form.status == 200 and token is not None, page[:500]
        fields = {
            "csrf_token": token.group(1),
            "name": "Anna de Vries",
            "email": email,
            "phone": "",
            "country": "NL",
            "birth_date": "1990-05-01",
            "for_whom": "self",
        }
        from urllib.parse import urlencode

        connection.request(
            "POST",
            "/en/join",
            body=urlencode(fields),
            headers={
                "Host": host,
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"https://{host}/en/join",  # as a browser sends it (CSRF checks it on https)
            },
        )
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_a_change_reaches_every_process_and_a_broken_file_takes_nothing_down(
    tmp_path: Path,
    migrated_database_url: str,
    smtp_server: Any,
    worker_process: Any,
    redis_url: str,  # noqa: F811
    production_seal: ProductionSeal,
) -> None:
    campaigns = tmp_path / "campaigns"
    shutil.copytree(REPO / "campaigns", campaigns)
    env = {
        **production_seal.environment,
        "CLAIMSITE_ENV": "production",
        "CLAIMSITE_SECRET_KEY": SECRET,
        "CLAIMSITE_HASH_KEY": HASH_KEY,
        "CLAIMSITE_CONTACT_KEY": CONTACT_KEY,
        "CLAIMSITE_BREACH_KEY": BREACH_KEY,
        "CLAIMSITE_SEALING_PUBLIC_KEY": PRODUCTION_PUBLIC_KEY,
        "CLAIMSITE_INSTANCE_DIR": str(tmp_path / "instance"),
        "CLAIMSITE_DATABASE_URL": migrated_database_url,
        "CLAIMSITE_CAMPAIGNS_DIR": str(campaigns),
        "CLAIMSITE_MAIL_URL": smtp_server.url,
        "CLAIMSITE_RATELIMIT_STORAGE_URL": redis_url,  # its counts are deleted after the test
        "CLAIMSITE_STRIPE_SECRET_KEY": STRIPE_KEY,
        "CLAIMSITE_STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "CLAIMSITE_PAGE_CACHE_SECONDS": "0",
    }
    with Gunicorn(env, log=tmp_path / "a.log") as first, Gunicorn(env, log=tmp_path / "b.log") as second:
        servers = [first, second]
        worker = worker_process({**first.env})
        for server in servers:
            assert server.get("/en/", host="instaclaim.somi.nl").status == 404
            assert server.get("/en/", host="zoomclaim.org").status == 200
        with Watch(servers) as watch:
            time.sleep(1.0)
            changed = time.monotonic()
            add_campaign(campaigns)
            agreement = campaigns / "instaclaim" / "agreements" / "terms.2026-12-21.en.md"
            agreement.write_text(agreement.read_text() + "\nAn added sentence.\n")  # not published yet: may change
            (campaigns / "zoomclaim.yaml").write_text(
                (campaigns / "zoomclaim.yaml").read_text().replace("status: closed", "status: clsoed")
            )
            served_at = {}
            while len(served_at) < 2:
                for index, server in enumerate(servers):
                    if index not in served_at and server.get("/en/", host="instaclaim.somi.nl").status == 200:
                        served_at[index] = time.monotonic() - changed
                assert time.monotonic() - changed < PROMISE_SECONDS, f"published on {sorted(served_at)} only"
                time.sleep(0.1)
            address = f"anna.{secrets.token_hex(4)}@example.org"  # a new address: limits count per address
            status, body = join(first, "instaclaim.somi.nl", address)
            assert status == 302, re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]+)', body)
            posted = time.monotonic()
            (mail,) = smtp_server.wait_for(1, timeout=PROMISE_SECONDS)
            assert mail.rcpt_tos == [address]
            mailed_after = time.monotonic() - posted
            for server in servers:
                health = server.get("/healthz", host="anything.invalid")
                assert '"campaign_files_with_problems": 1' in health.body, health.body
                # the broken campaign keeps serving its last good version in a running process
                assert server.get("/en/", host="zoomclaim.org").status == 200
            time.sleep(1.0)
        assert worker.poll() is None
    bad = [answer for answer in watch.answers if answer[3] != 200]
    assert len(watch.answers) > 50 and bad == [], bad[:10]
    print(
        f"published after {served_at[0]:.1f} s and {served_at[1]:.1f} s; the worker's mail {mailed_after:.1f} s "
        f"after the post; {len(watch.answers)} answers of the other campaigns, all 200"
    )
    log = (tmp_path / "a.log").read_text()
    assert "zoomclaim.yaml" in log and "status" in log  # reported, loudly
