"""The "pay later" mail: a participant who signed but has not paid gets one mail with a link to pay.

It is queued when a checkout is cancelled, expires or fails, and an hour after signing (for someone who closed
the page before reaching the checkout); whichever comes first sends it, the others find it sent and do nothing.
None is sent once the campaign no longer lets the sign-up pay (closed, past the day of grace after ``closes``:
core/campaigns/schedule.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns.addresses import campaign_url
from core.campaigns.schedule import Schedule
from core.data import personal_data
from core.data.db import db_session, set_once, utcnow
from core.data.models import Signup, Stage
from core.i18n import money
from core.jobs.mail import compose, queue_mail
from core.jobs.queue import enqueue
from core.money.fees import euros, payment_due
from core.signup.links import PAY_LINK_DAYS, pay_link_token
from core.site import site

REMINDER_JOB = "payment-reminder"
REMIND_AFTER_SIGNING = dt.timedelta(hours=1)


def queue_payment_reminder(
    session: Session, signup: Signup, now: dt.datetime, delay: dt.timedelta | None = None
) -> None:
    if signup.payment_reminded_at is None:
        enqueue(
            session,
            REMINDER_JOB,
            {"signup": signup.token},
            campaign=signup.campaign,
            run_after=now + delay if delay else None,
        )


def send_payment_reminder(app: Flask, payload: dict[str, Any]) -> None:
    db = db_session()
    signup = db.scalar(select(Signup).where(Signup.token == payload["signup"]))
    if (
        signup is None
        or signup.stage != Stage.SIGNED
        or signup.paid_at is not None
        or signup.payment_reminded_at is not None
        or signup.withdrawn_at is not None
    ):
        return  # erased, paid, reminded already, or withdrawn
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if loaded is None:
        raise RuntimeError(f"campaign {signup.campaign} is not loaded")
    now = utcnow()
    if not Schedule.of(loaded.campaign).may_finish(signup.verified_at, now):
        return  # the campaign closed and the time to finish has passed: the link would lead to the closed page
    due = payment_due(loaded, signup)
    if due is None:
        return
    answers = personal_data.load(db, signup)
    if not answers:
        return  # the working copy is gone: erased, or withdrawn
    if not set_once(db, Signup.payment_reminded_at, signup.id, now):
        return
    language = signup.language
    with force_locale(language):
        amount = money(euros(due.amount_cents), language, due.currency)
    message = compose(
        loaded=loaded,
        language=language,
        to=answers["email"],
        template="payment_due",
        context={
            "name": answers.get("name", ""),
            "amount": amount,
            "description": due.description,
            "pay_url": campaign_url(
                loaded, "payments.pay", language=language, token=pay_link_token(loaded.slug, signup.token)
            ),
            "days_valid": PAY_LINK_DAYS,
        },
    )
    queue_mail(db, message, campaign=loaded.slug, kind="payment-due")
    db.commit()
