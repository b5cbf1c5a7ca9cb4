"""Preview links that staff share with a colleague who has no account (a lawyer, a translator): signed, expiring,
read only.

A link names one campaign and the status to show it in, and lasts the days chosen (at most :data:`MAX_DAYS`). It is
signed with the app's secret key (itsdangerous), so it cannot be changed to show another campaign, and it stops
working when it expires or the secret key is rotated. Whoever has the link sees the campaign's pages, drafts too,
as a visitor would; nothing can be sent from them (only GET reaches the campaign app, as in the staff preview).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "claimsite.staff.preview-link"
MAX_DAYS = 14
DEFAULT_DAYS = 7
DAY = 86400


@dataclass(frozen=True)
class PreviewLink:
    slug: str
    status: str
    days: int
    made_by: int  # the staff account that made it (in the audit log too)


def make_token(secret_key: str, link: PreviewLink) -> str:
    payload = {"c": link.slug, "s": link.status, "d": link.days, "by": link.made_by}
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps(payload)


def read_token(secret_key: str, token: str, now: float | None = None) -> PreviewLink | None:
    """The link ``token`` stands for, or None when it is not one of ours or has expired."""
    try:
        payload, signed_at = URLSafeTimedSerializer(secret_key, salt=SALT).loads(
            token, max_age=MAX_DAYS * DAY, return_timestamp=True
        )
    except BadSignature:  # also SignatureExpired, a subclass
        return None
    try:
        link = PreviewLink(str(payload["c"]), str(payload["s"]), int(payload["d"]), int(payload["by"]))
    except (KeyError, TypeError, ValueError):
        return None
    age = (time.time() if now is None else now) - signed_at.timestamp()
    return link if 0 < link.days <= MAX_DAYS and age <= link.days * DAY else None
