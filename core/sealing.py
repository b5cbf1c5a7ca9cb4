"""Sealing: personal data encrypted on arrival to the foundation's public key, so the web server can write it but
never read it back (X25519 sealed boxes from libsodium, through PyNaCl).

A sealed value is ``b"CSS1" + key id (8 bytes) + sealed box``: the key id (the first 8 bytes of the SHA-256 of
the public key) says which private key opens it, so old values stay readable after the key is rotated, by whoever
holds the old private key too. Private keys live only with staff (a file given to the commands that decrypt);
the web server gets the public key alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox

MAGIC = b"CSS1"
KEY_ID_BYTES = 8
SEALED_BOX_OVERHEAD = 48  # libsodium's crypto_box_SEALBYTES: the ephemeral public key and the MAC
PRIVATE_HEADER = "claimsite private key (X25519) - keep offline, never on the web server"
PUBLIC_HEADER = "claimsite public key (X25519)"


class SealingError(Exception):
    """A value cannot be opened: not sealed, damaged, or sealed to a key that was not given."""


def key_id(public_key: PublicKey) -> bytes:
    return hashlib.sha256(bytes(public_key)).digest()[:KEY_ID_BYTES]


@dataclass(frozen=True)
class SealingKey:
    """A public key, to seal with."""

    public_key: PublicKey

    @property
    def id(self) -> bytes:
        return key_id(self.public_key)

    def seal(self, plaintext: bytes) -> bytes:
        return MAGIC + self.id + SealedBox(self.public_key).encrypt(plaintext)

    @classmethod
    def from_text(cls, text: str) -> SealingKey:
        """From the base64 key, or the content of a public key file (its header line is skipped)."""
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        encoded = lines[-1] if lines else ""
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise SealingError("not a public key: expected 32 bytes in base64 (flask keys generate makes one)")
        return cls(PublicKey(raw))


class OpeningKeys:
    """Private keys, to open values sealed to any of them (the current one and those rotated out)."""

    def __init__(self, private_keys: Iterable[PrivateKey]) -> None:
        self._keys = {key_id(key.public_key): key for key in private_keys}

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> OpeningKeys:
        return cls.from_texts((str(path), path.read_text(encoding="utf-8")) for path in paths)

    @classmethod
    def from_texts(cls, named_texts: Iterable[tuple[str, str]]) -> OpeningKeys:
        """Keys from the contents of private key files, each with a name for the error message (e.g. the file's)."""
        keys = []
        for name, text in named_texts:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            try:
                raw = base64.b64decode(lines[-1], validate=True) if lines else b""
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise SealingError(f"{name} is not a private key file (flask keys generate makes one)")
            keys.append(PrivateKey(raw))
        return cls(keys)

    @property
    def ids(self) -> list[bytes]:
        return list(self._keys)

    def private_raws(self) -> list[bytes]:
        """The 32 bytes of each private key: what the vault's holding keys are derived from
        (:mod:`core.vault.holding`), so that staff keep one key file for both."""
        return [bytes(key) for key in self._keys.values()]

    @staticmethod
    def sealed_to(sealed: bytes) -> bytes | None:
        """The id of the key ``sealed`` was sealed to (None for a value that is not sealed)."""
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + KEY_ID_BYTES:
            return None
        return sealed[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]

    def open(self, sealed: bytes) -> bytes:
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + KEY_ID_BYTES + SEALED_BOX_OVERHEAD:
            raise SealingError("not a sealed value")
        wanted = sealed[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]
        key = self._keys.get(wanted)
        if key is None:
            raise SealingError(f"sealed to key {wanted.hex()}, which was not given")
        try:
            return SealedBox(key).decrypt(sealed[len(MAGIC) + KEY_ID_BYTES :])
        except CryptoError:
            raise SealingError("the sealed value is damaged") from None


def generate(folder: Path) -> tuple[Path, Path, SealingKey]:
    """A new key pair in ``folder``: ``private-<id>.key`` (readable by its owner only) and ``public-<id>.key``."""
    private = PrivateKey.generate()
    sealing = SealingKey(private.public_key)
    folder.mkdir(parents=True, exist_ok=True)
    name = sealing.id.hex()
    private_path, public_path = folder / f"private-{name}.key", folder / f"public-{name}.key"
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(f"{PRIVATE_HEADER}\n{base64.b64encode(bytes(private)).decode()}\n")
    public_path.write_text(
        f"{PUBLIC_HEADER}\n{base64.b64encode(bytes(private.public_key)).decode()}\n", encoding="utf-8"
    )
    return private_path, public_path, sealing


# -- the working copy: what the sign-up flow itself must read back, for as long as it needs it ---------------------
WORKING_MAGIC = b"CSW1"
WORKING_BOX_EXTENSION = "claimsite.working_box"


class WorkingBox:
    """Symmetric encryption (libsodium's secretbox: XSalsa20-Poly1305) of what the web server and the worker must
    read back while a sign-up is under way: its answers until the confirmation mail is composed, a form waiting for
    its code, queued jobs' payloads. The key is derived from ``CLAIMSITE_HASH_KEY`` (never stored in the database),
    so a copy of the database alone, or a backup of it, holds no readable personal data."""

    PURPOSE = b"claimsite-work"  # keys derived for another purpose from the same secret differ

    def __init__(self, secret: str) -> None:
        key = hashlib.blake2b(secret.encode(), digest_size=SecretBox.KEY_SIZE, person=self.PURPOSE).digest()
        self._box = SecretBox(key)

    def lock(self, plaintext: bytes) -> bytes:
        return WORKING_MAGIC + self._box.encrypt(plaintext)

    def unlock(self, locked: bytes) -> bytes:
        if not locked.startswith(WORKING_MAGIC):
            raise SealingError("not a working copy")
        try:
            return self._box.decrypt(locked[len(WORKING_MAGIC) :])
        except CryptoError:
            raise SealingError("the working copy is damaged, or was made with another hash key") from None

    def lock_text(self, text: str) -> str:
        """For text columns (job payloads): the locked value in base64, after a ``CSW1:`` prefix."""
        return "CSW1:" + base64.b64encode(self._box.encrypt(text.encode())).decode()

    def unlock_text(self, value: str) -> str:
        if not value.startswith("CSW1:"):
            raise SealingError("not a locked text")
        return self.unlock(WORKING_MAGIC + base64.b64decode(value[5:])).decode()


class ContactBox(WorkingBox):
    """The same encryption, under ``CLAIMSITE_CONTACT_KEY``, for the one readable copy of a participant's address
    kept after the join flow (:mod:`core.data.contacts`). A key of its own: neither the hash key (which opens the
    flow's working copies) nor a copy of the database opens the contact copies."""

    PURPOSE = b"claimsite-addr"


def current_working_box() -> WorkingBox:
    """The app's :class:`WorkingBox` (made by ``create_app``)."""
    return current_app.extensions[WORKING_BOX_EXTENSION]
