"""Debian's nginx on a loopback port, running a configuration made by ``flask deploy nginx``
(:func:`core.deploy.nginx.render_nginx`) inside a main file like Debian's own: everything nginx writes (pid, logs,
temporary files, the cache) stays in one folder of the test's, and the process is the test's child, stopped by
``__exit__``.

As root, nginx's workers would run as ``nobody``, who cannot read a test's private temporary folders: the main file
then says ``user root``. (In production they run as ``www-data``; see README, "Production".)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.gunicorn_server import Answer
from tests.smtp_server import HOST

STARTUP_SECONDS = 10


def nginx_binary() -> str | None:
    """Debian's nginx, also when /usr/sbin is not on PATH (the Makefile's system-deps installs it)."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def main_config(folder: Path, site_config: Path) -> str:
    """nginx's main file around ``site_config``, with the http-level settings Debian's own nginx.conf makes (so a
    directive the generated file repeats would fail here as it would there)."""
    temporary = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 512; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log {folder / "access.log"};
    gzip on;
    {temporary}
    include {site_config};
}}
"""


class Nginx:
    """``with Nginx(folder, config_text, port) as nginx: nginx.request("GET", "/", host="tiktokclaim.org")``.

    ``port`` is the one the configuration listens on (``--plain-http PORT --listen 127.0.0.1``)."""

    def __init__(self, folder: Path, site_config: str, port: int) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed: make system-deps (apt-get install nginx)")
        self.binary = binary
        self.folder = folder
        self.port = port
        self.main = folder / "nginx.conf"
        (folder / "claimsite.conf").write_text(site_config, encoding="utf-8")
        self.main.write_text(main_config(folder, folder / "claimsite.conf"), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [self.binary, "-p", f"{self.folder}/", "-c", str(self.main), "-e", str(self.folder / "error.log"), *args]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the files: its answer (returncode, and the reasons in stderr)."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, check=False, timeout=30)

    def __enter__(self) -> Nginx:
        checked = self.test_config()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            self._wait_until_it_listens()
        except BaseException:  # also Ctrl-C while it starts: nothing outlives its starter
            self.__exit__()
            raise
        return self

    def _wait_until_it_listens(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{self.error_log()[-3000:]}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen in {STARTUP_SECONDS} s:\n{self.error_log()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the master stops its workers
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def request(
        self,
        method: str,
        path: str,
        host: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        source: str = HOST,
    ) -> Answer:
        """One request to this nginx: :func:`http_request`."""
        return http_request(self.port, method, path, host, headers, body, source)


def http_request(
    port: int,
    method: str,
    path: str,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    source: str = HOST,
) -> Answer:
    """One request to 127.0.0.1:``port`` on a new connection from ``source`` (any 127.x address: nginx sees it as
    the client's).

    Written on a plain socket: nginx may answer a body it refuses (413) before the body is all sent, and the
    answer is read all the same."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((HOST, port), timeout=20, source_address=(source, 0)) as connection:
        # Refused before the body was all read, or closed with the body unread: the answer came first.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        received = bytearray()
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                received += chunk
    return _parse(bytes(received))


def _parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in header_lines)]
    if any(name.lower() == "transfer-encoding" and "chunked" in value.lower() for name, value in headers):
        body = _unchunk(body)
    return Answer(int(status_line.split()[1]), headers, body.decode("utf-8", "replace"))


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    return bytes(out)
