"""Deciding on a participant's copy of an ID document: accepted, or rejected with a reason that is mailed to them.

- **One decision counts**: :func:`core.data.identity_proofs.review` changes the proof only while it still waits,
  in one statement; a second reviewer (or one whose copy was replaced meanwhile) gets :attr:`Outcome.NOT_WAITING`
  and nothing is mailed.
- **The reason is kept as the participant reads it**, in the language they signed in: the mail quotes it, and so
  does their page (``identity/_state.html``: "We could not accept your ID copy: <reason> Please upload a new
  copy."). A common reason (:data:`REASONS`) is worded from the UI catalogs in that language and the campaign's form
  of address (:func:`rejection`); a reason the staff member writes is kept as written, so the console asks for it
  in the participant's language, or in plain words.
- **The rejection mail** goes to the contact copy of the address (:mod:`core.data.contacts`), in the participant's
  language, with the reason and the way to their page (``/my``), where they upload a new copy. It names no token
  or key: only the reference printed on the mandate. Without a contact copy (withdrawn, erased, or signed before
  copies were kept) nothing is mailed and the caller is told. An acceptance mails nothing.

The caller commits: the decision, its mail and the caller's audit entry go in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data import identity_proofs
from core.data.contacts import contact_address
from core.data.models import IdentityProof, Signup
from core.i18n import AddressForm, addressing
from core.jobs.mail import queue_template_mail

MAIL_TEMPLATE = "identity_rejected"  # mail/identity_rejected.{subject.txt,txt,html}
MAIL_KIND = "identity-rejected"
MAX_REASON = 500  # identity_proofs.reason is String(500)
OTHER = "other"  # the staff member writes the reason
# The common reasons, by code, as the (English-only) console names them ...
REASONS = {
    "unreadable": "Unreadable",
    "not-an-id-document": "Not an ID document",
    "name-mismatch": "The name does not match",
}
# ... and as the participant reads them, after "We could not accept your ID copy:" (a sentence's end).
_WORDED = {
    "unreadable": _l("we cannot read it: the image is blurred, too dark, or part of the document is cut off."),
    "not-an-id-document": _l("it is not a copy of a passport, an identity card or a driving licence."),
    "name-mismatch": _l("the name on the document is not the name you signed the mandate with."),
}
_SENTENCE_END = (".", "!", "?", "…")


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED_MAILED = "rejected-mailed"
    REJECTED_NOT_MAILED = "rejected-not-mailed"  # no contact copy: the participant cannot be told by mail
    NOT_WAITING = "not-waiting"  # decided by someone else just now, replaced or erased: nothing was changed


class ReasonError(ValueError):
    """A rejection without a usable reason; the message says what to give."""


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str = ""  # a rejection's reason, as the participant reads it


ACCEPT = Decision(accepted=True)


def rejection(choice: str, text: str, language: str, form: AddressForm) -> Decision:
    """The rejection chosen in a form: one of :data:`REASONS` (worded in ``language`` and ``form``: needs the
    app context of an app with the UI catalogs, the campaign app), or :data:`OTHER` with ``text``, 1 to
    :data:`MAX_REASON` characters. Raises :class:`ReasonError` with what to give instead."""
    if choice in _WORDED:
        with force_locale(language), addressing(form):
            return Decision(False, str(_WORDED[choice]))
    if choice != OTHER:
        raise ReasonError("Choose why the copy cannot be accepted.")
    return Decision(False, written_reason(text))


def written_reason(text: str) -> str:
    """A reason a staff member wrote for the participant, as they will read it (on their page and in a mail, after
    a colon): its spaces made single, ended as a sentence. Raises :class:`ReasonError` when it is empty or longer
    than :data:`MAX_REASON`."""
    written = " ".join(text.split())
    if not written:
        raise ReasonError("Write the reason for the participant under 'Another reason', or choose a common one.")
    if len(written) > MAX_REASON:
        raise ReasonError(f"The reason is {len(written)} characters long: shorten it to at most {MAX_REASON}.")
    if not written.endswith(_SENTENCE_END) and len(written) < MAX_REASON:
        written += "."  # it ends a sentence on the participant's page and in the mail
    return written


def decide(
    session: Session,
    loaded: LoadedCampaign,
    proof: IdentityProof,
    signup: Signup,
    decision: Decision,
    staff_id: int | None,
    now: dt.datetime,
) -> Outcome:
    """Record ``decision`` on ``proof`` (of ``signup``, a sign-up of ``loaded``) and, for a rejection, queue its
    mail; the caller commits."""
    if not decision.accepted and not decision.reason:
        raise ReasonError("A rejection needs a reason.")
    if not identity_proofs.review(session, proof, decision.accepted, staff_id, now, decision.reason):
        return Outcome.NOT_WAITING
    if decision.accepted:
        return Outcome.ACCEPTED
    mailed = queue_reason_mail(session, loaded, signup, decision.reason)
    return Outcome.REJECTED_MAILED if mailed else Outcome.REJECTED_NOT_MAILED


def queue_reason_mail(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    reason: str,
    template: str = MAIL_TEMPLATE,
    kind: str = MAIL_KIND,
) -> bool:
    """Queue a mail that tells ``signup`` a decision and its ``reason`` (by default: its ID copy was rejected), to
    the contact copy of the address, in the language they signed in; False when there is no contact copy to send it
    to. The context holds the reason and the reference only: the queue keeps it."""
    address = contact_address(session, signup)
    if address is None:
        return False
    queue_template_mail(
        session,
        loaded=loaded,
        language=signup.language,
        to=address,
        template=template,
        # The link to /my is made when the worker composes the mail, by the campaign app (campaign_url in the
        # template): the console's own app has no campaign pages to link to.
        context={"reason": reason, "reference": signup.token[:12]},
        kind=kind,
    )
    return True
