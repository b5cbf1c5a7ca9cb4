"""The confirmation mail: sent once a sign-up counts and its mandate PDF is made, whichever comes last.

For most campaigns that is right after the mandate job; where the fee model asks a payment first, it is when the
payment is reported (or the mandate job, if the payment was quicker). Both paths call
:func:`queue_confirmation_if_ready`; ``Signup.confirmed_at`` makes sure the mail goes out once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import personal_data
from ..db import db_session, set_once
from ..fees import fee_model_for, fee_summary, terms_of
from ..jobs import enqueue, job_handler
from ..mail import compose, queue_mail
from ..models import Signup, is_participant
from ..site import site
from ..tenancy import campaign_url
from .links import mandate_link_token

CONFIRMATION_JOB = "confirmation"


def queue_confirmation_if_ready(session: Session, signup: Signup, now: dt.datetime) -> bool:
    """Queue the confirmation job if ``signup`` counts, has its mandate, and was not confirmed yet."""
    if signup.confirmed_at is not None or not signup.mandate_sha256 or not is_participant(signup):
        return False
    # One statement decides, so two workers (the mandate job and a payment) cannot both queue it.
    if not set_once(session, Signup.confirmed_at, signup.id, now):
        return False
    signup.confirmed_at = now
    enqueue(session, CONFIRMATION_JOB, {"signup": signup.token}, campaign=signup.campaign)
    return True


@job_handler(CONFIRMATION_JOB)
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
    copy_key = personal_data.copy_key_of(db, signup)
    pdf = personal_data.load_mandate(db, signup, copy_key)
    language = signup.language
    terms = terms_of(signup)
    with force_locale(language):
        summary = fee_summary(fee_model_for(loaded), terms, signup.paid_at, language) if terms else []
    signup_config = loaded.campaign.signup
    message = compose(
        loaded=loaded, language=language, to=answers["email"], template="confirmation",
        context={"name": answers.get("name", ""),
                 "mandate_url": campaign_url(loaded, "signup.mandate", language=language,
                                             token=mandate_link_token(loaded.slug, signup.token, copy_key)),
                 "next_steps": loaded.campaign.text(signup_config.next_steps, language)
                 if signup_config and signup_config.next_steps else "",
                 "fee_summary": "\n".join(summary)},
        attachments=[(f"mandate-{loaded.slug}.pdf", "application/pdf", pdf)] if pdf else [],
    )
    queue_mail(db, message, campaign=loaded.slug, kind="confirmation")
    personal_data.release(db, signup)  # the last mail that needs the address or the name is composed
    db.commit()
