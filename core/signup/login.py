"""Login links to the participant's page: mailed to an address that signed up, signed with itsdangerous, valid 30
minutes, usable once.

Asking for a link reveals nothing: the request only queues a ``participant-login`` job with the typed address,
whether or not that address is known, so every answer (and its timing) is the same. The worker then looks the
address up by its keyed hash (site-wide: one link shows the sign-ups of every campaign) and mails a link only when
it signed up somewhere. Each link carries a random nonce saved in ``login_links``; using it sets ``used_at`` in one
statement, so it works once, even when opened twice at the same moment.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flask import Flask
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.data.db import db_session, set_once, utcnow
from core.data.hashing import email_hash, signing_serializer
from core.data.models import LoginLink, Signup
from core.jobs.mail import compose, queue_mail
from core.jobs.queue import current_job, enqueue
from core.signup.flow import move_earlier_signups
from core.site import site

LOGIN_LINK_VALID = dt.timedelta(minutes=30)
LOGIN_JOB = "participant-login"


class LoginCheck(Enum):
    OK = "ok"
    EXPIRED = "expired"
    USED = "used"
    INVALID = "invalid"  # tampered with, made for another campaign, or never mailed


def _serializer(secret_key: str, campaign: str) -> URLSafeTimedSerializer:
    return signing_serializer(secret_key, f"participant-login:{campaign}")


def queue_login_mail(session: Session, loaded: LoadedCampaign, address: str, language: str) -> None:
    """Queue the look-up of ``address`` (and its login link, if it signed up); the same work for every address."""
    enqueue(session, LOGIN_JOB, {"to": address, "language": language}, campaign=loaded.slug)


def send_login_link(app: Flask, payload: dict[str, Any]) -> None:
    """The ``participant-login`` job: a new link, mailed in the language of the page it was asked on, when the
    address signed up for any campaign; nothing otherwise."""
    db = db_session()
    move_earlier_signups(db, site().hash_key, payload["to"])  # joined in an earlier form of an IDN address
    hashed = email_hash(site().hash_key, payload["to"])
    if db.scalar(select(Signup.id).where(Signup.email_hash == hashed).limit(1)) is None:
        return
    job = current_job()
    loaded = site().registry.snapshot.campaigns.get(job.campaign if job else None)  # type: ignore[arg-type]
    if loaded is None:
        raise RuntimeError("the campaign of this login link is not loaded")
    nonce = secrets.token_urlsafe(32)
    db.add(LoginLink(nonce=nonce, campaign=loaded.slug, email_hash=hashed, created_at=utcnow()))
    language = payload["language"]
    token = _serializer(app.secret_key, loaded.slug).dumps(nonce)  # type: ignore[arg-type]
    url = campaign_url(loaded, "participant.login", language=language, token=token)
    message = compose(
        loaded=loaded,
        language=language,
        to=payload["to"],
        template="login_link",
        context={"login_url": url, "minutes_valid": int(LOGIN_LINK_VALID.total_seconds() // 60)},
    )
    queue_mail(db, message, campaign=loaded.slug, kind="login-link")
    db.commit()


def _read(secret_key: str, campaign: str, token: str) -> str:
    """The nonce of a login link; raises BadData (a link mailed before revision 0020a, whose token also carried a
    key, is not read: it was valid for 30 minutes anyway)."""
    value = _serializer(secret_key, campaign).loads(token, max_age=int(LOGIN_LINK_VALID.total_seconds()))
    if not isinstance(value, str):
        raise BadData("not a login link")
    return value


def check_login_link(
    session: Session, secret_key: str, campaign: str, token: str, now: dt.datetime
) -> tuple[LoginCheck, LoginLink | None]:
    """What a login link of ``campaign`` is worth now, without using it up."""
    try:
        nonce = _read(secret_key, campaign, token)
    except SignatureExpired:
        return LoginCheck.EXPIRED, None
    except BadData:
        return LoginCheck.INVALID, None
    link = session.scalar(select(LoginLink).where(LoginLink.nonce == nonce, LoginLink.campaign == campaign))
    if link is None:
        return LoginCheck.INVALID, None
    if link.used_at is not None:
        return LoginCheck.USED, link
    if now > link.created_at + LOGIN_LINK_VALID:
        return LoginCheck.EXPIRED, link
    return LoginCheck.OK, link


@dataclass(frozen=True)
class Login:
    """What a used login link proves: the address, by its keyed hash. (It proves nothing more, and carries no key:
    nothing the participant's page shows needs one.)"""

    email_hash: str


def use_login_link(
    session: Session, secret_key: str, campaign: str, token: str, now: dt.datetime
) -> tuple[LoginCheck, Login | None]:
    """Use a login link up: (OK, the login) once; after that USED."""
    result, link = check_login_link(session, secret_key, campaign, token, now)
    if result is not LoginCheck.OK or link is None:
        return result, None
    if not set_once(session, LoginLink.used_at, link.id, now):  # opened elsewhere at the same moment
        return LoginCheck.USED, None
    return LoginCheck.OK, Login(link.email_hash)
