"""Leaving a campaign, from the participant's page: withdrawing the mandate (GDPR Art. 7(3)) and erasure (Art. 17).

Each function changes the caller's session; the view commits.

**Withdrawing** ends the mandate from that moment on. The sign-up stops counting (counter, exports, settlement:
:func:`core.data.models.participant`), mail still queued for it (a payment reminder, the confirmation) is cancelled, and
the ``withdrawn`` event records when and from where. What was signed stays as it was: a withdrawal does not undo
what was done under the mandate before it, and the foundation must be able to show both. What it means for the fee
comes from the campaign's fee model (:meth:`core.money.fees.FeeModel.on_withdrawal`): a one-time payment within the
refund period is refunded (:mod:`core.signup.refunds`). A confirmation mail says all this, sent to the contact copy
of the address (:mod:`core.data.contacts`), which is then removed: nothing more is mailed about this sign-up. The
files recorded in the participant's vault for this sign-up (a company's answers, and any other file deposited for
it) are removed from the vault store and the vault (:func:`core.data.vault_files.remove_of_signup`): the
confirmation page says so before, with how many, so that they can save them first. The vault and the files of the
address's other sign-ups stay.

**Erasure** removes the personal data and keeps the least that shows a mandate existed and how it ended.

Removed:

- the personal record: the answers, a later form waiting for its code, the signature, the mandate PDF;
- the contact copy of the address (:mod:`core.data.contacts`);
- the keyed hash of the e-mail address, replaced by a random value: the sign-up can no longer be linked to the
  address (not even by us, with the hash key), and the address can join afresh;
- the verification code, and the hashed IP addresses and browsers of every evidence event;
- the evidence events that concern only the address (forms sent, codes sent, wrong codes);
- mail and other jobs still queued for the sign-up or its address (cancelled), and the payloads of failed ones;
- the files that came into the vault for the sign-up, and, with the address's last sign-up, the whole vault: its
  key, every file in it (from the vault store too) and the notices of their removal.

Kept, for a signed sign-up only, because they are needed to establish, exercise or defend legal claims (Art.
17(3)(b) and (e)): that the foundation acted under a mandate until it was withdrawn, and what fee was agreed and
paid:

- the campaign, the random reference (printed on the mandate), the stage and the date of each step;
- the agreements' ids, versions and the SHA-256 of the exact texts signed, and the SHA-256 of the mandate PDF (a
  copy the participant kept can still be matched against it);
- the fee terms signed and the payment attempts (amounts, dates, the provider's reference): bookkeeping, which
  Dutch tax law asks to keep for seven years (AWR art. 52);
- the evidence events of verifying, agreeing, signing, the mandate, paying, withdrawing and erasing, with their
  times and non-personal details;
- ``erased_at`` and ``erasure_reason``: when, and why (``participant-request``: the participant asked on their page).

A sign-up that was never signed holds nothing that must be kept: it is deleted whole, as retention deletes one
(:func:`core.data.retention.delete_signups`).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import secrets
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from flask_babel import force_locale
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.campaigns.addresses import campaign_url
from core.data import identity_proofs, personal_data, vault_files, vault_keys, vault_retention
from core.data.contacts import contact_address, forget_contact
from core.data.db import set_once
from core.data.hashing import email_hash
from core.data.models import Job, JobStatus, LoginLink, Signup, SignupEvent, Stage
from core.data.retention import delete_signups
from core.i18n import addressing, long_date
from core.jobs.mail import queue_template_mail
from core.jobs.queue import EMPTY_PAYLOAD, cancel, decode_payload
from core.money.fees import WithdrawalFee, fee_model_for, own_model, terms_of
from core.money.fees import fee_on_withdrawal as default_fee_on_withdrawal
from core.signup.flow import Visit, record
from core.signup.refunds import paid_payment, queue_refund
from core.site import site

PARTICIPANT_REQUEST = "participant-request"
# The evidence an erased sign-up keeps (see the module docstring); payment events are "payment-<state>".
KEPT_STEPS = ("verified", "fee-chosen", "agreed", "signed", "mandate-made", "withdrawn", "erased")
ERASED_HASH_PREFIX = "erased-"
# Jobs that only make sense while the mandate runs.
ENDED_BY_WITHDRAWAL = ("payment-reminder", "confirmation")


def can_withdraw(signup: Signup) -> bool:
    return signup.stage == Stage.SIGNED and signup.withdrawn_at is None and signup.erased_at is None


def withdraw(
    session: Session, signup: Signup, visit: Visit, detail: str | None = None, *, confirm_by_mail: bool = True
) -> Withdrawn | None:
    """Withdraw ``signup``'s mandate; None when it was not signed or was withdrawn already (e.g. a second click).
    ``confirm_by_mail``: mail the confirmation to the contact copy (not for an erasure, which removes the copy)."""
    if not can_withdraw(signup) or not set_once(session, Signup.withdrawn_at, signup.id, visit.now):
        return None
    signup.withdrawn_at = visit.now
    record(session, signup, "withdrawn", visit, detail=detail)
    # Without its mandate yet, the mandate job still needs the working copy, and releases it after. Read from the
    # row after our own write (a mandate made meanwhile is then seen here, or this withdrawal there).
    if session.scalar(select(Signup.mandate_sha256).where(Signup.id == signup.id)):
        personal_data.release(session, signup)
    cancel(session, [job.id for job in _jobs_of(session, signup, set()) if job.kind in ENDED_BY_WITHDRAWAL])
    fee = fee_on_withdrawal(signup, visit.now, signup.language)
    payment = paid_payment(session, signup) if fee.refund else None
    if payment is not None:
        queue_refund(session, payment, visit.now)
    files = vault_files.count_of_signup(session, signup.id)
    mailed = confirm_by_mail and _queue_confirmation(session, signup, fee, files, visit.now)
    forget_contact(session, signup)
    identity_proofs.erase_all(session, signup, identity_proofs.WITHDRAWN, visit.now)  # no request will need it
    # Last, so that nothing above can fail after the stored files are gone (they go before their rows: see remove).
    vault_files.remove_of_signup(session, site().vault_store, signup.id)
    return Withdrawn(fee, mailed, files)


@dataclass(frozen=True)
class Withdrawn:
    """A withdrawal made: what it means for the fee, whether its confirmation was mailed, and how many files came
    out of the vault with it."""

    fee: WithdrawalFee
    mailed: bool
    files_removed: int = 0


def fee_on_withdrawal(signup: Signup, now: dt.datetime, language: str) -> WithdrawalFee:
    """What withdrawing ``signup`` at ``now`` means for its fee, in ``language``: from the fee model that made the
    terms signed, or the neutral rules of :mod:`core.money.fees` (terms of another model, or none)."""
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    terms = terms_of(signup)
    model = own_model(fee_model_for(loaded), terms) if loaded is not None and terms is not None else None
    # In the campaign's own form of address, wherever it is asked from (the page of /my may be another campaign's).
    form = loaded.campaign.address_form if loaded is not None else "je"
    with force_locale(language), addressing(form):
        if model is not None and terms is not None:
            return model.on_withdrawal(terms, signup.paid_at, now, language)
        return default_fee_on_withdrawal(terms, signup.paid_at, now, language)


def _queue_confirmation(
    session: Session, signup: Signup, fee: WithdrawalFee, files_removed: int, now: dt.datetime
) -> bool:
    """Queue the withdrawal's confirmation mail, in the language of the agreements signed; False when there is no
    contact copy to send it to (signed before contact copies were kept) or the campaign is not loaded."""
    address = contact_address(session, signup)
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if address is None or loaded is None:
        return False
    with force_locale(signup.language):
        withdrawn_on = long_date(now.date(), signup.language)
    queue_template_mail(
        session,
        loaded=loaded,
        language=signup.language,
        to=address,
        template="withdrawal",
        context={
            "withdrawn_on": withdrawn_on,
            "reference": signup.token[:12],
            "fee_lines": fee.lines,
            "files_removed": files_removed,
            "page_url": campaign_url(loaded, "participant.page", language=signup.language),
        },
        kind="withdrawal",
    )
    return True


class WithdrawnCopySweep:
    """Releases the working copy of withdrawn sign-ups that still hold one (run by the worker and ``flask jobs
    --sweep``; listed by ``flask jobs``)."""

    title = "withdrawn sign-up(s) whose working copy of the personal data is still kept"
    columns = ("CAMPAIGN", "REFERENCE", "WITHDRAWN AT (UTC)")

    def stuck(self, session: Session) -> list[tuple[str, ...]]:
        rows = session.execute(
            select(Signup.campaign, Signup.token, Signup.withdrawn_at)
            .where(personal_data.kept_after_withdrawal())
            .order_by(Signup.id)
        ).all()
        return [(campaign, token[:12], at.strftime("%Y-%m-%d %H:%M:%S")) for campaign, token, at in rows]

    def finish(self, session: Session, now: dt.datetime) -> int:
        signups = session.scalars(select(Signup).where(personal_data.kept_after_withdrawal())).all()
        for signup in signups:
            personal_data.release(session, signup)
        session.commit()
        return len(signups)


def erase(session: Session, signup: Signup, visit: Visit, reason: str = PARTICIPANT_REQUEST) -> Withdrawn | None:
    """Erase ``signup``'s personal data and keep what the module docstring lists (for a signed sign-up; anything
    else is deleted whole). A signed sign-up still running is withdrawn first (that withdrawal is returned)."""
    withdrawn = None
    cancel(session, [job.id for job in _jobs_of(session, signup, personal_data.addresses(session, signup))])
    hashed = signup.email_hash
    if signup.stage != Stage.SIGNED:
        vault_files.remove_of_signup(session, site().vault_store, signup.id)  # before the row that links them goes
        session.expunge(signup)
        delete_signups(session, [signup.id])
    else:
        # No hashed IP or browser is kept: this evidence is recorded without them.
        anonymous = Visit(visit.now, None, None)
        withdrawn = withdraw(session, signup, anonymous, detail="erasure", confirm_by_mail=False)
        personal_data.erase(session, signup)
        forget_contact(session, signup)
        identity_proofs.erase_all(session, signup, identity_proofs.WITHDRAWN, visit.now)
        session.flush()
        session.execute(
            delete(SignupEvent)
            .where(
                SignupEvent.signup_id == signup.id,
                SignupEvent.step.not_in(KEPT_STEPS),
                SignupEvent.step.not_like("payment-%"),
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(SignupEvent)
            .where(SignupEvent.signup_id == signup.id)
            .values(ip_hash=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
        session.expire(signup, ["events"])
        signup.email_hash = ERASED_HASH_PREFIX + secrets.token_hex(28)
        signup.code_hash = signup.code_expires_at = signup.code_sent_at = None
        signup.erased_at, signup.erasure_reason = visit.now, reason
        record(session, signup, "erased", anonymous, detail=reason)
        # Its withdrawal removed them, unless it was withdrawn before withdrawals did.
        vault_files.remove_of_signup(session, site().vault_store, signup.id)
    session.flush()
    if session.scalar(select(Signup.id).where(Signup.email_hash == hashed).limit(1)) is None:
        # The address has no sign-up left: its login links (which name it by the same hash) go too, and its vault
        # with the files in it (from the vault store too) and the notices of their removal.
        session.execute(delete(LoginLink).where(LoginLink.email_hash == hashed))
        vault_files.remove_all(session, site().vault_store, hashed)
        vault_keys.forget(session, hashed)
        vault_retention.forget(session, hashed)
    return withdrawn


def _jobs_of(session: Session, signup: Signup, addresses: set[str]) -> list[Job]:
    """Pending or failed jobs of ``signup``'s campaign that name it (by its token) or mail its address, or one of
    ``addresses``. Payloads are locked (:func:`core.jobs.queue.encode_payload`), so each candidate is opened; a campaign
    has few jobs waiting at any time."""
    candidates = session.scalars(
        select(Job).where(
            Job.campaign == signup.campaign,
            Job.payload != EMPTY_PAYLOAD,
            Job.status.in_((JobStatus.PENDING, JobStatus.FAILED)),
        )
    )
    hash_key = site().hash_key
    hashes = {signup.email_hash, *(email_hash(hash_key, address) for address in addresses)}
    return [job for job in candidates if _names(decode_payload(job.payload), signup.token, hash_key, hashes)]


def _names(payload: dict[str, Any], token: str, hash_key: str, hashes: set[str]) -> bool:
    if payload.get("signup") == token:
        return True
    if "message" in payload:  # a composed mail
        recipient = str(email.message_from_string(payload["message"], policy=email.policy.default)["To"] or "")
    else:
        recipient = str(payload.get("to") or "")
    return bool(recipient) and email_hash(hash_key, parseaddr(recipient)[1] or recipient) in hashes
