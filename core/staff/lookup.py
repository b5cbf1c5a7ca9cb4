"""Support on the console: finding a sign-up by its e-mail address (or by its reference, as the console and its
exports show it), and mailing it a new verification code or a login link to the participant's page.

The address is matched through its keyed hash, the way the campaign site recognises a returning visitor
(:func:`core.data.hashing.email_hash`, and the hashes of an internationalised address's earlier forms): nothing
sealed is opened, and no list of addresses is decrypted to search it. Only sign-ups of the campaigns the account
sees are found; the others are neither shown nor counted.

Mail goes out as it does when the person presses the button themselves, under the same limits per address
(``code-mail`` and ``login-mail`` in :mod:`core.ratelimits`, counted from the staff member's network), and one more
per staff account (``staff-mail-account``):

- a new code only while the sign-up still waits for its address to be verified, and not within a minute of the
  last one (:mod:`core.signup.new_code`: the worker issues it);
- a login link only for a sign-up that was signed and not erased: on its page the participant sees it, fetches
  the mandate and can withdraw. The mandate itself is never mailed from the console.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.hashing import earlier_email_hashes, email_hash
from core.data.models import Signup, Stage, is_participant
from core.ratelimits import RateLimits
from core.signup.codes import seconds_until_resend
from core.signup.login import queue_login_mail
from core.signup.new_code import queue_new_code, waiting_for_code
from core.staff.mail_queue import among

MAX_FOUND = 100  # one address signs up once per campaign: this is every campaign's sign-up, with room to spare
REFERENCE_LENGTH = 12  # as staff see a sign-up's reference on the console: its token's first 12 characters


class Action(StrEnum):
    CODE = "code"
    LOGIN_LINK = "login-link"


class Sent(StrEnum):
    """What came of pressing a button; every outcome but SENT mailed nothing."""

    SENT = "sent"
    WAIT = "wait"  # a code went out less than a minute ago
    LIMITED = "limited"  # the limits of this address, or of this staff account, are reached
    NOT_NOW = "not-now"  # this sign-up cannot get this mail (verified meanwhile, or not signed, or erased)


def address_hashes(hash_key: str, address: str) -> list[str]:
    """Every hash a sign-up of ``address`` may be kept under."""
    return [email_hash(hash_key, address), *earlier_email_hashes(hash_key, address)]


def find(session: Session, hash_key: str, address: str, campaigns: Collection[str] | None) -> list[Signup]:
    """The sign-ups of ``address`` in ``campaigns`` (None: every campaign), oldest first."""
    return list(
        session.scalars(
            select(Signup)
            .where(Signup.email_hash.in_(address_hashes(hash_key, address)), *among(Signup.campaign, campaigns))
            .order_by(Signup.created_at, Signup.id)
            .limit(MAX_FOUND)
        )
    )


def by_reference(session: Session, reference: str, campaigns: Collection[str] | None) -> Signup | None:
    """The sign-up of ``campaigns`` (None: every campaign) whose token starts with ``reference`` and is not erased;
    None when there is none, or more than one (a reference too short to tell them apart)."""
    if len(reference) != REFERENCE_LENGTH:
        return None
    candidates = session.scalars(
        select(Signup)
        .where(
            Signup.token.startswith(reference, autoescape=True),
            Signup.erased_at.is_(None),
            *among(Signup.campaign, campaigns),
        )
        .limit(2)
    ).all()
    return candidates[0] if len(candidates) == 1 else None


def status(signup: Signup) -> str:
    """Where the sign-up stands, in a few words for staff."""
    if signup.erased_at is not None:
        return "erased"
    if signup.withdrawn_at is not None:
        return "withdrew"
    if is_participant(signup):
        return "participant"
    if signup.stage == Stage.SIGNED:
        return "signed, payment awaited"
    if signup.stage == Stage.INTERESTED:
        return "pre-registered (address verified, nothing signed): waiting for the campaign to open"
    if signup.stage == Stage.INVITED:
        return "pre-registered, invited to join since the campaign opened (nothing signed yet)"
    if signup.stage == Stage.VERIFIED:
        return "address verified, not signed yet"
    return "waiting for the code (address not verified)"


def may_get(signup: Signup, action: Action) -> bool:
    """Can this mail help this sign-up now?"""
    if action is Action.CODE:
        return waiting_for_code(signup)
    return signup.stage == Stage.SIGNED and signup.erased_at is None


def send(
    session: Session,
    limits: RateLimits,
    *,
    action: Action,
    signup: Signup,
    loaded: LoadedCampaign,
    address: str,
    hash_key: str,
    staff_key: str,
    network: str | None,
    now: dt.datetime,
) -> Sent:
    """Queue ``action``'s mail for ``signup`` (whose address is ``address``: the caller matched its hash) in
    ``session``'s transaction, within the limits; the caller commits."""
    if not may_get(signup, action):
        return Sent.NOT_NOW
    if action is Action.CODE and seconds_until_resend(signup, now) > 0:
        return Sent.WAIT
    if not limits.hit("staff-mail-account", staff_key):
        return Sent.LIMITED
    # Counted under the hash the campaign site counts them under: the sign-up's for a code (core.signup.flow),
    # the address's own for a login link (core.web.views.participant).
    if action is Action.CODE:
        counted = limits.hit_mail("code-mail", signup.email_hash, network)
    else:
        counted = limits.hit_mail("login-mail", email_hash(hash_key, address), network)
    if not counted:
        return Sent.LIMITED
    if action is Action.CODE:
        queue_new_code(session, signup, now)
    else:
        queue_login_mail(session, loaded, address, signup.language)
    return Sent.SENT
