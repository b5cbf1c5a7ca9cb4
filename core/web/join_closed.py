"""The join flow's answer when the campaign takes no sign-ups now (not yet open, or closed by hand or by its
``closes``): the call to action, saying why and since or until when, and what became of what the visitor sent.

Every step of joining and paying asks :func:`refusal` first, so the clock closes the whole flow at once, with the
grace of :mod:`core.campaigns.schedule`: a sign-up whose address was confirmed before ``closes`` may still sign and
pay for a day. A form sent after closing is answered with this page (409), never dropped without a word.
"""

from __future__ import annotations

from flask import Response, request
from flask_babel import gettext as _

from core.campaigns.schedule import TAKING_SIGNUPS
from core.data.models import Signup
from core.web.rendering import moment_text, render_page
from core.web.request_campaign import campaign_schedule, campaign_status, request_time


def closed_page(notice: str | None = None) -> Response:
    """The join page of a campaign that takes no sign-ups now; ``notice`` says what became of this visitor's."""
    return render_page(
        "signup/closed.html", cache=False, status=409 if request.method == "POST" else 200, notice=notice
    )


def refusal(signup: Signup | None) -> Response | None:
    """The closed page when the campaign does not let ``signup`` (None: a new one) go on now; None when it may."""
    status = campaign_status()
    if status in TAKING_SIGNUPS:
        return None
    schedule, now = campaign_schedule(), request_time()
    verified_at = signup.verified_at if signup is not None else None
    if status == "closed" and schedule.may_finish(verified_at, now):  # (a staff preview's status is not the clock's)
        return None
    if signup is None and request.method == "POST" and status == "closed":
        return closed_page(_("Registration closed before your details arrived, so they were not saved."))
    if signup is None or not schedule.closed_by_clock(now):  # not open yet, or closed by hand: no grace to explain
        return closed_page()
    assert schedule.closes_at is not None and schedule.finish_until is not None
    if verified_at is None or verified_at >= schedule.closes_at:
        return closed_page(
            _(
                "Registration closed before your e-mail address was confirmed, so this sign-up can no longer be "
                "finished."
            )
        )
    return closed_page(
        _(
            "Registration has closed. Sign-ups whose e-mail address was confirmed before then could be finished "
            "until %(date)s; that time has passed.",
            date=moment_text(schedule.finish_until),
        )
    )
