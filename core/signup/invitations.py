"""Invitations: when a campaign that took pre-registrations opens, each pre-registered person is mailed once.

A pre-registration (``interested``: :func:`core.signup.flow.register_interest`) signed nothing; the campaign's FAQ
promises that the person decides after it opens. So once the campaign is open (its ``opens`` passed, or staff
wrote ``status: open``: :mod:`core.campaigns.schedule` decides, at the moment it is asked), each of them gets one
mail, in the language they registered in, with a signed link that brings them to the agreements with their
earlier answers, and the campaign's fee as it is then shown before anything is signed.

Who notices the opening: :class:`InvitationSweep`, which the worker runs when it starts and every few minutes
(:data:`core.jobs.queue.SWEEP_EVERY`), and ``flask jobs --sweep`` at once. The clock opens a campaign without any
file changing, so no publisher event could be relied on; a sweep also survives restarts (what was not claimed is
claimed by the next one). Each pre-registration is claimed by one statement (``interested`` -> ``invited``) in
the transaction that queues its :data:`INVITATION_JOB`, so two workers (or a worker and ``flask jobs --sweep``)
noticing the opening at the same time queue one invitation per person: the second finds the row already claimed.

The job composes the mail to the contact copy of the address (:mod:`core.data.contacts`). Its Message-ID is
derived from the sign-up, so a job run twice (a worker that died after queueing the mail) sends a copy mail
programs show once. Invitations are not counted against the per-address mail limits of :mod:`core.ratelimits`:
those keep strangers from flooding an address with codes on request, while this mail goes out once per person,
asked by nobody; a person who asks for a code on the join form afterwards is limited as anyone is.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.campaigns.schedule import Schedule, moment_words
from core.data import personal_data
from core.data.contacts import contact_address
from core.data.db import db_session, utcnow
from core.data.hashing import keyed_hash
from core.data.models import Signup, SignupEvent, Stage
from core.jobs.mail import MAIL_JOB, template_mail_payload
from core.jobs.queue import enqueue
from core.money.fees import cost_summary
from core.signup.links import INVITATION_LINK_DAYS, invitation_link_token
from core.site import site

log = logging.getLogger(__name__)

INVITATION_JOB = "signup-invitation"
INVITATION_MAIL = "invitation"
BATCH = 200


def inviting(loaded: LoadedCampaign, now: dt.datetime) -> bool:
    """Does ``loaded`` invite its pre-registrations at ``now``: it takes sign-ups and is open (no longer taking
    pre-registrations, not closed)."""
    return loaded.campaign.signup is not None and Schedule.of(loaded.campaign).status_at(now) == "open"


def _waiting(slug: str) -> Any:
    return (
        (Signup.campaign == slug)
        & (Signup.stage == Stage.INTERESTED.value)
        & Signup.withdrawn_at.is_(None)
        & Signup.erased_at.is_(None)
    )


def queue_invitations(session: Session, loaded: LoadedCampaign, now: dt.datetime) -> int:
    """Claim every waiting pre-registration of ``loaded`` (open at ``now``) and queue its invitation, a batch per
    transaction (commits). Safe in several processes at once: a row another claimed first is skipped. Returns how
    many this call queued."""
    if not inviting(loaded, now):
        return 0
    queued = 0
    after = 0
    while True:
        rows = session.execute(
            select(Signup.id, Signup.token)
            .where(_waiting(loaded.slug), Signup.id > after)
            .order_by(Signup.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return queued
        for signup_id, token in rows:
            claimed = session.execute(
                update(Signup)
                .where(Signup.id == signup_id, Signup.stage == Stage.INTERESTED.value)
                .values(stage=Stage.INVITED.value)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                session.add(SignupEvent(signup_id=signup_id, step="invited", at=now))
                enqueue(session, INVITATION_JOB, {"signup": token}, campaign=loaded.slug)
                queued += 1
        session.commit()
        after = rows[-1][0]


class InvitationSweep:
    """Pre-registrations of campaigns that are open now, not invited yet: claims them and queues the invitations
    (the worker runs it; ``flask jobs`` lists what it would do)."""

    title = "pre-registration(s) of an opened campaign waiting for their invitation"
    columns = ("CAMPAIGN", "REFERENCE", "PRE-REGISTERED AT (UTC)")

    def stuck(self, session: Session) -> list[tuple[str, ...]]:
        now = utcnow()
        rows: list[tuple[str, ...]] = []
        for loaded in _inviting_campaigns(now):
            for token, created_at in session.execute(
                select(Signup.token, Signup.created_at).where(_waiting(loaded.slug)).order_by(Signup.id)
            ):
                rows.append((loaded.slug, token[:12], created_at.strftime("%Y-%m-%d %H:%M:%S")))
        return rows

    def finish(self, session: Session, now: dt.datetime) -> int:
        """Queue the invitations of every open campaign's waiting pre-registrations; commits; returns how many."""
        queued = 0
        for loaded in _inviting_campaigns(now):
            count = queue_invitations(session, loaded, now)
            if count:
                log.info("%s opened: %d invitation(s) queued", loaded.slug, count)
            queued += count
        return queued


def _inviting_campaigns(now: dt.datetime) -> list[LoadedCampaign]:
    return [loaded for loaded in site().registry.snapshot.campaigns.values() if inviting(loaded, now)]


def send_invitation(app: Flask, payload: dict[str, Any]) -> None:
    """The :data:`INVITATION_JOB`: queue the invitation mail of one pre-registration, unless it went on or was
    erased or withdrawn meanwhile."""
    db = db_session()
    signup = db.scalar(select(Signup).where(Signup.token == payload["signup"]))
    if signup is None or signup.stage != Stage.INVITED or signup.erased_at or signup.withdrawn_at:
        return
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if loaded is None:
        raise RuntimeError(f"campaign {signup.campaign} is not loaded")
    address = contact_address(db, signup)  # the copy kept when it was verified
    if not address:
        log.warning("pre-registration %s has no contact address: no invitation sent", signup.token[:12])
        return
    language = signup.language
    with force_locale(language):
        costs = cost_summary(loaded, language)
    answers = personal_data.load(db, signup)
    message = template_mail_payload(
        language=language,
        to=address,
        template=INVITATION_MAIL,
        context={
            "name": answers.get("name", ""),
            "invitation_url": campaign_url(
                loaded,
                "signup.invitation",
                language=language,
                token=invitation_link_token(loaded.slug, signup.token),
            ),
            "days_valid": INVITATION_LINK_DAYS,
            "costs": costs,
            "closes": moment_words(loaded.campaign.closes, loaded.campaign.timezone, language),
        },
        kind="invitation",
    )
    # The same Message-ID each time this job runs for this sign-up: a copy sent twice shows once.
    message["message_id"] = keyed_hash(site().hash_key, "invitation-message", signup.token)[:32]
    enqueue(db, MAIL_JOB, message, campaign=loaded.slug)
    db.commit()
