"""The signed link to a participant's mandate PDF (in the confirmation mail and on the success page)."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

MANDATE_LINK_DAYS = 90


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
