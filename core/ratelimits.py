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

from core.settings import SettingsError

# What each limited action allows. The keys are hashed, never raw: "-ip" rules count a requester's network
# (core.data.hashing.network_hash: an IPv4 address, or an IPv6 /64), "-address" rules a hashed e-mail address, and
# "-address-network" rules the two together.
#
# Mail to one address is limited twice, so that nobody can use a limit to cut someone else off. Per address and
# network, a day's worth: what one requester may have sent to one address. Per address alone, a short window (the
# time a code or link stays valid) that allows one more than a network's daily share: a single network can never
# fill it, so it cannot keep the owner of the address from getting their own code or link; many networks together
# can fill it only while they keep asking, and then every refused request has a mail, sent within that window and
# still valid, in the address's mailbox. Together they bound the mail to one address (at most one window's worth
# per window), wherever it is asked from.
RULES = {
    "signup-form-ip": "20/hour",  # form posts from one network (each may send a code)
    "code-mail-address-network": "6/day",  # verification mails to one address asked from one network
    "code-mail-address": "7/15minutes",  # verification mails to one address (a code is valid 15 minutes)
    "code-check-ip": "30/hour",  # code guesses from one network (each code also allows only 5 tries)
    "resend-ip": "20/hour",
    "mandate-download-ip": "60/hour",
    "login-form-ip": "20/hour",  # login links asked for on the participant's page, from one network
    "login-mail-address-network": "5/day",  # login links to one address asked from one network (known or not)
    "login-mail-address": "6/30minutes",  # login links to one address (a link is valid 30 minutes)
    "login-link-ip": "30/hour",  # login links opened from one network
    "staff-login-ip": "30/hour",  # staff console logins tried from one network
    # Failed staff logins in a row for one account from one network: more are refused unchecked (wrong passwords
    # never lock the account itself, so nobody elsewhere can lock its staff member out; core.staff.accounts).
    "staff-login-account-network": "5/15minutes",
    # Per staff account, on the console: sign-ups looked up by address, and the codes and login links mailed to
    # them (each mail also counts against the limits of its address above, as if its owner had asked).
    "staff-find-account": "60/hour",
    "staff-mail-account": "30/hour",
    "pay-link-ip": "60/hour",  # payment pages opened through a signed link (and checkouts started there)
    "webhook-ip": "1200/minute",  # provider notifications (signature checks); providers retry after a 429
    # The data breach check from one network, found or not alike: enough for a household's numbers, far too few to
    # try a country's numbers (core.web.views.breach_check). SMS codes have limits of their own (core.phones.limits).
    "breach-check-ip": "20/hour",
    "breach-code-ip": "30/hour",  # SMS code guesses from one network (each code also allows only 5 tries)
    "identity-upload-ip": "20/hour",  # ID copies sent from one network (each is decoded in full: costly)
    "vault-ip": "30/hour",  # vaults set up and passphrases changed from one network
    # Ranges of vault files fetched from one network: the page asks for 8 MiB at a time, so a 2 GB answer is 256
    # requests; enough for a few of those an hour, while a client that asks for more is still stopped.
    "vault-download-ip": "1200/hour",
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

    def hit_mail(self, kind: str, address_hash: str, network: str | None) -> bool:
        """Count one mail of ``kind`` (``code-mail`` or ``login-mail``) to an address, asked from ``network``;
        False when it must not be sent. The address's own window counts only what its network's share let through,
        so one network's requests never fill it (see :data:`RULES`)."""
        if not self.hit(f"{kind}-address-network", f"{address_hash}:{network or '-'}"):
            return False
        return self.hit(f"{kind}-address", address_hash)

    def hit_amount(self, name: str, amount: str, key: str) -> bool:
        """Count one attempt against an ``amount`` the caller chose (``"5/hour"``, e.g. from a campaign's settings:
        :class:`core.phones.limits.SmsLimits`) under ``name``; False when the limit was already reached. The count
        is atomic in the storage, as every rule's is."""
        return self.limiter.hit(parse(amount), name, key)

    def add(self, key: str, amount: int, keep_seconds: int) -> int:
        """Add ``amount`` (0 too) to the shared counter ``key``, atomically, in the same storage as the limits (Redis
        in production, so every worker and server counts into one total); returns the new total. A counter is kept
        ``keep_seconds`` after it was first counted. For counts that are no limit and come with many requests, such
        as the data breach check's funnel, where a database write per request would cost more than the request."""
        return self.storage.incr(f"count/{key}", keep_seconds, amount=amount)

    def total(self, key: str) -> int:
        """The shared counter ``key`` (0 when never counted, or expired)."""
        return int(self.storage.get(f"count/{key}") or 0)

    def clear(self, rule: str, key: str | None) -> None:
        """Forget the attempts counted for ``key`` (e.g. failed logins in a row, after a successful one)."""
        self.limiter.clear(parse(RULES[rule]), rule, key or "-")

    def allowed(self, rule: str, key: str | None) -> bool:
        """Would one more attempt be allowed (without counting it)?"""
        return self.limiter.test(parse(RULES[rule]), rule, key or "-")
