"""No mail, page, access log line or cookie holds a key outside a URL fragment (issue 21).

A whole sign-up and a login run against real gunicorn (started as README's production recipe starts it, with
gunicorn's access log on), its jobs run by a worker in this process, its mail delivered to a real SMTP server. Then
everything that left the server is searched: every mail (headers and decoded parts), gunicorn's log (access lines
and whatever the app logged), every ``Set-Cookie`` (Flask's session cookie is signed, not encrypted: its payload is
base64 JSON, decoded here) and every body served. Each is searched as it is and with every base64 run in it decoded
(itsdangerous tokens and cookies carry base64 JSON), for: the one-off key of the participant's copy of the mandate
(which may only appear after a ``#``), the old ``copy_key`` of the address as the code before revision 0020a derived
it, and the hash key, the contact key and the secret key.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import http.client
import json
import re
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from core import create_app
from core.data.hashing import keyed_hash, normalise_email
from core.data.models import Signup
from core.jobs.queue import Worker
from core.signup.mandate_job import make_mandate
from core.vault.stream_format import load_private_pkcs8
from tests.conftest import BREACH_KEY, CONTACT_KEY, HASH_KEY, SECRET
from tests.gunicorn_server import Gunicorn
from tests.smtp_server import HOST, SMTPServer
from tests.test_signup import VALID

pytestmark = pytest.mark.databases("sqlite")

CAMPAIGN_HOST = "tiktokclaim.org"
ADDRESS = "key.grep@example.org"
# A fragment as the confirmation mail and the done page write it: what may hold the one-off key.
FRAGMENT = re.compile(rb"#[A-Za-z0-9_-]+")
# Runs of either base64 alphabet (a path's slashes split base64url runs; standard base64 keeps them).
BASE64_RUNS = (
    (re.compile(rb"[A-Za-z0-9_-]{16,}"), base64.urlsafe_b64decode),
    (re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}"), base64.b64decode),
)


@dataclass
class Client:
    """A browser's worth of HTTP against gunicorn: cookies kept by name, redirects followed; every answer's body and
    ``Set-Cookie`` header recorded."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    set_cookies: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, body, location) of one request, redirects not followed."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        headers = {"Host": CAMPAIGN_HOST, "Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            for value in response.headers.get_all("Set-Cookie") or []:
                self.set_cookies.append(value)
                for name, morsel in SimpleCookie(value).items():
                    if (morsel["expires"] and "1970" in morsel["expires"]) or morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        finally:
            connection.close()
        self.bodies.append(data)
        location = response.headers.get("Location") or ""
        return response.status, data.decode("utf-8", "replace"), urlsplit(location).path if location else ""

    def get(self, path: str) -> str:
        for _ in range(5):
            status, body, location = self.request("GET", path)
            if status not in (301, 302, 303):
                assert status == 200, (path, status)
                return body
            path = location
        raise AssertionError(f"too many redirects from {path}")

    def post(self, path: str, form: dict[str, str]) -> str:
        """Post ``form`` (with the CSRF token of the page at ``path``) and follow the answer's redirects."""
        status, body, location = self.request("POST", path, form)
        assert status in (302, 303), (path, status, body[:500])
        return self.get(location)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


@pytest.fixture
def flow(tmp_path: Path, migrated_sqlite: Path) -> Iterator[tuple[Gunicorn, Flask, SMTPServer, Client]]:
    """gunicorn with its access log on, and the app the worker runs in this process, over one database and instance
    folder (so both seal to the same key), mailing to a real SMTP server."""
    shutil.copy(migrated_sqlite, tmp_path / "claimsite.sqlite3")
    with SMTPServer() as smtp:
        settings = {
            "env": "test",
            "secret_key": SECRET,
            "hash_key": HASH_KEY,
            "contact_key": CONTACT_KEY,
            "breach_key": BREACH_KEY,
            "instance_dir": str(tmp_path),
            "database_url": f"sqlite:///{tmp_path / 'claimsite.sqlite3'}",
            "mail_url": smtp.url,
        }
        app = create_app({**settings, "publish_poll_seconds": 0})
        app.extensions["claimsite"].settings.development_key_pair()  # made once, before both processes use it
        environment = {f"CLAIMSITE_{name.upper()}": value for name, value in settings.items()}
        environment["GUNICORN_CMD_ARGS"] = "--access-logfile - --error-logfile -"  # both into the one log file
        with Gunicorn(environment, log=tmp_path / "gunicorn.log") as server:
            yield server, app, smtp, Client(server.port)
        app.extensions["claimsite.db"].engine.dispose()


def run_jobs(app: Flask) -> None:
    worker = Worker(app)
    while worker.run_once():
        pass


def mail_to(smtp: SMTPServer, subject: str) -> EmailMessage:
    found = [r.message for r in smtp.messages if subject in str(r.message["Subject"])]
    assert found, [str(r.message["Subject"]) for r in smtp.messages]
    return found[-1]  # type: ignore[return-value]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def whole_flow(app: Flask, smtp: SMTPServer, client: Client) -> str:
    """Join (form, code, agreements, signature, payment on the test checkout), see the done page with and then
    without the mandate link, open the mandate page and its copy from the confirmation mail, log in to /my and open
    the vault page. Returns the key in the mandate link's fragment."""
    form = client.get("/en/join")
    client.post("/en/join", {**VALID, "email": ADDRESS, "csrf_token": csrf_of(form)})
    run_jobs(app)
    code = re.search(r"\b(\d{6})\b", str(mail_to(smtp, "verification code")["Subject"])).group(1)  # type: ignore[union-attr]
    sign = client.post("/en/join/verify", {"code": code, "csrf_token": csrf_of(client.get("/en/join/verify"))})
    signed = {"csrf_token": csrf_of(sign), "signature_typed": VALID["name"], "fee_option": "share"}
    for agreement, sha in re.findall(r'name="sha-([a-z0-9-]+)" value="([0-9a-f]{64})"', sign):
        signed |= {f"sha-{agreement}": sha, f"agree-{agreement}": "yes"}
    status, _body, pay = client.request("POST", "/en/join/sign", signed)
    assert status == 302 and "/join/pay/" in pay, pay
    status, _body, checkout = client.request("POST", pay, {"csrf_token": csrf_of(client.get(pay))})
    assert status == 303 and "/payments/test/" in checkout
    done = client.post(checkout, {"csrf_token": csrf_of(client.get(checkout)), "action": "pay"})
    assert "You have successfully joined" in done

    with app.app_context():  # the mandate job alone: the done page links the copy while the server holds its key
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        make_mandate(app, {"signup": signup.token})
    done = client.get("/en/join/done")
    found = re.search(r'href="/en/mandate/[^"#]+#([A-Za-z0-9_-]+)"', done)
    assert found, done
    run_jobs(app)  # the confirmation mail
    assert "/mandate/" not in client.get("/en/join/done")

    link = re.search(
        r"https?://[^/\s]+(/en/mandate/[^\s#]+)#([A-Za-z0-9_-]+)\s", text_of(mail_to(smtp, "You have joined"))
    )
    assert link and link.group(2) == found.group(1), "the mail and the done page carry the same key"
    page = client.get(link.group(1))  # a browser sends the path only, never the fragment
    client.get(re.search(r'data-copy-url="([^"]+)"', page).group(1))  # type: ignore[union-attr]

    ask = client.get("/en/my")
    client.post("/en/my", {"email": ADDRESS, "csrf_token": csrf_of(ask)})
    run_jobs(app)
    login = re.search(r"https?://[^/\s]+(/en/my/login/\S+)", text_of(mail_to(smtp, "login link"))).group(1)  # type: ignore[union-attr]
    mine = client.post(login, {"csrf_token": csrf_of(client.get(login))})
    assert "Your participation" in mine and "Attached to the confirmation e-mail" in mine
    client.get("/en/my/vault")
    return link.group(2)


# -- searching ------------------------------------------------------------------------------------------------------
def decoded(data: bytes, depth: int = 2) -> Iterator[bytes]:
    """``data`` with its fragments cut out, and every base64 run left in it decoded (zlib-inflated where it is
    compressed, as Flask compresses a large session) and searched the same way, ``depth`` levels deep: itsdangerous
    tokens and cookies are base64 JSON, a mail part may be base64 HTML, and either may hold more."""
    outside = FRAGMENT.sub(b"#", data)
    yield outside
    if depth == 0:
        return
    for pattern, alphabet in BASE64_RUNS:
        for run in pattern.findall(outside):
            text = run.rstrip(b"=")
            try:
                raw = alphabet(text + b"=" * (-len(text) % 4))
            except ValueError:
                continue
            yield from decoded(raw, depth - 1)
            with contextlib.suppress(zlib.error):
                yield from decoded(zlib.decompress(raw), depth - 1)


def forms_of(secret: bytes) -> list[bytes]:
    """The ways a key may be written: as it is, in hex, in base64 and base64url (without padding)."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def leaks(places: dict[str, bytes], secrets: dict[str, bytes]) -> list[str]:
    """Which secret is found where, once every fragment is cut out of each place."""
    found = []
    for place, data in places.items():
        texts = list(decoded(data))
        for name, secret in secrets.items():
            if any(form in text for form in forms_of(secret) for text in texts):
                found.append(f"{name} in {place}")
    return found


def secrets_of(one_off_key: str | None) -> dict[str, bytes]:
    secrets = {
        "the old copy_key of the address": bytes.fromhex(
            keyed_hash(HASH_KEY, "mandate-copy", normalise_email(ADDRESS))
        ),
        "the hash key": HASH_KEY.encode(),
        "the contact key": CONTACT_KEY.encode(),
        "the secret key": SECRET.encode(),
    }
    if one_off_key is not None:
        der = base64.urlsafe_b64decode(one_off_key + "=" * (-len(one_off_key) % 4))
        scalar = load_private_pkcs8(der).private_numbers().private_value.to_bytes(32, "big")
        secrets |= {"the one-off mandate key": der, "the one-off mandate key's scalar": scalar}
    return secrets


def everything_that_left(smtp: SMTPServer, client: Client, log: Path) -> dict[str, bytes]:
    places: dict[str, bytes] = {}
    for number, received in enumerate(smtp.messages):
        message = email.message_from_bytes(received.raw, policy=email.policy.default)
        places[f"mail {number} ({message['Subject']}) as sent"] = received.raw
        for part in message.walk():
            if part.get_content_maintype() == "text":
                places[f"mail {number} ({message['Subject']}), {part.get_content_type()}"] = part.get_content().encode()
    places["gunicorn's log"] = log.read_bytes()
    for number, cookie in enumerate(client.set_cookies):
        places[f"Set-Cookie {number}"] = cookie.encode()
    for number, body in enumerate(client.bodies):
        places[f"page {number}"] = body
    return places


def test_no_mail_page_log_line_or_cookie_holds_a_key_outside_a_fragment(flow: Any) -> None:
    server, app, smtp, client = flow
    one_off_key = whole_flow(app, smtp, client)
    places = everything_that_left(smtp, client, server.log)
    log = places["gunicorn's log"].decode()
    assert "GET /en/mandate/" in log and "/copy HTTP/1.1" in log and "POST /en/my/login/" in log  # access lines
    assert len(client.set_cookies) >= 5 and len(smtp.messages) >= 3 and len(client.bodies) > 15
    # The key is where it belongs (so the search can find it), in the mail and on the done page, after a #:
    holding = [place for place, data in places.items() if one_off_key.encode() in data]
    assert any(place.startswith("mail") for place in holding) and any(place.startswith("page") for place in holding)
    assert leaks(places, secrets_of(one_off_key)) == []


def test_the_search_finds_a_key_outside_a_fragment() -> None:
    """The search sees a key as the code before revision 0020a let it out: in a link's path (inside an itsdangerous
    token), in a signed session cookie (base64 JSON, compressed or not), in hex in a log line."""
    copy_key = secrets_of(None)["the old copy_key of the address"]
    token = base64.urlsafe_b64encode(json.dumps(["signup", copy_key.hex()]).encode()).rstrip(b"=")
    cookie = b"." + base64.urlsafe_b64encode(zlib.compress(json.dumps({"mandate_key": copy_key.hex()}).encode()))
    for place in (
        b"GET /mandate/" + token + b'.axHhKw.kPBIKJ90 HTTP/1.1" 200',
        b"session=" + cookie + b".axHhKw.sig; HttpOnly; Path=/",
        b"key " + copy_key.hex().encode(),
    ):
        assert leaks({"here": place}, secrets_of(None)) == ["the old copy_key of the address in here"], place
    fragment = b"https://x.example/mandate/t#" + base64.urlsafe_b64encode(copy_key).rstrip(b"=")
    assert leaks({"here": fragment}, secrets_of(None)) == []  # after a # it may be
    assert leaks({"here": fragment.replace(b"#", b"?k=")}, secrets_of(None)) == [
        "the old copy_key of the address in here"
    ]
