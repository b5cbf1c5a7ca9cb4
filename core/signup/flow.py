"""The steps of joining, as database changes. Each function changes the caller's session; the view commits, so a
step and the mail or job it needs are saved together or not at all (a new sign-up in :func:`start` is committed
there, in one statement with its mail, whether the address is new or known).

started --(code or link)--> verified --(agreements + signature)--> signed

While the campaign takes pre-registrations (core.campaigns.schedule), a proven address stops at ``interested``
instead (:func:`register_interest`: nothing is read or signed); once the campaign opens, the invitation
(:mod:`core.signup.invitations`) or a new code brings it back to ``verified`` (:func:`continue_after_opening`):

started --(code or link, pre-registration)--> interested --(campaign opens)--> invited --(link or code)--> verified
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.data import personal_data
from core.data.contacts import keep_contact
from core.data.db import Added, Dependent, Excluded, IfNew, OnConflict, commit_upsert, row_values
from core.data.hashing import earlier_email_hashes, email_hash, keyed_hash
from core.data.models import AcceptedAgreement, Signup, SignupEvent, Stage
from core.jobs.mail import MAIL_JOB, queue_template_mail, template_mail_payload
from core.jobs.queue import enqueue, new_job
from core.money.fees import FeeModel
from core.ratelimits import RateLimits
from core.signup.agreements import AgreementText, recorded_campaign_values
from core.signup.codes import (
    CODE_VALID,
    CodeCheck,
    check_code,
    issue_code,
    link_token,
    read_link_token,
    seconds_until_resend,
    spend_code,
)
from core.signup.mandate_job import MANDATE_JOB
from core.signup.payment_reminder import REMIND_AFTER_SIGNING, queue_payment_reminder
from core.signup.signed_texts import record_signed


@dataclass(frozen=True)
class Visit:
    """Who is acting, as evidence: when, from which hashed IP, with which browser; and, for rate limits only, the
    hashed network of that IP (:func:`core.data.hashing.network_hash`)."""

    now: dt.datetime
    ip_hash: str | None
    user_agent: str | None
    network: str | None = None


@dataclass(frozen=True)
class Keys:
    secret_key: str
    hash_key: str


class Sending(Enum):
    SENT = "sent"
    WAIT = "wait"  # a code was sent less than a minute ago
    LIMITED = "limited"  # too many codes for this address (from this network today, or from anywhere just now)


def _event_values(step: str | IfNew, visit: Visit, detail: str | None) -> dict[str, Any]:
    return {
        "step": step,
        "at": visit.now,
        "ip_hash": visit.ip_hash,
        "user_agent": (visit.user_agent or "")[:400] or None,
        "detail": detail,
    }


def record(session: Session, signup: Signup, step: str, visit: Visit, detail: str | None = None) -> None:
    """Add the evidence of one step of ``signup`` (saved with the caller's next flush)."""
    session.add(SignupEvent(signup_id=signup.id, **_event_values(step, visit, detail)))


def _step_rows(steps: list[str | IfNew], visit: Visit) -> list[Dependent]:
    """:func:`record` for several steps of a sign-up, as rows written with it (:func:`core.data.db.commit_upsert`)."""
    # Every row alike (a step that is the same either way is IfNew too), so PostgreSQL writes them in one INSERT,
    # in the order given.
    return [
        Dependent(
            SignupEvent.__table__,
            _event_values(step if isinstance(step, IfNew) else IfNew(step, step), visit, None),
            parent_column="signup_id",
        )
        for step in steps
    ]


PRE_REGISTERED = frozenset({Stage.INTERESTED, Stage.INVITED})
PRE_REGISTRATION_MAIL = "pre_registered"


def register_interest(session: Session, loaded: LoadedCampaign, signup: Signup, visit: Visit, opens: str) -> None:
    """A pre-registration whose address is proven: its interest is noted (``interested``), nothing is signed, and
    the mail that says so is queued (``opens``: the opening day in the sign-up's language, or "" when unknown).
    The answers stay in the working copy, so that the person can sign with them once invited."""
    assert signup.stage == Stage.VERIFIED
    signup.stage = Stage.INTERESTED
    record(session, signup, "pre-registered", visit)
    answers = personal_data.load(session, signup)
    queue_template_mail(
        session,
        loaded=loaded,
        language=signup.language,
        to=answers["email"],
        template=PRE_REGISTRATION_MAIL,
        context={"name": answers.get("name", ""), "opens": opens},
        kind="pre-registration",
    )


def continue_after_opening(session: Session, signup: Signup, visit: Visit, how: str) -> None:
    """A pre-registration whose campaign opened, proven again (``how``: the invitation link, a code, or the browser
    that proved it before): it goes on to the agreements as any verified sign-up. Nothing is signed here."""
    assert signup.stage in PRE_REGISTERED
    signup.stage = Stage.VERIFIED
    record(session, signup, "continued-after-opening", visit, detail=how)


def after_proof(
    session: Session, loaded: LoadedCampaign, signup: Signup, pre_registration: bool, visit: Visit, how: str, opens: str
) -> None:
    """Where a sign-up goes once this browser has proven its address, by what the campaign is now: during
    pre-registration a verified one is noted as interested; after opening an interested or invited one goes on
    to sign."""
    if pre_registration and signup.stage == Stage.VERIFIED:
        register_interest(session, loaded, signup, visit, opens)
    elif not pre_registration and signup.stage in PRE_REGISTERED:
        continue_after_opening(session, signup, visit, how)


def find(session: Session, campaign: str, token: str | None) -> Signup | None:
    if not token:
        return None
    return session.scalar(select(Signup).where(Signup.campaign == campaign, Signup.token == token))


def move_earlier_signups(session: Session, hash_key: str, address: str, campaign: str | None = None) -> None:
    """Give sign-ups made before IDNA domains under an earlier form of ``address`` (``anna@xn--bcher-kva.de`` for
    ``anna@bücher.de``: :func:`core.data.hashing.earlier_forms`) the hash of today, in ``campaign`` or all, so the
    address finds them again (only its hash is stored, so no migration can do this: it happens when the address is
    typed). Where the address signed up afresh meanwhile, the earlier sign-up keeps its hash. Changes
    ``session``; the caller commits."""
    earlier = earlier_email_hashes(hash_key, address)
    if not earlier:
        return
    current = email_hash(hash_key, address)
    taken = select(Signup.campaign).where(Signup.email_hash == current).scalar_subquery()
    moved = (
        update(Signup)
        .where(Signup.email_hash.in_(earlier), Signup.campaign.not_in(taken))
        .values(email_hash=current)
        .execution_options(synchronize_session=False)
    )
    if campaign is not None:
        moved = moved.where(Signup.campaign == campaign)
    try:
        with session.begin_nested():
            session.execute(moved)
    except IntegrityError:  # the same address signed up afresh at this moment: both stay as they are
        pass


@dataclass(frozen=True)
class Started:
    """What a sent form leaves the browser with: the sign-up's token, and whether a code went out."""

    token: str
    sending: Sending


def browser_hash(keys: Keys, browser: str) -> str:
    """The keyed hash of a browser's random id (kept in its session), as stored with answers it sent."""
    return keyed_hash(keys.hash_key, "browser", browser)


# What a form for a known address changes in its sign-up: the language, and the new code (when one is sent).
_KNOWN_ADDRESS = {"language": Excluded("language")}
_NEW_CODE = {
    "code_hash": Excluded("code_hash"),
    "code_expires_at": Excluded("code_expires_at"),
    "code_sent_at": Excluded("code_sent_at"),
    "code_attempts": Excluded("code_attempts"),
    "codes_sent": Added(),
}


def start(
    session: Session,
    loaded: LoadedCampaign,
    language: str,
    answers: dict[str, str],
    keys: Keys,
    limits: RateLimits,
    visit: Visit,
    browser: str,
) -> Started:
    """A sent form from ``browser`` (its random id): the sign-up of this address (new or known), and maybe a code
    by mail. Committed here (``session`` must have no transaction open).

    A known address gets exactly the same treatment as a new one, so neither the page nor the time it takes
    reveals anything: the same statement is sent (core.data.db.commit_upsert), writing the same rows and queueing the
    same mail; only the database sees whether the address was there. Its earlier data stays until the new
    answers are confirmed by the code, in this browser. A sent form always gets a fresh code (within the limits
    per address): waiting here would tell a stranger that this address asked for a code a moment ago. The
    one-minute wait is for the resend button.
    """
    hashed = email_hash(keys.hash_key, answers["email"])
    if earlier_email_hashes(keys.hash_key, answers["email"]):  # an IDN address: maybe joined in an earlier form
        move_earlier_signups(session, keys.hash_key, answers["email"], loaded.slug)
        session.commit()
    # The busiest write of the site: the sign-up (or the known one's new code), its answers, its evidence and its
    # mail in one statement on PostgreSQL (bench/README.md). The Signup object is only a value holder here; it
    # never joins the session. The code is keyed by the campaign and address, and the link names the address's
    # hash, so both are made before the statement tells whether the address is new.
    signup = Signup(
        token=secrets.token_urlsafe(32),
        campaign=loaded.slug,
        email_hash=hashed,
        language=language,
        stage=Stage.STARTED,
        created_at=visit.now,
        code_attempts=0,
        codes_sent=0,
    )
    code = issue_code(keys.hash_key, signup, visit.now) if limits.hit_mail("code-mail", hashed, visit.network) else None
    steps: list[str | IfNew] = [IfNew("form", "form-again"), *(["code-sent"] if code else [])]
    rows = [personal_data.form_record(answers, browser_hash(keys, browser)), *_step_rows(steps, visit)]
    if code is not None:
        rows.append(new_job(MAIL_JOB, _code_mail(loaded, signup, answers, code, keys), campaign=loaded.slug))
    update = OnConflict(("campaign", "email_hash"), {**_KNOWN_ADDRESS, **(_NEW_CODE if code else {})})
    _id, token = commit_upsert(
        session, Signup.__table__, row_values(signup), ("campaign", "email_hash"), update, "token", rows
    )
    return Started(token, Sending.SENT if code else Sending.LIMITED)


def correct_address(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    typed: dict[str, str],
    address: str,
    language: str,
    keys: Keys,
    limits: RateLimits,
    visit: Visit,
    browser: str,
) -> Started:
    """The verify page's correction of a mistyped address: ``typed`` (the answers this browser sent for ``signup``,
    :func:`core.data.personal_data.typed_answers`) go out again as a new form with ``address`` instead, so nothing
    else has to be typed again, and the new address gets a code under the same limits as any form (:func:`start`).

    The code mailed to the mistyped address is spent first, and committed before the new form is: its code and its
    link verify nothing from then on, even if the new form then fails (the visitor can send the correction again;
    their answers are still there). Once the new form is saved, nothing of the visitor's stays at the mistyped
    address: the answers they left waiting there (when it had a sign-up already) are dropped, and a sign-up that
    holds their answers alone, never verified, is deleted whole, as retention would delete it later."""
    spend_code(signup)
    record(session, signup, "address-corrected", visit)
    session.commit()
    started = start(session, loaded, language, {**typed, "email": address}, keys, limits, visit, browser)
    if started.token != signup.token:  # a correction to the same address keeps its sign-up, of course
        digest = personal_data.answers_digest(typed)
        personal_data.drop_typed_pending(session, signup, digest)
        if signup.stage == Stage.STARTED and personal_data.only_typed(session, signup, digest):
            # Only while still unverified and with nobody's answers waiting (a form for that address sent meanwhile).
            session.execute(
                delete(Signup)
                .where(Signup.id == signup.id, Signup.stage == Stage.STARTED, ~personal_data.answers_waiting(Signup.id))
                .execution_options(synchronize_session=False)
            )
        session.commit()
    return started


def send_code(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    answers: dict[str, str],
    keys: Keys,
    limits: RateLimits,
    visit: Visit,
    wait: bool = True,
    counted: bool = False,
    detail: str | None = None,
) -> Sending:
    """Mail a new code (and link), unless (``wait``) one went out less than a minute ago, or the limits of codes
    for this address are reached (``counted``: this attempt was already counted against them). ``detail`` goes
    into the evidence of the sending (e.g. that staff asked for it)."""
    if wait and seconds_until_resend(signup, visit.now) > 0:
        return Sending.WAIT
    if not counted and not limits.hit_mail("code-mail", signup.email_hash, visit.network):
        return Sending.LIMITED
    code = issue_code(keys.hash_key, signup, visit.now)
    queue_code_mail(session, loaded, signup, answers, code, keys)
    record(session, signup, "code-sent", visit, detail)
    return Sending.SENT


def queue_code_mail(
    session: Session, loaded: LoadedCampaign, signup: Signup, answers: dict[str, str], code: str, keys: Keys
) -> None:
    """Queue the mail with ``code`` and its one-click link. The worker composes and sends it; the code rests in the
    job until then (the job is emptied once sent)."""
    enqueue(session, MAIL_JOB, _code_mail(loaded, signup, answers, code, keys), campaign=loaded.slug)


def _code_mail(
    loaded: LoadedCampaign, signup: Signup, answers: dict[str, str], code: str, keys: Keys
) -> dict[str, Any]:
    verify_url = campaign_url(
        loaded, "signup.verify_link", language=signup.language, token=link_token(keys.secret_key, signup)
    )
    return template_mail_payload(
        language=signup.language,
        to=answers["email"],
        template="verification",
        context={
            "code": code,
            "verify_url": verify_url,
            "name": answers.get("name", ""),
            "minutes_valid": int(CODE_VALID.total_seconds() // 60),
        },
        kind="verification",
    )


def resend(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    keys: Keys,
    limits: RateLimits,
    visit: Visit,
    *,
    wait: bool = True,
    counted: bool = False,
    detail: str | None = None,
) -> Sending:
    """A new code to the address of the answers waiting for it (the options as :func:`send_code`'s)."""
    answers = personal_data.load(session, signup)
    pending = personal_data.load_pending(session, signup)
    return send_code(session, loaded, signup, pending or answers, keys, limits, visit, wait, counted, detail)


def verify(
    session: Session, signup: Signup, result: CodeCheck, visit: Visit, how: str, browser: str, keys: Keys
) -> str | None:
    """A correct code or link, in ``browser``: the address is the visitor's. Answers sent again for it count only
    if this browser sent them, before signing; otherwise they are dropped, and the evidence says why. Returns
    ``"applied"``, ``"other-browser"``, ``"signed"`` (dropped: the signed data is evidence and stays as it was)
    or None (no answers were waiting)."""
    assert result is CodeCheck.OK
    spend_code(signup)
    if signup.stage == Stage.STARTED:
        signup.stage = Stage.VERIFIED
        signup.verified_at = visit.now
    record(session, signup, "verified", visit, detail=how)
    _keep_verified_address(session, signup)
    sender = personal_data.pending_sender(session, signup)
    if sender is None:
        return None
    if signup.stage == Stage.SIGNED:
        outcome = "signed"
    elif hmac.compare_digest(sender, browser_hash(keys, browser)):
        personal_data.apply_pending(session, signup)
        record(session, signup, "form-again-applied", visit)
        return "applied"
    else:
        outcome = "other-browser"
    personal_data.drop_pending(session, signup)
    record(session, signup, "form-again-dropped", visit, detail=outcome)
    return outcome


def _keep_verified_address(session: Session, signup: Signup) -> None:
    """The contact copy of the address just verified (:mod:`core.data.contacts`), for mail after the flow: the
    address of the answers the code was sent for (a form sent again waits for it, as in :func:`resend`)."""
    answers = personal_data.load_pending(session, signup) or personal_data.load(session, signup)
    if answers and answers.get("email"):
        keep_contact(session, signup, answers["email"])


def try_code(
    session: Session, signup: Signup, code: str, keys: Keys, visit: Visit, browser: str
) -> tuple[CodeCheck, str | None]:
    """Check a typed code; when right, :func:`verify` (its outcome for answers sent again is returned too)."""
    result = check_code(session, keys.hash_key, signup, code, visit.now)
    if result is CodeCheck.OK:
        return result, verify(session, signup, result, visit, "code", browser, keys)
    record(session, signup, "code-rejected", visit, detail=result.value)
    return result, None


def find_by_link(session: Session, campaign: str, token: str, keys: Keys) -> tuple[Signup | None, str]:
    """The sign-up a verification link of ``campaign`` names, and the fingerprint of the code it was sent with;
    (None, "") for a link that is tampered with, for another campaign, or older than a code lives."""
    found = read_link_token(keys.secret_key, campaign, token)
    if found is None:
        return None, ""
    signup = session.scalar(select(Signup).where(Signup.campaign == campaign, Signup.email_hash == found[0]))
    return signup, found[1]


def link_is_current(signup: Signup, fingerprint: str, now: dt.datetime) -> bool:
    """The link's code is still the sign-up's current code, unspent and unexpired (nothing is changed)."""
    return bool(
        signup.code_hash
        and fingerprint
        and hmac.compare_digest(signup.code_hash[:16], fingerprint)
        and signup.code_expires_at
        and now <= signup.code_expires_at
    )


def verify_by_link(
    session: Session, signup: Signup, fingerprint: str, visit: Visit, browser: str, keys: Keys
) -> tuple[bool, str | None]:
    """The button of a verification link, pressed in ``browser``: (True, outcome of :func:`verify`) when the link's
    code was current and this call spent it, in one statement, so that two presses at once verify once; else
    (False, None)."""
    if not link_is_current(signup, fingerprint, visit.now):
        return False, None
    spent = session.execute(
        update(Signup)
        .where(Signup.id == signup.id, Signup.code_hash == signup.code_hash, Signup.code_expires_at >= visit.now)
        .values(code_hash=None, code_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not spent:  # pressed elsewhere (or twice) at the same moment
        return False, None
    return True, verify(session, signup, CodeCheck.OK, visit, "link", browser, keys)


def document_language(texts: list[AgreementText], fallback: str) -> str:
    """The language of what someone signs: that of the agreement texts they were shown (the most of them, where one
    lacked a translation). The mandate, its mails and every later mail to the participant use it, so a visitor who
    switched language on the way gets one language per document, not a Dutch frame around English agreements."""
    if not texts:
        return fallback
    return Counter(text.language for text in texts).most_common(1)[0][0]


def sign(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    texts: list[AgreementText],
    signature_png: bytes | None,
    typed_name: str | None,
    visit: Visit,
    fee_model: FeeModel | None = None,
    fee_option: str | None = None,
) -> None:
    """Agreements accepted and signed: a participant (once paid, where the fee model asks a payment first). The
    fee terms for ``fee_option`` are saved as signed. The mandate PDF and the confirmation mail follow in jobs."""
    assert signup.stage == Stage.VERIFIED
    signup.language = document_language(texts, signup.language)
    if fee_model is not None:
        terms = fee_model.terms(fee_option)
        signup.fee_model, signup.fee_option, signup.fee_terms = fee_model.name, fee_option, terms.to_json()
        signup.payment_required = fee_model.payment_due(terms, signup.language) is not None
        record(session, signup, "fee-chosen", visit, detail=f"{fee_model.name} {fee_option or '-'}")
        if signup.payment_required:
            queue_payment_reminder(session, signup, visit.now, delay=REMIND_AFTER_SIGNING)
    record_signed(session, loaded.slug, texts)
    for text in texts:
        session.add(
            AcceptedAgreement(
                signup_id=signup.id,
                agreement=text.agreement.id,
                version=text.agreement.version,
                language=text.language,
                text_sha256=text.sha256,
                placeholders=recorded_campaign_values(text),
                accepted_at=visit.now,
            )
        )
        record(
            session,
            signup,
            "agreed",
            visit,
            detail=f"{text.agreement.id}@{text.agreement.version} sha256:{text.sha256[:16]}",
        )
    if texts:  # every text is filled in with the same name: it is kept once, sealed
        personal_data.store_placeholders(session, signup, texts[0].participant_values)
    personal_data.store_signature(session, signup, signature_png)
    if typed_name is not None:
        personal_data.store_typed_signature(session, signup, typed_name)
    signup.signature_kind = "drawn" if signature_png else "typed"
    signup.stage = Stage.SIGNED
    signup.signed_at = visit.now
    record(session, signup, "signed", visit, detail=signup.signature_kind)
    enqueue(session, MANDATE_JOB, {"signup": signup.token}, campaign=loaded.slug)
