"""Signed links in mails: to a participant's mandate PDF (confirmation mail, success page), to pay later, and a
pre-registration's invitation to join once the campaign opens.

Each kind has its own salt, so a link of one kind is never accepted as another, nor for another campaign.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from core.data.hashing import signing_serializer

MANDATE_LINK_DAYS = 90
PAY_LINK_DAYS = 30
INVITATION_LINK_DAYS = 30  # after that the join form (a new code) still brings the person to the same sign-up


def _serializer(purpose: str, campaign: str) -> URLSafeTimedSerializer:
    return signing_serializer(current_app.secret_key, f"{purpose}:{campaign}")  # type: ignore[arg-type]


def _read(purpose: str, campaign: str, token: str, days: int) -> str | None:
    """The sign-up token in a valid link not older than ``days``, else None."""
    try:
        value = _serializer(purpose, campaign).loads(token, max_age=days * 24 * 3600)
    except BadData:
        return None
    return value if isinstance(value, str) else None


def mandate_link_token(campaign: str, signup_token: str, copy_key: bytes) -> str:
    """The link to a participant's mandate carries the key of their copy (:func:`core.data.personal_data.copy_key`):
    the server keeps no key that opens it."""
    return _serializer("mandate", campaign).dumps([signup_token, copy_key.hex()])


def read_mandate_link_token(campaign: str, token: str) -> tuple[str, bytes] | None:
    """(sign-up token, key of the participant's copy) of a valid mandate link not older than 90 days, else None."""
    try:
        value = _serializer("mandate", campaign).loads(token, max_age=MANDATE_LINK_DAYS * 24 * 3600)
    except BadData:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)):
        return None
    try:
        return value[0], bytes.fromhex(value[1])
    except ValueError:
        return None


def pay_link_token(campaign: str, signup_token: str) -> str:
    """The token of the payment page of one sign-up: in the 'pay later' mail and the checkout's return links."""
    return _serializer("pay", campaign).dumps(signup_token)


def read_pay_link_token(campaign: str, token: str) -> str | None:
    """The sign-up token of a valid payment link not older than 30 days, else None."""
    return _read("pay", campaign, token, PAY_LINK_DAYS)


def invitation_link_token(campaign: str, signup_token: str) -> str:
    """The token of a pre-registration's invitation to join, mailed when its campaign opens
    (:mod:`core.signup.invitations`)."""
    return _serializer("invitation", campaign).dumps(signup_token)


def read_invitation_link_token(campaign: str, token: str) -> str | None:
    """The sign-up token of a valid invitation link not older than :data:`INVITATION_LINK_DAYS`, else None."""
    return _read("invitation", campaign, token, INVITATION_LINK_DAYS)
