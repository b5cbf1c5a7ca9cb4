"""The evidence record of a signed sign-up: what the database holds about how it was signed, as one JSON-ready
dict. The mandate PDF embeds it (``evidence.json``), so the file alone carries its evidence, and a verification
builds it again from the database to compare.

It holds what the signing needed and nothing more personal than the database itself holds: the campaign, the
reference, the language, the agreements accepted (id, version, language, SHA-256 of the exact text, when), the fee
terms signed, the kind of signature, and every step up to and including the signature with its time, hashed IP
address and browser. Steps after signing (payment, the mandate itself) are left out: the record is fixed at the
moment of signing, so the PDF made from it is the same whenever the worker makes it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from core.data.models import Signup

FORMAT = "claimsite-evidence/1"


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def evidence_record(signup: Signup) -> dict[str, Any]:
    """``signup``'s evidence record (it must be signed)."""
    signed = [event for event in signup.events if event.step == "signed"]
    if not signed:
        raise ValueError(f"sign-up {signup.token[:12]} is not signed")
    last = max(event.id for event in signed)
    return {
        "format": FORMAT,
        "campaign": signup.campaign,
        "reference": signup.token[:12],
        "language": signup.language,
        "signed_at": _time(signup.signed_at),
        "signature": signup.signature_kind,
        "fee": {
            "model": signup.fee_model,
            "option": signup.fee_option,
            "terms": json.loads(signup.fee_terms) if signup.fee_terms else None,
        },
        "agreements": [
            {
                "id": accepted.agreement,
                "version": accepted.version,
                "language": accepted.language,
                "sha256": accepted.text_sha256,
                "accepted_at": _time(accepted.accepted_at),
            }
            for accepted in sorted(signup.agreements, key=lambda a: (a.agreement, a.version, a.language))
        ],
        "steps": [
            {
                "step": event.step,
                "at": _time(event.at),
                "ip_hash": event.ip_hash,
                "browser": event.user_agent,
                "detail": event.detail,
            }
            for event in sorted(signup.events, key=lambda e: e.id)
            if event.id <= last
        ],
    }
