"""The keyed digest that stands for a phone number in a breach index.

A keyed BLAKE2b (as good as an HMAC here, and faster) of the E.164 number, 8 bytes long, with the deployment's own
key (``CLAIMSITE_BREACH_KEY``): whoever steals an index without the key learns nothing from it. With the key every
mobile number of a country can be tried in minutes, which is why an index holds nothing but digests and masks, and
why the key is a secret of its own. 8 bytes keep 533 million records apart: the chance that two numbers of such a
leak share a digest is about 533e6² / 2⁶⁵ ≈ 0.8 %, and such a pair only makes one number report the other's
categories.
"""

from __future__ import annotations

import hashlib

DIGEST_SIZE = 8
PERSON = b"claimsite-breach"  # BLAKE2b's personalisation: these digests differ from any other use of the key
KEY_CHECK_PERSON = b"claimsite-bkchk"


def digest_key(secret: str) -> bytes:
    """The 32-byte BLAKE2b key made from the ``CLAIMSITE_BREACH_KEY`` text (of any length; BLAKE2b takes at most
    64 bytes of key)."""
    return hashlib.blake2b(secret.encode("utf-8"), digest_size=32, person=b"claimsite-bkey").digest()


def number_digest(key: bytes, e164: str) -> bytes:
    """The 8-byte digest of the E.164 number ``e164`` (from :func:`core.breach.phones.normalise`) under ``key``
    (from :func:`digest_key`)."""
    return hashlib.blake2b(e164.encode("ascii"), key=key, digest_size=DIGEST_SIZE, person=PERSON).digest()


def key_check(key: bytes) -> str:
    """A short value that tells whether an index was made with ``key`` (kept in the index's header), without
    saying anything about the key itself."""
    return hashlib.blake2b(b"", key=key, digest_size=8, person=KEY_CHECK_PERSON).hexdigest()


class NumberDigester:
    """:func:`number_digest` under one key, for many numbers: it keys BLAKE2b once and copies that state per
    number, a third faster than keying each time (what an import of millions of rows does)."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hashlib.blake2b(key=key, digest_size=DIGEST_SIZE, person=PERSON)

    def __call__(self, e164: str) -> bytes:
        state = self._keyed.copy()
        state.update(e164.encode("ascii"))
        return state.digest()
