"""Vault files past their date: the participant told in advance, then the files removed (issue 21).

The rules (which date, when the notice is due, when a file may go, what happens without a contact copy) are in
:mod:`core.data.vault_retention`; this module sends the notices and removes the files, for ``flask retention run``.

The notice goes to a contact copy of the address: of a sign-up the files came for, else of any other sign-up of the
address, from the site and in the language of that sign-up's campaign. It says until when files are kept and that
they can be saved until then, with a link to the vault page: never which company or file (the vault shows that,
once unlocked), never a key or token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.data import vault_keys, vault_retention
from core.data.contacts import contact_address
from core.data.models import Signup
from core.i18n import long_date
from core.jobs.mail import queue_template_mail
from core.site import site
from core.vault.store import VaultStore


@dataclass
class Removal:
    """What a run did (or, dry, would do)."""

    notices_mailed: int = 0
    notices_unmailed: int = 0  # nobody could be told: no contact copy of the address
    files_removed: int = 0
    notices_spent: int = 0


@dataclass(frozen=True)
class _Recipient:
    signup: Signup
    address: str
    loaded: LoadedCampaign


def run(
    session: Session, store: VaultStore, campaigns: Iterable[LoadedCampaign], now: dt.datetime, dry_run: bool = False
) -> Removal:
    """Queue the notices that are due and remove the files whose notice's date has passed; each notice and each
    removal is committed on its own (a run killed midway keeps what it did, and the next run goes on from there)."""
    removal = Removal()
    for group in vault_retention.due(session, list(campaigns), now):
        notice = vault_retention.notice_of(session, group)
        if notice is None:
            _notify(session, group, now, removal, dry_run)
        elif vault_retention.removable(group, notice):
            removal.files_removed += len(group.files)
            if not dry_run:
                vault_retention.remove(session, store, group)
                session.commit()
    if not dry_run:
        removal.notices_spent = vault_retention.forget_spent(session, now)
        session.commit()
    return removal


def _notify(session: Session, group: vault_retention.Due, now: dt.datetime, removal: Removal, dry_run: bool) -> None:
    """Queue ``group``'s notice, once (another run may be queueing it at this moment), and count it."""
    recipient = _recipient(session, group)
    if dry_run:
        removal.notices_mailed += recipient is not None
        removal.notices_unmailed += recipient is None
        return
    if not vault_retention.record_notice(session, group, now, mailed=recipient is not None):
        session.rollback()  # another run queued it
        return
    if recipient is None:
        removal.notices_unmailed += 1
    else:
        _queue_mail(session, recipient, group.notice_until)
        removal.notices_mailed += 1
    session.commit()


def _recipient(session: Session, group: vault_retention.Due) -> _Recipient | None:
    """Whom to mail ``group``'s notice: a sign-up of the address with a contact copy and a loaded campaign, those
    the files came for first; None when there is none."""
    own = {file.signup_id for file in group.files}
    signups = session.scalars(
        select(Signup).where(Signup.email_hash == group.email_hash, Signup.erased_at.is_(None)).order_by(Signup.id)
    ).all()
    campaigns = site().registry.snapshot.campaigns
    for signup in sorted(signups, key=lambda signup: signup.id not in own):
        loaded = campaigns.get(signup.campaign)
        address = contact_address(session, signup) if loaded is not None else None
        if loaded is not None and address is not None:
            return _Recipient(signup, address, loaded)
    return None


def _queue_mail(session: Session, recipient: _Recipient, kept_until: dt.date) -> None:
    language = recipient.signup.language
    with force_locale(language):
        page_url = campaign_url(recipient.loaded, "vault.page", language=language)
    queue_template_mail(
        session,
        loaded=recipient.loaded,
        language=language,
        to=recipient.address,
        template="vault_removal",
        context={
            "kept_until": long_date(kept_until, language),
            "page_url": page_url,
            # Files held for an address without a vault cannot be saved until staff move them into one it sets up.
            "has_vault": vault_keys.vault_key_of(session, recipient.signup.email_hash) is not None,
        },
        kind="vault-removal",
    )
