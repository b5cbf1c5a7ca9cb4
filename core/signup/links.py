"""Signed links in mails: to a participant's mandate PDF (confirmation mail, success page), and to pay later."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

MANDATE_LINK_DAYS = 90
PAY_LINK_DAYS = 30


def _serializer(campaign: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"mandate:{campaign}")  # type: ignore[arg-type]


def mandate_link_token(campaign: str, signup_token: str) -> str:
    return _serializer(campaign).dumps(signup_token)


def read_mandate_link_token(campaign: str, token: str) -> str | None:
    """The sign-up token of a valid link not older than 90 days, else None."""
    try:
        value = _serializer(campaign).loads(token, max_age=MANDATE_LINK_DAYS * 24 * 3600)
    except BadData:
        return None
    return value if isinstance(value, str) else None


def _pay_serializer(campaign: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"pay:{campaign}")  # type: ignore[arg-type]


def pay_link_token(campaign: str, signup_token: str) -> str:
    """The token of the payment page of one sign-up: in the 'pay later' mail and the checkout's return links."""
    return _pay_serializer(campaign).dumps(signup_token)


def read_pay_link_token(campaign: str, token: str) -> str | None:
    """The sign-up token of a valid payment link not older than 30 days, else None."""
    try:
        value = _pay_serializer(campaign).loads(token, max_age=PAY_LINK_DAYS * 24 * 3600)
    except BadData:
        return None
    return value if isinstance(value, str) else None
