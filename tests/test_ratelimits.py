"""Rate limits: what a per-IP limit counts as one requester, and whether a count can be raced."""

from __future__ import annotations

import threading

import pytest

from core.data.hashing import network_of
from core.ratelimits import RULES, RateLimits


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 address as a dual-stack socket reports it
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
    ],
)
def test_a_requester_is_an_ipv4_address_or_an_ipv6_64(address: str, network: str) -> None:
    assert network_of(address) == network


def storages() -> list[str]:
    """Memory, and the Redis on this machine when the client library is installed and the server answers."""
    found = ["memory://"]
    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, db=13, socket_connect_timeout=1).ping()
        found.append("redis://127.0.0.1:6379/13")
    except Exception:  # no client library, or no server: memory only
        pass
    return found


@pytest.mark.parametrize("storage", storages())
def test_a_moving_window_cannot_be_raced(storage: str) -> None:
    """The ``limits`` library's moving window counts atomically: in memory under a lock per key, in Redis in one
    Lua script. 20 threads hitting one limit of 5 at the same moment get exactly 5 through, every time."""
    limits = RateLimits(storage)
    rule = "login-mail-address-network"
    assert RULES[rule].startswith("5/")
    for run in range(20):
        key = f"race-test-{run}-{threading.get_ident()}"
        barrier = threading.Barrier(20)
        passed: list[bool] = []

        def hit(key: str = key, barrier: threading.Barrier = barrier, passed: list[bool] = passed) -> None:
            barrier.wait()
            passed.append(limits.hit(rule, key))

        threads = [threading.Thread(target=hit) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        limits.clear(rule, key)
        assert passed.count(True) == 5, run
