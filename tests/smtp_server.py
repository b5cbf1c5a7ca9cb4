"""A real SMTP server for tests: aiosmtpd on a free loopback port below 32768, keeping every message it accepts.

It can be stopped and started again on the same port (a mail server that is down, then back), and told to
answer RCPT for an address with a given reply (``refuse["x@y"] = "450 ..."``), and call ``on_message`` with
each message it kept, before it answers the sender.
"""

from __future__ import annotations

import email
import email.policy
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port(low: int = 20000, high: int = 32767) -> int:
    """A loopback port nothing listens on, below 32768 (higher ones may be taken as outgoing ports)."""
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.server.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw)
        with self.server.lock:
            self.server.messages.append(received)
        if self.server.on_message is not None:  # e.g. kill the sender after the message is kept, before it hears so
            self.server.on_message(received)
        return "250 Message accepted for delivery"


class SMTPServer:
    """``start()``/``stop()`` an aiosmtpd server; ``url`` is what ``CLAIMSITE_MAIL_URL`` takes."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.refuse: dict[str, str] = {}
        self.on_message: Callable[[Received], None] | None = None
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> SMTPServer:
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname=HOST, port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
