"""Rate-limit counts live in Redis in production, shared by every worker and server; production refuses to start
with counts in memory (one count per worker process). Tests that need Redis use the one on 127.0.0.1:6379 and skip,
saying so, when it does not answer; each works in a database of its own and deletes the keys it made."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.ratelimits import RULES
from core.settings import SettingsError, load_settings
from tests.conftest import PRODUCTION_PUBLIC_KEY, REPO, ProductionSeal
from tests.gunicorn_server import Gunicorn

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Used by these tests only; a second pytest-xdist worker gets the next one (their cleanup would delete each other's
# counts).
REDIS_DB = 13 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
LINK_LIMIT = int(RULES["login-link-ip"].split("/")[0])  # login links opened from one IP


def redis_answers() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL for one test; the keys the test made are deleted afterwards."""
    if not redis_answers():
        pytest.skip(f"needs Redis on {REDIS_HOST}:{REDIS_PORT} (production keeps its rate-limit counts there)")
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    try:
        import redis
    except ImportError:  # then no app can use Redis either (and says so): nothing to clean up
        yield url
        return
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    before = set(client.scan_iter("LIMITS*"))
    try:
        yield url
    finally:
        made = set(client.scan_iter("LIMITS*")) - before
        if made:
            client.delete(*made)
        client.close()


def open_link(client: Any) -> int:
    return client.get("/en/my/login/not-a-real-token", base_url="https://tiktokclaim.org").status_code


def test_two_app_instances_share_one_count_in_redis(make_app, redis_url: str) -> None:
    hash_key = secrets.token_urlsafe(32)  # this test's own hashed keys, whatever else is in Redis
    first = make_app(ratelimit_storage_url=redis_url, hash_key=hash_key).test_client()
    second = make_app(ratelimit_storage_url=redis_url, hash_key=hash_key).test_client()
    answers = [open_link(first if n % 2 else second) for n in range(LINK_LIMIT)]
    assert 429 not in answers
    assert open_link(first) == 429 and open_link(second) == 429


def production_env(seal: ProductionSeal, **changes: str) -> dict[str, str]:
    env = {
        **seal.environment,
        "CLAIMSITE_ENV": "production",
        "CLAIMSITE_SECRET_KEY": "s" * 40,
        "CLAIMSITE_HASH_KEY": "h" * 40,
        "CLAIMSITE_CONTACT_KEY": "c" * 40,
        "CLAIMSITE_BREACH_KEY": "b" * 40,
        "CLAIMSITE_SEALING_PUBLIC_KEY": PRODUCTION_PUBLIC_KEY,
        "CLAIMSITE_MAIL_URL": "smtp://127.0.0.1:1",
        # tiktokclaim asks a payment: production needs a provider (never called here)
        "CLAIMSITE_STRIPE_SECRET_KEY": "sk_test_offline",
        "CLAIMSITE_STRIPE_WEBHOOK_SECRET": "whsec_offline",
        "CLAIMSITE_STRIPE_API_BASE": "http://127.0.0.1:9",
    }
    env.update(changes)
    return env


@pytest.mark.parametrize("url", ["", "memory://", "  "])
def test_production_refuses_rate_limits_in_memory(
    monkeypatch: pytest.MonkeyPatch, url: str, production_seal: ProductionSeal
) -> None:
    for name, value in production_env(production_seal, CLAIMSITE_RATELIMIT_STORAGE_URL=url).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="CLAIMSITE_RATELIMIT_STORAGE_URL") as refused:
        load_settings()
    assert "worker" in str(refused.value) and "redis://" in str(refused.value)
    # Outside production memory stays the default (tests, development: one process).
    assert load_settings({"env": "development"}).ratelimit_storage_url == url


@pytest.mark.parametrize(
    ("url", "said"),
    [("redis2://limiter:pw-0123@127.0.0.1:6379/0", "redis2://"), ("memcached://127.0.0.1:11211", "memcached://")],
)
def test_an_unusable_storage_url_stops_the_start_in_plain_words(
    tmp_path: Path, url: str, said: str, production_seal: ProductionSeal
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSITE_")}
    env.update(
        production_env(production_seal, CLAIMSITE_RATELIMIT_STORAGE_URL=url, CLAIMSITE_INSTANCE_DIR=str(tmp_path))
    )
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    assert "claimsite cannot start" in result.stderr and "CLAIMSITE_RATELIMIT_STORAGE_URL" in result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert "pw-0123" not in result.stderr  # a password in the URL is never printed


def test_gunicorn_workers_share_the_counts(
    tmp_path: Path, migrated_sqlite: Path, redis_url: str, production_seal: ProductionSeal
) -> None:
    """README's shape: several gunicorn workers, the counts in Redis; each request on a new connection, so the
    workers take turns, and still the limit holds for them together."""
    shutil.copy(migrated_sqlite, tmp_path / "claimsite.sqlite3")
    env = production_env(
        production_seal,
        CLAIMSITE_RATELIMIT_STORAGE_URL=redis_url,
        CLAIMSITE_HASH_KEY=secrets.token_urlsafe(32),
        CLAIMSITE_CONTACT_KEY=secrets.token_urlsafe(32),
        CLAIMSITE_INSTANCE_DIR=str(tmp_path),
        CLAIMSITE_DATABASE_URL=f"sqlite:///{tmp_path / 'claimsite.sqlite3'}",
    )
    with Gunicorn(env, log=tmp_path / "gunicorn.log", workers=3) as server:
        answers = [
            server.get("/en/my/login/not-a-real-token", host="tiktokclaim.org").status for _ in range(LINK_LIMIT + 5)
        ]
    assert answers[:LINK_LIMIT] == [302] * LINK_LIMIT
    assert answers[LINK_LIMIT:] == [429] * 5


def test_shared_counters_add_up_across_processes_in_redis(redis_url: str) -> None:
    """The breach check's funnel counts in the limits' storage: two apps (two servers) add into one total,
    atomically, with threads racing."""
    import threading

    from core.ratelimits import RateLimits

    key = f"test-counter/{secrets.token_hex(8)}"
    first, second = RateLimits(redis_url), RateLimits(redis_url)
    assert first.total(key) == 0
    assert first.add(key, 0, 60) == 0  # a zero is counted too (a check that found nothing costs the same)

    def add_many(counters: RateLimits) -> None:
        for _ in range(200):
            counters.add(key, 1, 60)

    threads = [threading.Thread(target=add_many, args=(c,)) for c in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert first.total(key) == second.total(key) == 800
