"""The confirmation mail: sent once a sign-up counts and its mandate PDF is made, whichever comes last.

For most campaigns that is right after the mandate job; where the fee model asks a payment first, it is when the
payment is reported (or the mandate job, if the payment was quicker). Both paths call
:func:`queue_confirmation_if_ready`; ``Signup.confirmed_at`` makes sure the mail goes out once, and the sweep
(:class:`ConfirmationSweep`) finishes any sign-up that a fault left between the two.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.campaigns.addresses import campaign_url
from core.data import personal_data
from core.data.db import db_session, set_once
from core.data.models import Signup, participant
from core.jobs.mail import compose, queue_mail
from core.jobs.queue import enqueue
from core.money.fees import fee_model_for, fee_summary, terms_of
from core.signup.links import mandate_link_token
from core.signup.mandate_copy import open_copy, with_key
from core.site import site

log = logging.getLogger(__name__)

CONFIRMATION_JOB = "confirmation"


def queue_confirmation_if_ready(session: Session, signup: Signup, now: dt.datetime) -> bool:
    """Queue the confirmation job if ``signup`` counts, has its mandate, and was not confirmed yet; call it after
    changing either half (the mandate made, the payment reported), in the same transaction.

    The two halves are made by different processes at any moment (the worker makes the PDF while Stripe reports
    the payment), each holding its own, soon stale, copy of the sign-up: so neither copy decides. The caller's own
    change is written first (which takes the row's lock: a second writer waits until the first commits), then ONE
    statement sets ``confirmed_at`` only if the row, as it is then, has both halves. Whichever of the two commits
    last sees the other's change, and only one of them can set it.
    """
    if signup.confirmed_at is not None:
        return False
    session.flush()
    if not set_once(session, Signup.confirmed_at, signup.id, now, Signup.mandate_sha256.is_not(None), participant()):
        return False
    set_committed_value(signup, "confirmed_at", now)
    enqueue(session, CONFIRMATION_JOB, {"signup": signup.token}, campaign=signup.campaign)
    return True


def _waiting() -> ColumnElement[bool]:
    """Sign-ups that count and have their mandate, but no confirmation queued: left between the two halves by a
    fault (or by the race that releases before this one lost). Never true of a committed row otherwise."""
    return (
        participant() & Signup.mandate_sha256.is_not(None) & Signup.confirmed_at.is_(None) & Signup.erased_at.is_(None)
    )


class ConfirmationSweep:
    """Finds sign-ups waiting for their confirmation and queues it (run by the worker and ``flask jobs --sweep``;
    listed by ``flask jobs``)."""

    title = "sign-up(s) waiting for their confirmation"
    columns = ("CAMPAIGN", "REFERENCE", "SIGNED AT (UTC)", "PAID AT (UTC)")

    def stuck(self, session: Session) -> list[tuple[str, ...]]:
        rows = session.execute(
            select(Signup.campaign, Signup.token, Signup.signed_at, Signup.paid_at)
            .where(_waiting())
            .order_by(Signup.id)
        ).all()
        return [
            (campaign, token[:12], _when(signed_at), _when(paid_at)) for campaign, token, signed_at, paid_at in rows
        ]

    def finish(self, session: Session, now: dt.datetime) -> int:
        """Queue the confirmation of each waiting sign-up (once: see :func:`queue_confirmation_if_ready`);
        commits; returns how many."""
        finished = 0
        for signup in session.scalars(select(Signup).where(_waiting()).order_by(Signup.id)).all():
            if queue_confirmation_if_ready(session, signup, now):
                finished += 1
                log.warning(
                    "confirmation of sign-up %s (%s) was missing: queued by the sweep",
                    signup.token[:12],
                    signup.campaign,
                )
            session.commit()
        return finished


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def send_confirmation(app: Flask, payload: dict[str, Any]) -> None:
    db = db_session()
    signup = db.scalar(select(Signup).where(Signup.token == payload["signup"]))
    if signup is None or signup.withdrawn_at is not None:
        return  # erased or withdrawn meanwhile
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if loaded is None:
        raise RuntimeError(f"campaign {signup.campaign} is not loaded")
    answers = personal_data.load(db, signup)
    if not answers:
        return  # composed already (the working copy is released with it) or erased
    # The last moment the server can open the participant's copy: the PDF is attached, and the link carries the key
    # in its fragment; both leave with the mail, and the key is released below.
    one_off_key = personal_data.mandate_copy_key(db, signup)
    copy = personal_data.participant_copy(db, signup)
    pdf = open_copy(copy, one_off_key) if copy is not None and one_off_key is not None else None
    language = signup.language
    terms = terms_of(signup)
    with force_locale(language):
        summary = fee_summary(fee_model_for(loaded), terms, signup.paid_at, language) if terms else []
    signup_config = loaded.campaign.signup
    message = compose(
        loaded=loaded,
        language=language,
        to=answers["email"],
        template="confirmation",
        context={
            "name": answers.get("name", ""),
            "mandate_url": with_key(
                campaign_url(
                    loaded, "signup.mandate", language=language, token=mandate_link_token(loaded.slug, signup.token)
                ),
                one_off_key,
            )
            if pdf is not None and one_off_key is not None
            else "",
            "next_steps": loaded.campaign.text(signup_config.next_steps, language)
            if signup_config and signup_config.next_steps
            else "",
            "fee_summary": "\n".join(summary),
        },
        attachments=[(f"mandate-{loaded.slug}.pdf", "application/pdf", pdf)] if pdf else [],
    )
    queue_mail(db, message, campaign=loaded.slug, kind="confirmation")
    personal_data.release(db, signup)  # the last mail that needs the address or the name is composed
    db.commit()
