"""A data breach check carried into a sign-up: when the number on the join form is one this browser proved by SMS
code on the check page (:mod:`core.web.views.breach_check`), the sign-up's evidence records that check as a step
(``breach-check``): which leaks were searched (dataset and the import's version), which kinds of data the number's
record holds, and when the number was proved, keyed by the number's keyed hash, never the number.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from core.breach.check import DatasetAnswer
from core.data.hashing import phone_hash
from core.data.models import PhoneVerification, Signup
from core.signup.flow import Visit, record
from core.site import site

STEP = "breach-check"


def carried_check(verification: PhoneVerification | None, answers: dict[str, str]) -> bool:
    """Is the form's phone number (E.164, as the form's validation leaves it) the one ``verification`` proved?"""
    number = answers.get("phone") or ""
    return (
        verification is not None
        and verification.verified_at is not None
        and bool(number)
        and phone_hash(site().hash_key, number) == verification.number_digest
    )


def record_check(
    session: Session, signup: Signup, verification: PhoneVerification, answers: list[DatasetAnswer], visit: Visit
) -> None:
    """Add the check as a step of ``signup`` (in ``session``'s transaction)."""
    assert verification.verified_at is not None
    detail = {
        "number": verification.number_digest,
        "verified_at": verification.verified_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datasets": [
            {
                "id": answer.dataset.id,
                "index_version": answer.index_version,
                "found": answer.found,
                "categories": [category.key for category in answer.categories],
            }
            for answer in answers
            if answer.available
        ],
    }
    record(session, signup, STEP, visit, json.dumps(detail, separators=(",", ":"), sort_keys=True))
