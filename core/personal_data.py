"""The one module that reads and writes personal data (``PersonalRecord``).

Today the fields are stored as JSON; this is the place where they will be sealed to the foundation's public key,
so no other module may touch ``PersonalRecord`` columns or decode them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from .db import Dependent
from .models import PersonalRecord, Signup


def _encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def _decode(blob: bytes | None) -> dict[str, Any] | None:
    return None if blob is None else json.loads(blob.decode())


def _record(session: Session, signup: Signup) -> PersonalRecord | None:
    return session.get(PersonalRecord, signup.id)


def new_record(data: dict[str, Any]) -> Dependent:
    """The answers of a first sign-up, as a row written with the new sign-up (:func:`core.db.commit_new`)."""
    return Dependent(PersonalRecord.__table__, {"data": _encode(data)}, parent_column="signup_id")


def store_pending(session: Session, signup: Signup, data: dict[str, Any]) -> None:
    """Answers sent again for a known address: kept apart until that address is verified, so nobody can change
    another person's data by typing their e-mail address."""
    record = _record(session, signup)
    if record is None:
        session.add(PersonalRecord(signup_id=signup.id, data=_encode(data)))
    else:
        record.pending = _encode(data)


def apply_pending(session: Session, signup: Signup) -> None:
    """After verification: the latest answers replace the earlier ones (before signing only)."""
    record = _record(session, signup)
    if record is not None and record.pending is not None:
        record.data, record.pending = record.pending, None


def drop_pending(session: Session, signup: Signup) -> None:
    record = _record(session, signup)
    if record is not None:
        record.pending = None


def load(session: Session, signup: Signup) -> dict[str, Any]:
    record = _record(session, signup)
    return (_decode(record.data) or {}) if record else {}


def store_signature(session: Session, signup: Signup, png: bytes | None) -> None:
    record = _record(session, signup)
    assert record is not None
    record.signature_png = png


def store_typed_signature(session: Session, signup: Signup, name: str) -> None:
    """A signature typed as a name (the fallback for people who cannot draw one)."""
    data = load(session, signup)
    data["signature_typed"] = name
    record = _record(session, signup)
    assert record is not None
    record.data = _encode(data)


def load_pending(session: Session, signup: Signup) -> dict[str, Any] | None:
    record = _record(session, signup)
    return _decode(record.pending) if record else None


def load_signature(session: Session, signup: Signup) -> bytes | None:
    record = _record(session, signup)
    return record.signature_png if record else None


def store_mandate(session: Session, signup: Signup, pdf: bytes) -> None:
    record = _record(session, signup)
    assert record is not None
    record.mandate_pdf = pdf


def load_mandate(session: Session, signup: Signup) -> bytes | None:
    record = _record(session, signup)
    return record.mandate_pdf if record else None


def erase(session: Session, signup: Signup) -> None:
    """Remove every piece of ``signup``'s personal data: answers, a pending form, the signature, the mandate PDF."""
    record = _record(session, signup)
    if record is not None:
        session.delete(record)


def addresses(session: Session, signup: Signup) -> set[str]:
    """The e-mail addresses ``signup``'s data holds (the confirmed one and one typed again, waiting for its code)."""
    found = {load(session, signup).get("email"), (load_pending(session, signup) or {}).get("email")}
    return {address for address in found if address}
