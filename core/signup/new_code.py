"""A new verification code for a sign-up, asked for by staff on the console, and mailed by the worker.

The console is an app of its own on the admin host, while the code mail holds a link to a campaign's address, and
campaign addresses are built outside requests as the login link's are: in a job. So the console checks the sign-up,
the wait and the limits, and queues :data:`NEW_CODE_JOB` in the transaction of its audit entry; the job issues the
code and queues its mail in one transaction, exactly as the visitor's own "send a new code" button does
(:func:`core.signup.flow.resend`), and the evidence of the sign-up says that staff asked for it.

The job is harmless to run twice and late: it sends nothing when the sign-up was verified, withdrawn or erased
meanwhile, or when a code went out after staff asked (the visitor pressed the button themselves, or the job ran
before).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from core.data import personal_data
from core.data.db import db_session, utcnow
from core.data.models import Signup, Stage
from core.jobs.queue import current_job, enqueue
from core.signup import flow
from core.site import site

log = logging.getLogger(__name__)
NEW_CODE_JOB = "signup-new-code"
ASKED_BY_STAFF = "asked by staff"  # the detail of the sign-up's "code-sent" evidence


def waiting_for_code(signup: Signup) -> bool:
    """Is the sign-up still waiting for its address to be verified (so a new code can help)?"""
    return signup.stage == Stage.STARTED and signup.withdrawn_at is None and signup.erased_at is None


def queue_new_code(session: Session, signup: Signup, now: dt.datetime) -> None:
    """Queue a new code for ``signup`` in ``session``'s transaction (the caller checked the wait and the limits)."""
    enqueue(session, NEW_CODE_JOB, {"signup": signup.token, "asked_at": now.isoformat()}, campaign=signup.campaign)


def send_new_code(app: Flask, payload: dict[str, Any]) -> None:
    """The :data:`NEW_CODE_JOB`: issue the code and queue its mail, unless it is no longer needed."""
    db = db_session()
    job = current_job()
    loaded = site().registry.snapshot.campaigns.get(job.campaign if job else None)  # type: ignore[arg-type]
    if loaded is None:
        raise RuntimeError("the campaign of this sign-up is not loaded")
    signup = flow.find(db, loaded.slug, payload["signup"])
    asked_at = dt.datetime.fromisoformat(payload["asked_at"])
    if signup is None or not waiting_for_code(signup):
        return
    if signup.code_sent_at is not None and signup.code_sent_at >= asked_at:
        return  # a code went out after staff asked: that one does
    if "email" not in (personal_data.load_pending(db, signup) or personal_data.load(db, signup)):
        log.warning("sign-up %s has no answers to mail a code to", signup.token[:12])
        return
    keys = flow.Keys(secret_key=str(app.secret_key), hash_key=site().hash_key)
    visit = flow.Visit(now=utcnow(), ip_hash=None, user_agent=None)
    flow.resend(db, loaded, signup, keys, site().limits, visit, wait=False, counted=True, detail=ASKED_BY_STAFF)
    db.commit()
