"""Who is logged in on the participant's pages (``/my`` and the vault): the login by e-mailed link leaves the
address's keyed hash in this campaign's session for an hour. Read here, so every view module reads it the same way
(core.web.views.participant writes it)."""

from __future__ import annotations

import time
from typing import Any

from flask import session

SESSION_KEY = "participant"
LOGGED_IN_SECONDS = 3600


def login_value() -> list[Any] | None:
    """The session's login, ``[email_hash, expires_at, copy_key_hex]``, while it lasts; else None."""
    value = session.get(SESSION_KEY)
    if not (isinstance(value, list) and len(value) == 3) or value[1] < time.time():
        return None
    return value


def logged_in() -> str | None:
    """The address hash this browser proved on this campaign, while the login lasts."""
    value = login_value()
    return None if value is None else value[0]
