"""Rate limits: what a per-IP limit counts as one requester."""

from __future__ import annotations

import pytest

from core.hashing import network_of


@pytest.mark.parametrize(("address", "network"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 address as a dual-stack socket reports it
    ("fe80::1%eth0", "fe80::/64"),
    ("not an address", "not an address"),
])
def test_a_requester_is_an_ipv4_address_or_an_ipv6_64(address: str, network: str) -> None:
    assert network_of(address) == network
