"""Signed links in mails: to a participant's mandate page (confirmation mail, done page), to pay later, and a
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


def mandate_link_token(campaign: str, signup_token: str) -> str:
    """The token of the mandate page of one sign-up (confirmation mail, done page). It names the sign-up only: the
    key of the participant's copy goes in the link's fragment (:func:`core.signup.mandate_copy.with_key`), never
    in the path."""
    return _serializer("mandate", campaign).dumps(signup_token)


def read_mandate_link_token(campaign: str, token: str) -> str | None:
    """The sign-up token of a valid mandate link not older than 90 days, else None (a link mailed before revision
    0020a, whose token also carried a key, included: its copy is gone)."""
    return _read("mandate", campaign, token, MANDATE_LINK_DAYS)


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
