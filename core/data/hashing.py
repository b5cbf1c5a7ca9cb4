"""Keyed hashes (HMAC-SHA256) of things we must recognise but should not keep: e-mail addresses, IP addresses,
verification codes. The key is ``CLAIMSITE_HASH_KEY``; without it the hashes cannot be recomputed. Also the one
maker of signed, expiring tokens (links in mails, session cookies)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import unicodedata
from functools import lru_cache
from typing import Any

import idna
from itsdangerous import URLSafeTimedSerializer


def normalise_email(address: str) -> str:
    """The form of an address used for matching (and so hashed): trimmed; the local part in Unicode NFC and lower
    case; the domain as IDNA reads it (:func:`normalise_domain`), so ``xn--bcher-kva.de`` and ``BÜCHER.de`` are
    one domain. Nothing is folded that could make two mailboxes one: compatibility forms (full-width letters,
    ligatures) stay as they are in the local part, and look-alikes are refused on the forms instead
    (:mod:`core.data.lookalikes`). A plain ASCII address keeps the form (and hash) it always had.
    """
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return unicodedata.normalize("NFC", text).lower()
    return f"{unicodedata.normalize('NFC', local).lower()}@{normalise_domain(domain)}"


def normalise_domain(domain: str) -> str:
    """``domain`` in lower case, and an internationalised one in its Unicode form after UTS #46 (IDNA's own
    mapping: case and width folded, ``xn--`` labels decoded). One IDNA cannot read keeps the earlier form (NFKC,
    lower case): the form refuses such a domain, so it can only come from before."""
    lowered = domain.lower()
    if lowered.isascii() and "xn--" not in lowered:
        return lowered  # by far the most addresses: exactly as before
    try:
        return idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        return unicodedata.normalize("NFKC", domain).lower()


def earlier_forms(address: str) -> list[str]:
    """Forms ``address`` may have been matched in before IDNA domains (revision 0006; then NFKC of the whole
    address, trimmed, lower case: ``xn--bcher-kva.de`` and ``bücher.de`` were two domains), for sign-ups still
    under their hash: as typed now, and with the domain in its ``xn--`` form. Only forms :func:`normalise_email`
    never makes today are given, so no address of today can be matched through one of them by mistake."""

    def earlier(text: str) -> str:
        return unicodedata.normalize("NFKC", text).strip().lower()

    text = address.strip()
    if text.isascii() and "xn--" not in text.lower():
        return []  # a plain address: matched as it always was
    local, _at, domain = text.rpartition("@")
    forms = [earlier(text)]
    with contextlib.suppress(idna.IDNAError, UnicodeError):  # not a domain IDNA reads: nothing more to try
        forms.append(f"{earlier(local)}@{idna.encode(domain, uts46=True).decode('ascii')}")
    return [form for form in dict.fromkeys(forms) if normalise_email(form) != form]


def keyed_hash(key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value``, separated by ``purpose`` so a hash of one kind never matches another."""
    return hmac.new(key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def email_hash(key: str, address: str) -> str:
    return keyed_hash(key, "email", normalise_email(address))


def phone_hash(key: str, e164: str) -> str:
    """The keyed hash of a phone number in E.164 form (``+31612345678``): how a proved number is recognised and
    recorded (core.phones.verification) without being kept."""
    return keyed_hash(key, "phone", e164)


def earlier_email_hashes(key: str, address: str) -> list[str]:
    """The hashes of :func:`earlier_forms` of ``address``: where a sign-up made before may still be found."""
    return [keyed_hash(key, "email", form) for form in earlier_forms(address)]


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
def signing_serializer(
    secret_key: str, salt: str, *, serializer: Any = None, key_derivation: str = "django-concat"
) -> URLSafeTimedSerializer:
    """itsdangerous' signed, timestamped tokens (HMAC-SHA1, its default), given ``hashlib.sha1`` itself as the hash:
    itsdangerous' default wraps it in a Python function, which sends ``hmac`` down its pure-Python path (about
    twice the cost per token, and every sign-up post signs or checks several). The tokens are the same. Made once
    per key and salt (a serializer keeps no state between tokens)."""
    return URLSafeTimedSerializer(
        secret_key,
        salt=salt,
        serializer=serializer,
        signer_kwargs={"digest_method": hashlib.sha1, "key_derivation": key_derivation},
    )
