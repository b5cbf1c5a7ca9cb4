"""A file deposited in a participant's vault, however it came: the token that makes a deposit the same one again,
its row, and the arrival mail. Shared by ``flask vault deposit`` (:mod:`core.cli.vault`), which encrypts in its own
process, and the console's upload (:mod:`core.staff.vault_upload`), which stores what the staff member's browser
encrypted: a participant cannot tell, and must not be able to tell, which way a file came.

Which key a file is encrypted to is decided in one place, :func:`recipient_key`, so that the case of a participant
without a vault (files held under the foundation's key) is added there once for both ways in.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence

from flask_babel import force_locale
from sqlalchemy.orm import Session

from core.campaigns.addresses import campaign_url
from core.data import vault_files, vault_keys
from core.data.contacts import contact_address
from core.data.db import utcnow
from core.data.models import Signup, VaultFile
from core.jobs.mail import queue_template_mail
from core.site import site
from core.vault.stream_format import EncryptedInfo

MAX_COMPANY = 100
MAX_NAME = 200
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


def deposit_token(campaign: str, reference: str, company: str, name: str, size: int) -> str:
    """What makes a deposit the same one again (see :class:`core.data.models.VaultFile`): known before a byte is
    read, and no fingerprint of the content."""
    return hashlib.sha256(f"{campaign}|{reference}|{company}|{name}|{size}".encode()).hexdigest()


def recipient_key(session: Session, signup: Signup) -> bytes | None:
    """The public key (65-byte raw P-256 point) a file for ``signup`` is encrypted to: its address's vault key, or
    None when the address has no vault yet (nothing can be deposited for it today)."""
    vault = vault_keys.vault_key_of(session, signup.email_hash)
    return vault.public_raw if vault is not None else None


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
        ),
    )


def queue_arrival_mail(session: Session, signup: Signup, files: Sequence[VaultFile]) -> bool:
    """Queue the one mail that tells ``signup``'s participant that something new is in their vault (never what,
    never a name, key or token), through the contact copy of their address, and mark ``files`` as told about; the
    caller commits. False, and nothing marked, when there is no contact copy or the campaign is not served."""
    address = contact_address(session, signup)
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if address is None or loaded is None:
        return False
    with force_locale(signup.language):
        page_url = campaign_url(loaded, "participant.page", language=signup.language)
    queue_template_mail(
        session,
        loaded=loaded,
        language=signup.language,
        to=address,
        template="vault_arrival",
        context={"page_url": page_url},
        kind="vault-arrival",
    )
    vault_files.mark_notified(session, list(files), utcnow())
    return True
