"""A loopback stand-in for Twilio's Messages API, for the real ``twilio`` library (plugins/twilio_sms).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth (account SID and auth token),
form-encoded ``To``, ``Body`` and ``From`` or ``MessagingServiceSid``, answered as Twilio documents it: 201 with the
Message resource (status ``queued``), or an error object ``{"code", "message", "more_info", "status"}``: 20003
for a wrong login (401), 21211 for a ``To`` that is not a valid number (400), 21604/21602 for a missing ``To`` or
``Body``, 21603/21606 without a sender. ``fail_next`` makes the next requests answer a given status (a 5xx outage,
a 429).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.smtp_server import HOST, free_port

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/Messages\.json$")
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")  # at least 8 digits: shorter numbers exist nowhere we send


@dataclass
class SentMessage:
    sid: str
    to: str
    body: str
    sender: str | None
    messaging_service_sid: str | None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log in the test output
        pass


class TwilioServer:
    """``start()``/``stop()`` (or ``with``); ``url`` to give the library; ``messages`` (what was accepted),
    ``requests`` (how many requests arrived); ``fail_next(status, count)``."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.port = free_port()
        self.messages: list[SentMessage] = []
        self.requests = 0
        self.lock = threading.Lock()
        self._failures: list[int] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> TwilioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TwilioServer:
        self._server = make_server(HOST, self.port, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="twilio-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next ``count`` requests with ``status`` (e.g. 503) and Twilio's error shape."""
        with self.lock:
            self._failures.extend([status] * count)

    # -- the API -------------------------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.requests += 1
            failure = self._failures.pop(0) if self._failures else None
        return self._answer(request, failure)(environ, start_response)

    def _answer(self, request: Request, failure: int | None) -> Response:
        match = MESSAGES_PATH.match(request.path)
        if match is None or request.method != "POST":
            return _error(404, 20404, "The requested resource was not found")
        if not self._authorised(request, match["sid"]):
            return _error(401, 20003, "Authenticate")
        if failure is not None:
            return _error(failure, 20429 if failure == 429 else 20500, "Service unavailable, try again later")
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if not sender and not service:
            return _error(400, 21603, "The source 'from' phone number is required to send an SMS")
        message = SentMessage("SM" + secrets.token_hex(16), to, body, sender, service)
        with self.lock:
            self.messages.append(message)
        now = format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
        }
        return Response(json.dumps(resource), status=201, content_type="application/json")

    def _authorised(self, request: Request, path_sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        expected = (self.account_sid, self.auth_token)
        return path_sid == self.account_sid and secrets.compare_digest(f"{user}:{password}", ":".join(expected))


def _error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(json.dumps(body), status=status, content_type="application/json")
