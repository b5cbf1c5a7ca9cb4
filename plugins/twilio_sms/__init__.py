"""SMS provider ``twilio``: Twilio's Programmable Messaging, through Twilio's official ``twilio`` library.

Credentials come from the environment only::

    CLAIMSITE_SMS_PROVIDER=twilio
    CLAIMSITE_TWILIO_ACCOUNT_SID=AC...              CLAIMSITE_TWILIO_AUTH_TOKEN=...
    CLAIMSITE_TWILIO_FROM=+3197...  (a number or alphanumeric sender ID)  or
    CLAIMSITE_TWILIO_MESSAGING_SERVICE_SID=MG...    (a Messaging Service picks the sender)

The app refuses to start with this provider chosen and any of them missing. ``CLAIMSITE_TWILIO_API_BASE`` points
the library at another server (the tests' Twilio-compatible one on loopback).

Twilio's answers map onto the worker's retries: no answer, a 5xx, a 429 (too many requests) and a refused login
(401/403: credentials being rotated, fixed by the operator) are temporary, retried while the code is valid; any
other 4xx (21211 an invalid number, 21614 not a mobile number, 21408 a region not enabled, 21610 a number that
opted out) refuses this message for good. An error never repeats Twilio's message, which names the number.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from core.phones.sms_providers import SmsPermanentError, SmsProvider, SmsTemporaryError
from core.plugins import hookimpl

ENV_PREFIX = "CLAIMSITE_TWILIO_"
TIMEOUT_SECONDS = 10
TEMPORARY_STATUSES = frozenset({401, 403, 429})
# The library logs each request and response at INFO (URLs and headers, never the body); ours stay at WARNING.
_http_log = logging.getLogger(__name__ + ".http")
_http_log.setLevel(logging.WARNING)


class TwilioSms(SmsProvider):
    identifier = "twilio"

    def __init__(self, environ: Mapping[str, str]) -> None:
        def value(name: str) -> str:
            return environ.get(ENV_PREFIX + name, "").strip()

        self.account_sid = value("ACCOUNT_SID")
        self.auth_token = value("AUTH_TOKEN")
        self.sender = value("FROM")
        self.messaging_service_sid = value("MESSAGING_SERVICE_SID")
        self.api_base = value("API_BASE")
        self._client: Client | None = None

    def setup_problem(self) -> str | None:
        missing = [
            ENV_PREFIX + name
            for name, given in (("ACCOUNT_SID", self.account_sid), ("AUTH_TOKEN", self.auth_token))
            if not given
        ]
        if not (self.sender or self.messaging_service_sid):
            missing.append(f"{ENV_PREFIX}FROM or {ENV_PREFIX}MESSAGING_SERVICE_SID")
        return f"set {', '.join(missing)}" if missing else None

    def client(self) -> Client:
        """The library's client, made once (it keeps a pool of connections)."""
        if self._client is None:
            http = TwilioHttpClient(timeout=TIMEOUT_SECONDS, logger=_http_log)
            self._client = Client(self.account_sid, self.auth_token, http_client=http)
            if self.api_base:
                self._client.api.base_url = self.api_base
        return self._client

    def send(self, to_e164: str, text: str) -> str:
        sender = {"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid else {}
        if not sender:
            sender = {"from_": self.sender}
        try:
            message = self.client().messages.create(to=to_e164, body=text, **sender)
        except TwilioRestException as exc:
            # exc.msg names the number: only the status and Twilio's error code are kept.
            what = f"Twilio answered {exc.status} (error {exc.code or 'none'})"
            if exc.status >= 500 or exc.status in TEMPORARY_STATUSES:
                raise SmsTemporaryError(what) from None
            raise SmsPermanentError(what) from None
        except requests.RequestException as exc:
            raise SmsTemporaryError(f"Twilio could not be reached ({type(exc).__name__})") from None
        return str(message.sid)


@hookimpl
def claimsite_sms_providers() -> list[SmsProvider]:
    return [TwilioSms(os.environ)]
