"""A private PostgreSQL cluster that a test (or bench/faults.py) starts, stops and restarts itself.

The shared server on 127.0.0.1:5432 must never be restarted by a test; this cluster lives in a temporary folder,
listens on a free loopback port below 32768 and is gone afterwards. ``initdb`` refuses to run as root, so the
server runs as the ``postgres`` user (``runuser``) when the tests run as root. About 2 s to create and start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.smtp_server import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> bool:
    """The PostgreSQL 15 server binaries are installed (Debian's postgresql-15)."""
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


class PrivateCluster:
    """``start()``, ``stop()``, ``restart()`` and ``remove()`` one cluster; ``url(database)`` for SQLAlchemy."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port(15000, 32767)
        self.folder = Path(tempfile.mkdtemp(prefix="claimsite-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(
            BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"
        )

    def _run(self, *args: object) -> None:
        command = [str(arg) for arg in args]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def start(self) -> PrivateCluster:
        # The socket goes into our own folder (the system's may not be writable by us); fsync off: test data.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(BIN / "pg_ctl", "start", "-w", "-D", self.data, "-l", self.log, "-o", options)
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session (as a restart does), ``immediate`` is a crash."""
        self._run(BIN / "pg_ctl", "stop", "-w", "-D", self.data, "-m", mode)

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
