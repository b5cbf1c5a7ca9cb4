"""What the campaign views share about the request in hand: who acts in it (:func:`current_visit`), the rate limit
per network (:func:`limit_per_ip`), the CSRF check of the forms that check it themselves (:func:`csrf_ok`), and
the phone number this browser checked on the data breach check (:func:`phone_check`), which the join form fills
in."""

from __future__ import annotations

from flask import g, request, session
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from core.data.db import db_session
from core.data.hashing import ip_hash, network_hash
from core.data.models import PhoneVerification
from core.phones.verification import find
from core.signup import flow
from core.site import current_campaign, site
from core.web.request_campaign import request_time

# The session entry with the random id of the phone verification the data breach check started in this browser
# (core.web.views.breach_check): never the number itself, which is kept sealed with the verification for a day.
PHONE_CHECK_KEY = "phone_check"


def phone_check() -> PhoneVerification | None:
    """The phone verification this browser started on this campaign's data breach check, while it is kept."""
    found = find(db_session(), str(session.get(PHONE_CHECK_KEY, "")))
    return found if found is not None and found.campaign == current_campaign().slug else None


def current_visit() -> flow.Visit:
    """Who acts in this request: made once per request (rate limits and evidence use the same one)."""
    visit = g.get("signup_visit")
    if visit is None:
        visit = g.signup_visit = flow.Visit(
            request_time(),  # the clock the campaign's status was read with
            ip_hash(site().hash_key, request.remote_addr),
            request.user_agent.string,
            network_hash(site().hash_key, request.remote_addr),
        )
    return visit


def limit_per_ip(rule: str) -> None:
    """Count this request against ``rule`` for the visitor's (hashed) network: their IPv4 address or IPv6 /64; a
    429 page once over (every view that mails or checks a secret: sign-up, payments, the participant's page)."""
    site().limits.enforce(rule, current_visit().network)


def csrf_ok() -> bool:
    """The posted CSRF token is valid. These views check CSRF themselves (exempt from the global check) so that an
    expired page gets a clear message on the same page, with nothing typed lost, instead of an error page."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True
