"""An S3-compatible server for tests: moto's server (``ThreadedMotoServer``) on a free loopback port below 32768,
in a child process of its own.

Why a child process and not a thread of the test process: moto keeps every uploaded object in its own memory, so
in the test's process it would fill the very memory the streaming tests measure (a 50 MB upload would show a peak
of 50 MB that the client never held). Run as ``python -m tests.s3_server PORT`` it serves until killed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.smtp_server import HOST, free_port

REGION = "us-east-1"
ACCESS_KEY = "testing"  # moto takes any credentials; these are only for boto3, so it never looks for real ones
SECRET_KEY = "testing"


class S3Server:
    """``with S3Server() as server:`` a moto S3 server at ``server.url``; ``server.client()`` is a boto3 client for
    it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> S3Server:
        root = Path(__file__).resolve().parent.parent
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.s3_server", str(self.port)],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the moto S3 server exited with status {self._process.returncode}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex((HOST, self.port)) == 0:
                    return self
            time.sleep(0.05)
        self._stop()
        raise RuntimeError(f"the moto S3 server did not answer on {self.url} within 30 s")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


def _serve(port: int) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
