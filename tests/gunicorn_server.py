"""Real gunicorn on a loopback port, started as README's production recipe starts it: ``gunicorn --workers N
--bind 127.0.0.1:PORT wsgi:app`` from the project folder (so it reads the shipped ``gunicorn.conf.py``), with the
settings in ``CLAIMSITE_*`` environment variables."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.smtp_server import HOST, free_port

REPO = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[0] if found else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def sqlite_app_settings(folder: Path, **more: str) -> dict[str, str]:
    """An app of the test settings and keys on the SQLite database ``folder/claimsite.sqlite3``, its instance folder
    ``folder``; ``more`` adds settings by their environment names."""
    from tests.conftest import CONTACT_KEY, HASH_KEY, SECRET

    return {
        "CLAIMSITE_ENV": "test",
        "CLAIMSITE_SECRET_KEY": SECRET,
        "CLAIMSITE_HASH_KEY": HASH_KEY,
        "CLAIMSITE_CONTACT_KEY": CONTACT_KEY,
        "CLAIMSITE_INSTANCE_DIR": str(folder),
        "CLAIMSITE_DATABASE_URL": f"sqlite:///{folder / 'claimsite.sqlite3'}",
        **more,
    }


class Gunicorn:
    """``with Gunicorn(env, workers=2, log=path) as server: server.get("/", host="tiktokclaim.org")``.

    ``port``: the one to listen on (a server started again where nginx expects it); default a free one."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 1, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("CLAIMSITE_")}, **env}
        self.log = log
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(self.workers),
            "--bind",
            f"{HOST}:{self.port}",
            "wsgi:app",
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_until_it_answers()
        except BaseException:  # also Ctrl-C while it starts: nothing outlives its starter
            self.__exit__()
            raise
        return self

    def _wait_until_it_answers(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                self.get("/", host="gunicorn-startup.invalid")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {STARTUP_SECONDS} s:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the master stops its workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def get(self, path: str, host: str, headers: dict[str, str] | None = None) -> Answer:
        """One GET on a new connection (so that each may reach another worker)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": host, **(headers or {})})
            response = connection.getresponse()
            return Answer(response.status, response.getheaders(), response.read().decode("utf-8", "replace"))
        finally:
            connection.close()
