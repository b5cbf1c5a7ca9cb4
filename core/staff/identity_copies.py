"""The console's page of a campaign's ID copies: those waiting for a decision, the counts of the others, and one
copy opened with the foundation's private key.

Only campaigns whose data request asks for an ID copy have the page (:func:`asks_identity`), and only accounts
with :attr:`core.staff.roles.Permission.IDENTITY_DOCUMENTS` open it (checked by :mod:`core.staff.views`). Listing
opens nothing: the list shows the sign-up's reference, when the copy arrived and its size. The image is opened
only on request, with the key file sent along (as exports take it: in memory, for that request), and shown inline
as a ``data:`` URL on a page that is not cached, so it is never a file of its own on the server or in the browser's
cache; every opening is in the audit log (the views record it).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data import personal_data
from core.data.models import IdentityProof, PersonalRecord, ProofState, Signup
from core.data_requests.settings import data_request_of
from core.sealing import OpeningKeys, SealingError

SHOWN_WAITING = 200  # the oldest ones: more than a day's work for anyone


def asks_identity(loaded: LoadedCampaign) -> bool:
    """Does the campaign's data request ask its participants for a copy of an ID document?"""
    settings = data_request_of(loaded)
    return settings is not None and settings.identity_proof


@dataclass(frozen=True)
class Waiting:
    """A copy waiting for a decision, as the list shows it (nothing of the person)."""

    proof_id: int
    reference: str  # the sign-up's reference: the first 12 characters of its token, as everywhere in the console
    received_at: dt.datetime
    size: int


@dataclass(frozen=True)
class Counts:
    waiting: int = 0
    accepted: int = 0
    rejected: int = 0
    erased: int = 0


def waiting(session: Session, campaign: str, limit: int = SHOWN_WAITING) -> list[Waiting]:
    """The copies of ``campaign`` waiting for a decision, oldest first."""
    rows = session.execute(
        select(IdentityProof.id, Signup.token, IdentityProof.received_at, IdentityProof.size)
        .join(Signup, Signup.id == IdentityProof.signup_id)
        .where(Signup.campaign == campaign, IdentityProof.state == ProofState.RECEIVED)
        .order_by(IdentityProof.received_at, IdentityProof.id)
        .limit(limit)
    ).all()
    return [Waiting(proof_id, token[:12], received_at, size) for proof_id, token, received_at, size in rows]


def counts(session: Session, campaign: str) -> Counts:
    """How many copies of ``campaign`` are in each state (a replaced copy counts as erased: its image is gone)."""
    rows = session.execute(
        select(IdentityProof.state, func.count())
        .join(Signup, Signup.id == IdentityProof.signup_id)
        .where(Signup.campaign == campaign)
        .group_by(IdentityProof.state)
    ).all()
    by_state = {state: int(n) for state, n in rows}
    return Counts(
        waiting=by_state.get(ProofState.RECEIVED, 0),
        accepted=by_state.get(ProofState.ACCEPTED, 0),
        rejected=by_state.get(ProofState.REJECTED, 0),
        erased=by_state.get(ProofState.ERASED, 0),
    )


def proof_of(session: Session, campaign: str, proof_id: int) -> tuple[IdentityProof, Signup] | None:
    """Copy ``proof_id`` with its sign-up, if it belongs to ``campaign`` (else None, as if it did not exist)."""
    row = session.execute(
        select(IdentityProof, Signup)
        .join(Signup, Signup.id == IdentityProof.signup_id)
        .where(IdentityProof.id == proof_id, Signup.campaign == campaign)
    ).first()
    return None if row is None else (row[0], row[1])


def data_url(image: bytes, media_type: str) -> str:
    """The image inline (the console's Content Security Policy allows ``data:`` images, and nothing is cached)."""
    return f"data:{media_type};base64,{base64.b64encode(image).decode('ascii')}"


def signed_name(session: Session, signup: Signup, keys: OpeningKeys) -> str | None:
    """The name the participant signed up with, from their sealed answers opened with ``keys`` (beside the image, so
    that the reviewer can tell whether the document is theirs); None when there is none, or it cannot be opened."""
    record = session.get(PersonalRecord, signup.id)
    if record is None:
        return None
    try:
        name = personal_data.open_record(record, keys).answers.get("name")
    except SealingError:
        return None
    return str(name) if name else None
