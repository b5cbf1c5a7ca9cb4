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
    """The session's login, ``[email_hash, expires_at]``, while it lasts; else None. A login of three values (made
    before revision 0020a, when it also held a key) counts as logged out, and its key is never read."""
    value = session.get(SESSION_KEY)
    if not (isinstance(value, list) and len(value) == 2) or not isinstance(value[1], int | float):
        return None
    return value if value[1] >= time.time() else None


def logged_in() -> str | None:
    """The address hash this browser proved on this campaign, while the login lasts."""
    value = login_value()
    return None if value is None else value[0]
