"""Keyed hashes (HMAC-SHA256) of things we must recognise but should not keep: e-mail addresses, IP addresses,
verification codes. The key is ``CLAIMSITE_HASH_KEY``; without it the hashes cannot be recomputed."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


def normalise_email(address: str) -> str:
    """The form of an address used for matching: trimmed, Unicode-normalised, lower case."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def keyed_hash(key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value``, separated by ``purpose`` so a hash of one kind never matches another."""
    return hmac.new(key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def email_hash(key: str, address: str) -> str:
    return keyed_hash(key, "email", normalise_email(address))


def ip_hash(key: str, ip: str | None) -> str | None:
    return keyed_hash(key, "ip", ip) if ip else None


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()
