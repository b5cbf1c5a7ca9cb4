"""The copies of ID documents participants of a data request upload: the one module that reads or writes
``identity_proofs``.

- **Sealed on arrival** to the foundation's key, like all personal data (:class:`core.sealing.SealingKey`): the web
  server writes the image and can never read it back. Staff open it with the private key file
  (:func:`open_image`), as exports do; the console records every view in the audit log.
- **One at a time**: a new upload (after a rejection, or to replace a copy not yet reviewed) erases the image of
  the earlier one, which keeps only its state and dates, as the participant's page shows them.
- **Erased** (:func:`erase`) when the round that needed it has been answered, after the campaign's
  ``proof_kept_days`` at the latest (:func:`expired`), and at withdrawal or erasure of the sign-up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.data.models import IdentityProof, ProofState, Signup
from core.sealing import OpeningKeys, SealingKey
from core.site import site

REPLACED = "replaced"  # a newer upload took its place
KEPT_DAYS = "kept-days"  # kept as long as the campaign allows
WITHDRAWN = "withdrawn"  # the mandate was withdrawn or the sign-up erased
ANSWERED = "round-answered"  # every request it was needed for has been answered


def store(session: Session, signup: Signup, image: bytes, media_type: str, now: dt.datetime) -> IdentityProof:
    """Keep a cleaned image (:func:`core.data_requests.id_images.clean_id_image`) as ``signup``'s proof, sealed;
    an earlier one's image is erased."""
    erase_all(session, signup, REPLACED, now)
    proof = IdentityProof(
        signup_id=signup.id,
        state=ProofState.RECEIVED,
        sealed_image=site().sealing_key.seal(image),
        media_type=media_type,
        size=len(image),
        received_at=now,
    )
    session.add(proof)
    return proof


def latest(session: Session, signup: Signup) -> IdentityProof | None:
    """``signup``'s newest proof (whatever its state), or None: none was uploaded."""
    return session.scalars(
        select(IdentityProof).where(IdentityProof.signup_id == signup.id).order_by(IdentityProof.id.desc()).limit(1)
    ).first()


def history(session: Session, signup: Signup) -> Sequence[IdentityProof]:
    return session.scalars(
        select(IdentityProof).where(IdentityProof.signup_id == signup.id).order_by(IdentityProof.id)
    ).all()


def open_image(proof: IdentityProof, keys: OpeningKeys) -> bytes | None:
    """The image, opened with the foundation's private key(s); None once erased."""
    return None if proof.sealed_image is None else keys.open(proof.sealed_image)


def review(
    session: Session, proof: IdentityProof, accepted: bool, staff_id: int | None, now: dt.datetime, reason: str = ""
) -> bool:
    """Mark a received proof accepted, or rejected with ``reason``; False when it is no longer waiting (reviewed by
    someone else just now, replaced or erased): counted in one statement, so two reviewers never both decide."""
    done = session.execute(
        update(IdentityProof)
        .where(IdentityProof.id == proof.id, IdentityProof.state == ProofState.RECEIVED)
        .values(
            state=ProofState.ACCEPTED if accepted else ProofState.REJECTED,
            reviewed_at=now,
            reviewed_by=staff_id,
            reason=None if accepted else reason,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(proof)
    return bool(done.rowcount)


def erase(session: Session, proof: IdentityProof, reason: str, now: dt.datetime) -> None:
    """Remove the image of ``proof``; a decision on it stays (an accepted proof stays accepted for the round, a
    rejected one keeps its reason), one never reviewed becomes erased."""
    if proof.sealed_image is None:
        return
    proof.sealed_image = None
    proof.erased_at = now
    proof.erase_reason = reason
    if proof.state == ProofState.RECEIVED:  # never reviewed; a decision stays what it was
        proof.state = ProofState.ERASED


def erase_all(session: Session, signup: Signup, reason: str, now: dt.datetime) -> None:
    for proof in history(session, signup):
        erase(session, proof, reason, now)


def reseal_batches(session: Session, keys: OpeningKeys, to: SealingKey, batch: int = 200) -> Iterator[tuple[int, int]]:
    """Seal every kept image again to ``to`` (key rotation, after the personal records), ``batch`` at a time, each
    batch committed: yields (sealed again, sealed to ``to`` already) per batch."""
    last = 0
    while True:
        proofs = session.scalars(
            select(IdentityProof)
            .where(IdentityProof.id > last, IdentityProof.sealed_image.is_not(None))
            .order_by(IdentityProof.id)
            .limit(batch)
        ).all()
        if not proofs:
            return
        last = proofs[-1].id
        resealed = already = 0
        for proof in proofs:
            assert proof.sealed_image is not None
            if keys.sealed_to(proof.sealed_image) == to.id:
                already += 1
                continue
            proof.sealed_image = to.seal(keys.open(proof.sealed_image))
            resealed += 1
        session.commit()
        session.expunge_all()
        yield resealed, already


def erase_expired(session: Session, kept_days: Mapping[str, int], now: dt.datetime, dry_run: bool = False) -> int:
    """Erase the images kept as long as their campaign allows (``kept_days`` by campaign slug, from its
    ``data_request`` settings); a campaign not named keeps its proofs (its file is broken: nothing is guessed).
    Returns how many (would be) erased; commits."""
    erased = 0
    for campaign, days in sorted(kept_days.items()):
        for proof in expired(session, campaign, days, now):
            erased += 1
            if not dry_run:
                erase(session, proof, KEPT_DAYS, now)
    if not dry_run:
        session.commit()
    return erased


def expired(session: Session, campaign: str, kept_days: int, now: dt.datetime) -> Sequence[IdentityProof]:
    """The proofs of ``campaign`` whose image was kept ``kept_days`` since it arrived."""
    return session.scalars(
        select(IdentityProof)
        .join(Signup, Signup.id == IdentityProof.signup_id)
        .where(
            Signup.campaign == campaign,
            IdentityProof.sealed_image.is_not(None),
            IdentityProof.received_at <= now - dt.timedelta(days=kept_days),
        )
    ).all()
