"""Rate limits on everything that sends mail or checks a secret (moving windows, per app).

Storage is ``CLAIMSITE_RATELIMIT_STORAGE_URL`` (e.g. ``redis://127.0.0.1:6379/0``), which shares the counts between
worker processes and servers; production requires it (core/settings.py). Outside production the default is memory,
one count per process.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from limits import parse
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from .settings import SettingsError

# What each limited action allows; the keys are hashed IPs or hashed addresses, never raw ones.
RULES = {
    "signup-form-ip": "20/hour",  # form posts from one IP (each may send a code)
    "code-mail-address": "6/day",  # verification mails to one address
    "code-check-ip": "30/hour",  # code guesses from one IP (each code also allows only 5 tries)
    "resend-ip": "20/hour",
    "mandate-download-ip": "60/hour",
    "login-form-ip": "20/hour",  # login links asked for on the participant's page, from one IP
    "login-mail-address": "5/day",  # login links mailed to one address (counted for unknown addresses too)
    "login-link-ip": "30/hour",  # login links opened from one IP
    "staff-login-ip": "30/hour",  # staff console logins tried from one IP (each account also locks after 5)
    "pay-link-ip": "60/hour",  # payment pages opened through a signed link (and checkouts started there)
    "webhook-ip": "1200/minute",  # provider notifications (signature checks); providers retry after a 429
}


class RateLimits:
    def __init__(self, storage_url: str) -> None:
        """Counts kept at ``storage_url`` (empty: in this process's memory). Raises ``SettingsError`` for a URL the
        installed ``limits`` cannot use, naming only its scheme (the URL may hold a password)."""
        try:
            self.storage = storage_from_string(storage_url.strip() or "memory://")
        except ConfigurationError:
            scheme = urlsplit(storage_url.strip()).scheme
            raise SettingsError(
                f"CLAIMSITE_RATELIMIT_STORAGE_URL: {scheme}:// is not a rate-limit storage this installation can use. "
                "Use redis://host:6379/0 (or rediss://host:6380/0 for TLS) for a Redis server every worker reaches."
            ) from None
        self.limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, rule: str, key: str | None) -> bool:
        """Count one attempt; False when the limit was already reached (the attempt must be refused)."""
        return self.limiter.hit(parse(RULES[rule]), rule, key or "-")

    def enforce(self, rule: str, key: str | None) -> None:
        """Count one attempt, or refuse it: ``TooManyRequests`` (429, the translated error page) with
        ``Retry-After`` saying when the oldest counted attempt leaves the window."""
        if not self.hit(rule, key):
            raise TooManyRequests(retry_after=self.retry_after(rule, key))

    def retry_after(self, rule: str, key: str | None) -> int:
        """Whole seconds until one more attempt would be allowed (at least 1)."""
        reset = self.limiter.get_window_stats(parse(RULES[rule]), rule, key or "-").reset_time
        return max(1, math.ceil(reset - time.time()))

    def allowed(self, rule: str, key: str | None) -> bool:
        """Would one more attempt be allowed (without counting it)?"""
        return self.limiter.test(parse(RULES[rule]), rule, key or "-")
