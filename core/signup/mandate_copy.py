"""The participant's own copy of their signed mandate, out of the server's reach once the confirmation is mailed.

The mandate job encrypts the PDF in the vault file format (``core/vault/FORMAT.md``) to a key pair made for this
one copy. The server keeps the ciphertext (``participant_mandate``) and, only in the sign-up's working copy (locked
with the hash key, released with the rest once the confirmation mail is composed), the one-off private key. The
confirmation mail carries that key in the fragment of its mandate link (``#...``): browsers never send a fragment to
any server, so it reaches no access log, proxy or cookie, and the mandate page decrypts the copy in the browser
(``js/mandate_copy.js``). After the release, nothing the server holds opens the copy: not the database, not the
hash key, not the foundation's private key (which opens its own sealed copy, ``sealed_mandate``).

Why a key pair and the vault format rather than a random symmetric key: the browser already opens this format with
Web Crypto alone (``js/vault_crypto.js``), and a copy encrypted to a public key can later be moved into the
participant's vault by whoever holds the one-off private key, without a second format.

Where the participant's address has a vault already when the mandate is made, the job also puts a copy in it,
encrypted to the vault key (:func:`put_mandate_in_vault`); for a vault set up later, staff copy it in from the sealed
copy with the private key file (``flask vault move``, :mod:`core.staff.vault_moves`), through the same function.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.data import vault_files
from core.data.db import utcnow
from core.data.models import FileKind, Signup, VaultFile
from core.site import site
from core.vault.store import VaultStore
from core.vault.stream_format import (
    EncryptingReader,
    VaultFormatError,
    VaultKeyError,
    decrypt_stream,
    encrypt_stream,
    generate_key_pair,
    load_private_pkcs8,
    private_key_pkcs8,
)


@dataclass(frozen=True)
class EncryptedCopy:
    """A mandate PDF encrypted for the participant: the vault file, and the one-off private key (PKCS#8 DER) that
    opens it, for the working copy and the confirmation mail's link only."""

    ciphertext: bytes
    private_key: bytes


def encrypt_copy(pdf: bytes) -> EncryptedCopy:
    """``pdf`` encrypted to a key pair made for it alone (never reused: one copy, one key)."""
    private, public_raw = generate_key_pair()
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(pdf), out, public_raw)
    return EncryptedCopy(out.getvalue(), private_key_pkcs8(private))


def open_copy(ciphertext: bytes, private_key: bytes) -> bytes | None:
    """The PDF of a copy opened with its one-off private key (PKCS#8 DER); None when the key is not a P-256 key or
    does not open this copy, or the copy is damaged."""
    try:
        key = load_private_pkcs8(private_key)
        out = io.BytesIO()
        decrypt_stream(io.BytesIO(ciphertext), out, key)
    except (VaultKeyError, VaultFormatError):
        return None
    return out.getvalue()


def key_text(private_key: bytes) -> str:
    """The one-off private key as the link's fragment carries it: base64url without padding (as FORMAT.md writes
    keys), which needs no escaping in a URL."""
    return base64.urlsafe_b64encode(private_key).rstrip(b"=").decode("ascii")


def with_key(url: str, private_key: bytes) -> str:
    """``url`` (a mandate page) with the one-off key in its fragment, the only part of a link no browser sends."""
    return f"{url}#{key_text(private_key)}"


MANDATE_MEDIA_TYPE = "application/pdf"


def mandate_token(signup: Signup) -> str:
    """The deposit token of ``signup``'s mandate copy in its vault: one copy per sign-up, whoever makes it."""
    return hashlib.sha256(f"mandate|{signup.campaign}|{signup.token}".encode()).hexdigest()


def mandate_store_key(token: str) -> str:
    """The store key of the mandate copy of ``token``: fixed, so a run cut off before its row was recorded leaves
    no stray object (the next run writes over it). Names nothing without the database."""
    return hashlib.sha256(f"vault mandate copy|{token}".encode()).hexdigest()[:32]


def put_mandate_in_vault(
    session: Session, store: VaultStore, signup: Signup, vault_public_raw: bytes, pdf: bytes, by: str
) -> VaultFile | None:
    """Store ``pdf`` encrypted to the vault key ``vault_public_raw`` as ``signup``'s mandate in its vault, and add
    its row (the caller commits; the arrival mail is the caller's too); None when it is there already. A failure of
    the store raises, before any row is added."""
    token = mandate_token(signup)
    if vault_files.deposited(session, token) is not None:
        return None
    key = mandate_store_key(token)
    reader = EncryptingReader(io.BytesIO(pdf), vault_public_raw)
    store.put(key, reader)  # type: ignore[arg-type]
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    info = reader.info
    return vault_files.add(
        session,
        VaultFile(
            email_hash=signup.email_hash,
            campaign=signup.campaign,
            company=(loaded.campaign.organisation.name if loaded else signup.campaign)[:100],
            store_key=key,
            size_plain=info.size_plain,
            size_cipher=info.size_cipher,
            sha256_cipher=info.sha256_cipher,
            media_type=MANDATE_MEDIA_TYPE,
            file_name=f"mandate-{signup.campaign}.pdf",
            deposit_token=token,
            deposited_at=utcnow(),
            deposited_by=by[:100],
            kind=FileKind.MANDATE,
            signup_id=signup.id,  # withdrawing the sign-up removes it (core.signup.withdrawal)
        ),
    )
