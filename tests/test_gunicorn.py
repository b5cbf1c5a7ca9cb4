"""The app behind real gunicorn, started as README says (its shipped gunicorn.conf.py included): only the app's
own ProxyFix (``CLAIMSITE_TRUSTED_PROXIES``) decides what a forwarded header may change, no ``Server`` banner, and
the security headers on every kind of answer."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gunicorn_server import Gunicorn, sqlite_app_settings


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Gunicorn]:
    """gunicorn on loopback, with CLAIMSITE_TRUSTED_PROXIES=0 (the default)."""
    folder = tmp_path_factory.mktemp("gunicorn")
    shutil.copy(migrated_sqlite, folder / "claimsite.sqlite3")
    env = sqlite_app_settings(folder, CLAIMSITE_ADMIN_HOST="staff.example", XDG_RUNTIME_DIR=str(folder / "run"))
    (folder / "run").mkdir()
    with Gunicorn(env, log=folder / "gunicorn.log") as server:
        yield server


def test_gunicorn_leaves_forwarded_headers_to_the_app(gunicorn: Gunicorn) -> None:
    # gunicorn itself trusts X-Forwarded-Proto from 127.0.0.1 unless told not to; here no proxy is trusted.
    for header in ({"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}, {"X-Forwarded-Protocol": "ssl"}):
        answer = gunicorn.get("/", host="tiktokclaim.org", headers=header)
        assert answer.status == 200, header
        assert '<link rel="canonical" href="http://tiktokclaim.org/">' in answer.body, header
        assert answer.header("Strict-Transport-Security") is None, header


def test_gunicorn_sends_no_server_banner(gunicorn: Gunicorn) -> None:
    for host in ("tiktokclaim.org", "www.tiktokclaim.org", "unknown.example", "staff.example"):
        assert [value for value in gunicorn.get("/", host=host).all("Server") if value] == [], host


def test_every_answer_through_gunicorn_has_the_security_headers(gunicorn: Gunicorn) -> None:
    answers = {
        "page": gunicorn.get("/", host="tiktokclaim.org"),
        "redirect": gunicorn.get("/en/", host="www.tiktokclaim.org"),
        "unknown host": gunicorn.get("/", host="unknown.example"),
        "staff console": gunicorn.get("/login", host="staff.example"),
    }
    assert answers["redirect"].status == 301 and answers["unknown host"].status == 404
    for kind, answer in answers.items():
        assert "frame-ancestors 'none'" in (answer.header("Content-Security-Policy") or ""), kind
        assert answer.header("X-Content-Type-Options") == "nosniff", kind
        assert answer.header("Cross-Origin-Resource-Policy") == "same-origin", kind


def test_gunicorn_opens_no_control_socket(gunicorn: Gunicorn) -> None:
    # Its default path is one per user ($XDG_RUNTIME_DIR/gunicorn.ctl): instances of one host would share it.
    assert list((gunicorn.log.parent / "run").iterdir()) == []
    assert "Control socket listening" not in gunicorn.log.read_text()
