"""A file deposited in a participant's vault, however it came: the token that makes a deposit the same one again,
its row, and the arrival mail. Shared by ``flask vault deposit`` (:mod:`core.cli.vault`), which encrypts in its own
process, and the console's upload (:mod:`core.staff.vault_upload`), which stores what the staff member's browser
encrypted: a participant cannot tell, and must not be able to tell, which way a file came.

Which key a file is encrypted to is decided in one place, :func:`recipient_key`, for both ways in: the address's
vault key, or, while it has no vault, the foundation's holding key (:mod:`core.vault.holding`: the file is *held*
until staff move it in). The mail is :mod:`core.staff.vault_mail`'s, as for moves.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.data import vault_files, vault_keys
from core.data.db import utcnow
from core.data.models import Signup, VaultFile
from core.site import site
from core.staff.vault_mail import mail_participants
from core.vault.stream_format import EncryptedInfo

MAX_COMPANY = 100
MAX_NAME = 200
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


def deposit_token(campaign: str, reference: str, company: str, name: str, size: int) -> str:
    """What makes a deposit the same one again (see :class:`core.data.models.VaultFile`): known before a byte is
    read, and no fingerprint of the content."""
    return hashlib.sha256(f"{campaign}|{reference}|{company}|{name}|{size}".encode()).hexdigest()


@dataclass(frozen=True)
class Recipient:
    """The public key (65-byte raw P-256 point) a file is encrypted to, and the id of the holding key when that is
    what it is (the file is then held), None when it is the owner's vault key."""

    public_raw: bytes
    held_key_id: str | None


def recipient_key(session: Session, signup: Signup) -> Recipient | None:
    """Whom a file for ``signup`` is encrypted to: its address's vault key; without a vault, the foundation's holding
    key; None when there is neither (production without ``CLAIMSITE_VAULT_HOLDING_KEY``: nothing can be deposited
    for it today)."""
    vault = vault_keys.vault_key_of(session, signup.email_hash)
    if vault is not None:
        return Recipient(vault.public_raw, None)
    holding = site().vault_holding_key
    return Recipient(holding.public_raw, holding.id) if holding is not None else None


def media_type_of(name: str) -> str:
    """The media type a file's name suggests (shown to the owner; it decides nothing on the server)."""
    return (mimetypes.guess_type(name)[0] or UNKNOWN_MEDIA_TYPE)[:100]


def record(
    session: Session,
    signup: Signup,
    *,
    company: str,
    name: str,
    media_type: str,
    store_key: str,
    info: EncryptedInfo,
    token: str,
    deposited_by: str,
    held_key_id: str | None,
) -> VaultFile:
    """Record a file stored encrypted under ``store_key`` for ``signup``'s vault (the caller commits; a token
    recorded before makes the commit fail, and the caller then removes what it stored)."""
    return vault_files.add(
        session,
        VaultFile(
            email_hash=signup.email_hash,
            campaign=signup.campaign,
            company=company,
            store_key=store_key,
            size_plain=info.size_plain,
            size_cipher=info.size_cipher,
            sha256_cipher=info.sha256_cipher,
            media_type=media_type[:100],
            file_name=name[:MAX_NAME],
            deposit_token=token,
            deposited_at=utcnow(),
            deposited_by=deposited_by[:100],
            held_key_id=held_key_id,
            signup_id=signup.id,  # withdrawing the sign-up removes it (core.signup.withdrawal)
        ),
    )


def queue_arrival_mail(session: Session, signup: Signup, files: Sequence[VaultFile]) -> bool:
    """Queue the one mail about ``files`` for ``signup``'s participant (the arrival mail, or the invitation to set up
    a vault when they are all held: :func:`core.staff.vault_mail.mail_participants`, which commits), and mark them
    as told about. False when no mail went: no contact copy, the campaign not served, or invited before."""
    mailed = mail_participants(session, {signup.id: list(files)})
    return mailed.arrivals + mailed.invitations > 0
