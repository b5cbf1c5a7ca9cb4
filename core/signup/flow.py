"""The steps of joining, as database changes. Each function changes the caller's session; the view commits, so a
step and the mail or job it needs are saved together or not at all.

started --(code or link)--> verified --(agreements + signature)--> signed
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import personal_data
from ..campaigns import LoadedCampaign
from ..hashing import email_hash
from ..jobs import enqueue
from ..mail import queue_template_mail
from ..models import AcceptedAgreement, Signup, SignupEvent, Stage
from ..ratelimits import RateLimits
from ..tenancy import campaign_url
from .agreements import AgreementText
from .codes import CODE_VALID, CodeCheck, check_code, issue_code, link_token, seconds_until_resend, spend_code


@dataclass(frozen=True)
class Visit:
    """Who is acting, as evidence: when, from which hashed IP, with which browser."""

    now: dt.datetime
    ip_hash: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Keys:
    secret_key: str
    hash_key: str


class Sending(Enum):
    SENT = "sent"
    WAIT = "wait"  # a code was sent less than a minute ago
    LIMITED = "limited"  # too many codes for this address today


def record(session: Session, signup: Signup, step: str, visit: Visit, detail: str | None = None) -> None:
    session.add(SignupEvent(signup_id=signup.id, step=step, at=visit.now, ip_hash=visit.ip_hash,
                            user_agent=(visit.user_agent or "")[:400] or None, detail=detail))


def find(session: Session, campaign: str, token: str | None) -> Signup | None:
    if not token:
        return None
    return session.scalar(select(Signup).where(Signup.campaign == campaign, Signup.token == token))


def _new_or_known(session: Session, campaign: str, hashed: str, language: str, visit: Visit) -> tuple[Signup, bool]:
    """The sign-up of this address for this campaign, creating it; safe when two requests race."""
    existing = session.scalar(select(Signup).where(Signup.campaign == campaign, Signup.email_hash == hashed))
    if existing is not None:
        return existing, False
    signup = Signup(token=secrets.token_urlsafe(32), campaign=campaign, email_hash=hashed, language=language,
                    stage=Stage.STARTED, created_at=visit.now)
    try:
        with session.begin_nested():
            session.add(signup)
            session.flush()
    except IntegrityError:  # the same address, submitted twice at once: use the other request's row
        return session.scalars(select(Signup).where(Signup.campaign == campaign,
                                                    Signup.email_hash == hashed)).one(), False
    return signup, True


def start(session: Session, loaded: LoadedCampaign, language: str, answers: dict[str, str], keys: Keys,
          limits: RateLimits, visit: Visit) -> tuple[Signup, Sending]:
    """A sent form: the sign-up of this address (new or known), and maybe a code by mail.

    A known address gets exactly the same treatment as a new one, so the page reveals nothing; its earlier data
    stays until the new answers are confirmed by the code.
    """
    hashed = email_hash(keys.hash_key, answers["email"])
    signup, created = _new_or_known(session, loaded.slug, hashed, language, visit)
    if created:
        personal_data.store_new(session, signup, answers)
        record(session, signup, "form", visit)
    else:
        personal_data.store_pending(session, signup, answers)
        record(session, signup, "form-again", visit)
    signup.language = language
    # A sent form always gets a fresh code (within the daily limit per address): waiting here would tell a
    # stranger that this address asked for a code a moment ago. The one-minute wait is for the resend button.
    return signup, send_code(session, loaded, signup, answers, keys, limits, visit, wait=False)


def send_code(session: Session, loaded: LoadedCampaign, signup: Signup, answers: dict[str, str], keys: Keys,
              limits: RateLimits, visit: Visit, wait: bool = True) -> Sending:
    """Mail a new code (and link), unless (``wait``) one went out less than a minute ago, or the daily limit of
    codes for this address is reached."""
    if wait and seconds_until_resend(signup, visit.now) > 0:
        return Sending.WAIT
    if not limits.hit("code-mail-address", signup.email_hash):
        return Sending.LIMITED
    code = issue_code(keys.hash_key, signup, visit.now)
    verify_url = campaign_url(loaded, "signup.verify_link", language=signup.language,
                              token=link_token(keys.secret_key, signup))
    # The worker composes and sends it; the code rests in the job until then (the job is emptied once sent).
    queue_template_mail(session, loaded=loaded, language=signup.language, to=answers["email"], template="verification",
                        context={"code": code, "verify_url": verify_url, "name": answers.get("name", ""),
                                 "minutes_valid": int(CODE_VALID.total_seconds() // 60)}, kind="verification")
    record(session, signup, "code-sent", visit)
    return Sending.SENT


def resend(session: Session, loaded: LoadedCampaign, signup: Signup, keys: Keys, limits: RateLimits,
           visit: Visit) -> Sending:
    answers = personal_data.load(session, signup)
    pending = personal_data.load_pending(session, signup)
    return send_code(session, loaded, signup, pending or answers, keys, limits, visit)


def verify(session: Session, signup: Signup, result: CodeCheck, visit: Visit, how: str) -> None:
    """A correct code or link: the address is the visitor's; their latest answers count (before signing)."""
    assert result is CodeCheck.OK
    spend_code(signup)
    if signup.stage == Stage.STARTED:
        signup.stage = Stage.VERIFIED
        signup.verified_at = visit.now
    if signup.stage == Stage.VERIFIED:
        personal_data.apply_pending(session, signup)
    else:  # already signed: the signed data is evidence and stays as it was
        personal_data.drop_pending(session, signup)
    record(session, signup, "verified", visit, detail=how)


def try_code(session: Session, signup: Signup, code: str, keys: Keys, visit: Visit) -> CodeCheck:
    result = check_code(keys.hash_key, signup, code, visit.now)
    if result is CodeCheck.OK:
        verify(session, signup, result, visit, how="code")
    else:
        record(session, signup, "code-rejected", visit, detail=result.value)
    return result


def sign(session: Session, loaded: LoadedCampaign, signup: Signup, texts: list[AgreementText],
         signature_png: bytes | None, typed_name: str | None, visit: Visit) -> None:
    """Agreements accepted and signed: a participant. The mandate PDF and the confirmation mail follow in a job."""
    assert signup.stage == Stage.VERIFIED
    for text in texts:
        session.add(AcceptedAgreement(signup_id=signup.id, agreement=text.agreement.id,
                                      version=text.agreement.version, language=text.language,
                                      text_sha256=text.sha256, accepted_at=visit.now))
        record(session, signup, "agreed", visit, detail=f"{text.agreement.id}@{text.agreement.version} "
                                                        f"sha256:{text.sha256[:16]}")
    personal_data.store_signature(session, signup, signature_png)
    if typed_name is not None:
        personal_data.store_typed_signature(session, signup, typed_name)
    signup.signature_kind = "drawn" if signature_png else "typed"
    signup.stage = Stage.SIGNED
    signup.signed_at = visit.now
    record(session, signup, "signed", visit, detail=signup.signature_kind)
    enqueue(session, "mandate", {"signup": signup.token}, campaign=loaded.slug)
