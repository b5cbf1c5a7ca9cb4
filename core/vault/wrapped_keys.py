"""What the server accepts of a participant's vault keys, as the browser sends them (core/vault/FORMAT.md): the
public key as a base64url raw P-256 point, and the private key wrapped with a passphrase or a recovery code as the
contract's JSON. Pure: no database, no request.

The server cannot check that a wrapped key opens (it never has the passphrase), so it checks what it can: exactly
the contract's fields, a key derivation slow enough to resist guessing (and not so slow that a browser hangs), sizes
that fit the contract. What is stored is the JSON as this module writes it again, never the text as posted.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from core.vault.stream_format import VaultKeyError, load_public_raw

MIN_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MAX_ITERATIONS = 10_000_000  # beyond this, unlocking takes a phone far too long: a mistake, not more safety
SALT_SIZE = 16
IV_SIZE = 12
TAG_SIZE = 16
# A P-256 private key in PKCS#8 is 138 bytes with its public key (Web Crypto, Python's cryptography) and 67 without;
# anything outside these bounds (plus the GCM tag) is not a wrapped P-256 key.
WRAPPED_MIN = 67 + TAG_SIZE
WRAPPED_MAX = 160 + TAG_SIZE
MAX_JSON = 1000  # characters of a wrapped key's JSON: the real one is about 300

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class WrappedKeyError(ValueError):
    """What is wrong with a vault key as posted, in words for the person whose browser sent it."""


class WrappedKey(BaseModel):
    """A private key wrapped in the browser (FORMAT.md): every field as the contract names it, none other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: StrictInt  # 1: checked after, as Literal[1] would take True
    kdf: Literal["PBKDF2-SHA256"]
    iterations: StrictInt
    salt: StrictStr
    iv: StrictStr
    wrapped: StrictStr


def b64url_decode(text: str, what: str) -> bytes:
    """``text`` as base64url without padding (the contract's encoding); :class:`WrappedKeyError` naming ``what``
    otherwise."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise WrappedKeyError(f"{what} is not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise WrappedKeyError(f"{what} is not base64url without padding") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key_from(text: Any) -> bytes:
    """The 65-byte raw public key from its base64url text, checked to be a point on P-256; else
    :class:`WrappedKeyError`."""
    raw = b64url_decode(text, "the public key")
    try:
        load_public_raw(raw)
    except VaultKeyError as error:
        raise WrappedKeyError(str(error)) from None
    return raw


def wrapped_key_from(value: Any, what: str = "the wrapped key") -> WrappedKey:
    """A wrapped key from its JSON (text, or already parsed) as posted, checked against the contract; else
    :class:`WrappedKeyError` saying which part is wrong."""
    if isinstance(value, str):
        if len(value) > MAX_JSON:
            raise WrappedKeyError(f"{what} is too long to be a wrapped key")
        try:
            value = json.loads(value)
        except ValueError:
            raise WrappedKeyError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise WrappedKeyError(f"{what} is not a JSON object")
    try:
        key = WrappedKey.model_validate(value)
    except ValidationError as error:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})) or "its fields"
        raise WrappedKeyError(f"{what} does not follow the vault's format (v1): check {fields}") from None
    if key.v != 1:
        raise WrappedKeyError(f"{what} does not follow the vault's format (v1): check v (version {key.v})")
    if not MIN_ITERATIONS <= key.iterations <= MAX_ITERATIONS:
        raise WrappedKeyError(
            f"{what} uses {key.iterations} PBKDF2 iterations: between {MIN_ITERATIONS} and {MAX_ITERATIONS} are needed"
        )
    if len(b64url_decode(key.salt, f"{what}'s salt")) != SALT_SIZE:
        raise WrappedKeyError(f"{what}'s salt must be {SALT_SIZE} bytes")
    if len(b64url_decode(key.iv, f"{what}'s iv")) != IV_SIZE:
        raise WrappedKeyError(f"{what}'s iv must be {IV_SIZE} bytes")
    if not WRAPPED_MIN <= len(b64url_decode(key.wrapped, f"{what}'s wrapped key")) <= WRAPPED_MAX:
        raise WrappedKeyError(f"{what} is not the size of a wrapped P-256 private key")
    return key


def to_json(key: WrappedKey) -> str:
    """The JSON kept in the database and given back to the browser: the contract's fields, in its order."""
    return json.dumps(key.model_dump(), separators=(",", ":"))
