"""Keyed hashes (HMAC-SHA256) of things we must recognise but should not keep: e-mail addresses, IP addresses,
verification codes. The key is ``CLAIMSITE_HASH_KEY``; without it the hashes cannot be recomputed. Also the one
maker of signed, expiring tokens (links in mails, session cookies)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import unicodedata
from functools import lru_cache
from typing import Any

from itsdangerous import URLSafeTimedSerializer


def normalise_email(address: str) -> str:
    """The form of an address used for matching: trimmed, Unicode-normalised, lower case."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def keyed_hash(key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value``, separated by ``purpose`` so a hash of one kind never matches another."""
    return hmac.new(key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def email_hash(key: str, address: str) -> str:
    return keyed_hash(key, "email", normalise_email(address))


def ip_hash(key: str, ip: str | None) -> str | None:
    """The keyed hash of one IP address, as evidence keeps it (the full address)."""
    return keyed_hash(key, "ip", ip) if ip else None


def network_of(ip: str) -> str:
    """What a per-IP rate limit counts as one requester: an IPv4 address itself, and for IPv6 the /64 the address
    is in, since one subscriber or server usually gets a whole /64 and could rotate through it freely. An IPv4
    address written as an IPv4-mapped IPv6 address (as a dual-stack socket reports it) is that IPv4 address.
    Anything that is not an IP address stands for itself."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # without an interface's zone (fe80::1%eth0)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def network_hash(key: str, ip: str | None) -> str | None:
    """The keyed hash of :func:`network_of` ``ip``: the key of every per-IP rate limit (never kept as evidence)."""
    return keyed_hash(key, "network", network_of(ip)) if ip else None


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@lru_cache(maxsize=1024)
def signing_serializer(secret_key: str, salt: str, *, serializer: Any = None,
                       key_derivation: str = "django-concat") -> URLSafeTimedSerializer:
    """itsdangerous' signed, timestamped tokens (HMAC-SHA1, its default), given ``hashlib.sha1`` itself as the hash:
    itsdangerous' default wraps it in a Python function, which sends ``hmac`` down its pure-Python path (about
    twice the cost per token, and every sign-up post signs or checks several). The tokens are the same. Made once
    per key and salt (a serializer keeps no state between tokens)."""
    return URLSafeTimedSerializer(secret_key, salt=salt, serializer=serializer,
                                  signer_kwargs={"digest_method": hashlib.sha1, "key_derivation": key_derivation})
