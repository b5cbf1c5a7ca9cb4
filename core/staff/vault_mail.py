"""The vault's mail to participants: one per participant with something new, through the contact copy of their
address (:mod:`core.data.contacts`), never saying what (no company, no file name, no key or token: a mail may be
read by others).

- **Arrival** (``mail/vault_arrival.*``): something new is in their vault; after a deposit into it, and after
  staff moved held files or their mandate into it.
- **Invitation** (``mail/vault_held.*``): something arrived for them and is held until they set up their vault.
  One per address until the files are moved in: a file held later, for an address invited before, is marked as
  mailed without another mail (a second mail would say nothing new, and could be mistaken for a phishing nudge).

Shared by ``flask vault deposit`` and ``flask vault move`` (and the console's move), so both say the same.
"""

from __future__ import annotations

from typing import NamedTuple

from flask_babel import force_locale
from sqlalchemy.orm import Session

from core.campaigns.addresses import campaign_url
from core.data import vault_files
from core.data.contacts import contact_address
from core.data.db import utcnow
from core.data.models import Signup, VaultFile
from core.jobs.mail import queue_template_mail
from core.site import site


class Mailed(NamedTuple):
    """How many mails of each kind were queued."""

    arrivals: int
    invitations: int


def mail_participants(session: Session, files_by_signup: dict[int, list[VaultFile]]) -> Mailed:
    """One mail per sign-up in ``files_by_signup`` (its id -> the files the mail is about), committed one by one:
    the invitation when every file is held, else the arrival mail; none without a contact copy, and no second
    invitation for an address."""
    arrivals = invitations = 0
    invited_now: set[str] = set()
    for signup_id, files in files_by_signup.items():
        signup = session.get(Signup, signup_id)
        if signup is None:
            continue
        held = all(file.held_key_id is not None for file in files)
        if held and (signup.email_hash in invited_now or vault_files.invited(session, signup.email_hash)):
            vault_files.mark_notified(session, files, utcnow())  # told already: the next mail is the arrival
            session.commit()
            continue
        address = contact_address(session, signup)
        loaded = site().registry.snapshot.campaigns.get(signup.campaign)
        if address is None or loaded is None:
            continue
        with force_locale(signup.language):
            page_url = campaign_url(loaded, "participant.page", language=signup.language)
        queue_template_mail(
            session,
            loaded=loaded,
            language=signup.language,
            to=address,
            template="vault_held" if held else "vault_arrival",
            context={"page_url": page_url},
            kind="vault-invitation" if held else "vault-arrival",
        )
        vault_files.mark_notified(session, files, utcnow())
        session.commit()
        if held:
            invited_now.add(signup.email_hash)
            invitations += 1
        else:
            arrivals += 1
    return Mailed(arrivals, invitations)
