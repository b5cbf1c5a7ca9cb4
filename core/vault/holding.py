"""The foundation's holding key: what a file is encrypted to while its owner has no vault yet (issue 21, item 2).

Vault files are ECDH P-256 (FORMAT.md: what a browser's Web Crypto opens everywhere); the foundation's sealing key is
X25519 (:mod:`core.sealing`). Rather than give staff a second private key file to keep, back up and rotate, the
holding key pair is *derived* from the sealing private key: whoever holds ``private-<id>.key`` holds the holding key
too, and a key rotation gives a new holding key with it (files held under the old one are opened with the old file,
matched by key id).

Derivation (v1): scalar = int(HKDF-SHA256(ikm = the 32 private bytes, no salt, info = :data:`HOLDING_INFO`,
length = 48)) mod (n - 1) + 1, with n the order of P-256: 48 bytes for a 32-byte group order leaves a bias of about
2^-128 (as FIPS 186-5's "extra random bits" method does), and the result is never zero. The key id is the first 8
bytes of the SHA-256 of the public key's raw point, in hex, recorded with each held file.

The web server and the deposit command need only the public point (``CLAIMSITE_VAULT_HOLDING_KEY``, base64url);
outside production it is derived from the development key pair the app makes in ``instance/keys/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.sealing import OpeningKeys, SealingError
from core.settings import Settings, SettingsError
from core.vault.stream_format import VaultKeyError, load_public_raw, public_raw_of
from core.vault.wrapped_keys import WrappedKeyError, b64url_decode, b64url_encode

HOLDING_INFO = b"claimsite vault holding key v1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
KEY_ID_BYTES = 8
SETTING = "CLAIMSITE_VAULT_HOLDING_KEY"


def holding_key_id(public_raw: bytes) -> str:
    """The id recorded with each file held under ``public_raw``: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).digest()[:KEY_ID_BYTES].hex()


def derive_private(sealing_private_raw: bytes) -> ec.EllipticCurvePrivateKey:
    """The holding private key derived from the foundation's 32-byte X25519 private key (see the module)."""
    if len(sealing_private_raw) != 32:
        raise ValueError("the foundation's private key is 32 bytes")
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=HOLDING_INFO).derive(sealing_private_raw)
    scalar = int.from_bytes(okm, "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


@dataclass(frozen=True)
class HoldingKey:
    """The public holding key that files are held under: its raw point and its id."""

    public_raw: bytes

    @property
    def id(self) -> str:
        return holding_key_id(self.public_raw)

    @property
    def text(self) -> str:
        """As ``CLAIMSITE_VAULT_HOLDING_KEY`` takes it: base64url without padding."""
        return b64url_encode(self.public_raw)

    @classmethod
    def from_text(cls, text: str) -> HoldingKey:
        """From the setting's base64url text; :class:`ValueError` saying what is wrong otherwise."""
        try:
            raw = b64url_decode(text.strip(), "the holding key")
            load_public_raw(raw)
        except (WrappedKeyError, VaultKeyError) as error:
            raise ValueError(f"{error} (flask vault holding-key --private-key FILE prints the right value)") from None
        return cls(raw)

    @classmethod
    def of_private(cls, sealing_private_raw: bytes) -> HoldingKey:
        return cls(public_raw_of(derive_private(sealing_private_raw)))


class HoldingKeys:
    """The holding private keys of every sealing private key given (the current one and those rotated out), by id:
    what ``flask vault move`` opens held files with."""

    def __init__(self, sealing_private_raws: Iterable[bytes]) -> None:
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        for raw in sealing_private_raws:
            private = derive_private(raw)
            self._keys[holding_key_id(public_raw_of(private))] = private

    @classmethod
    def of(cls, keys: OpeningKeys) -> HoldingKeys:
        return cls(keys.private_raws())

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def private_for(self, key_id: str) -> ec.EllipticCurvePrivateKey:
        """The private key of ``key_id``; :class:`SealingError` when its sealing key file was not given."""
        private = self._keys.get(key_id)
        if private is None:
            raise SealingError(
                f"held under holding key {key_id}, whose private key file was not given (give every key file, the "
                "ones rotated out too)"
            )
        return private


def configured_holding_key(settings: Settings) -> HoldingKey | None:
    """The holding key files are held under: ``CLAIMSITE_VAULT_HOLDING_KEY``; outside production, without it, the one
    derived from the development key pair (``instance/keys/``) when personal data is sealed to it; None without the
    setting in production, or where ``CLAIMSITE_SEALING_PUBLIC_KEY`` names another key (deposits
    for a participant without a vault are then refused, saying so). A malformed setting stops the app at start."""
    text = settings.vault_holding_key.strip()
    if text:
        try:
            return HoldingKey.from_text(text)
        except ValueError as error:
            raise SettingsError(f"{SETTING}: {error}") from None
    if settings.env == "production" or settings.sealing_public_key.strip():
        return None  # no development pair to derive from: personal data is sealed to a key whose file is elsewhere
    private_path, _public_path = settings.development_key_pair()
    keys = OpeningKeys.from_files([private_path])
    [raw] = keys.private_raws()
    return HoldingKey.of_private(raw)
