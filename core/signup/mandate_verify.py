"""Checking a sealed mandate PDF: the seal, its timestamp and certificate chain, that nothing changed after sealing,
and that the evidence it carries is what the database recorded (``flask mandate verify FILE``).

Each check gives one line a person can read; :class:`MandateCheck` is ``ok`` only when every check passed. Nothing
here fetches anything: certificates are trusted when they chain to the seal's own CAs (the settings) or to a file
given with ``--trust``; revocation is not checked online.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.data.models import Signup
from core.signup.evidence_record import evidence_record
from core.signup.mandate import EVIDENCE_ATTACHMENT
from core.signup.mandate_seal import FIELD_NAME, outside_any_event_loop


@dataclass
class MandateCheck:
    """The findings about one file: ``passed`` and ``failed`` lines, and the sign-up it names (if found)."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reference: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.passed)


def embedded_evidence(root: Any) -> dict[str, Any] | None:
    """The evidence record attached as evidence.json to the PDF of ``root`` (its document catalog, as pyHanko's
    reader gives it), or None when it carries none (or it is not JSON)."""
    try:
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    except (KeyError, TypeError, ValueError):
        return None
    for index in range(0, len(names) - 1, 2):
        if str(names[index]) == EVIDENCE_ATTACHMENT:
            stream = names[index + 1]["/EF"]["/F"]
            try:
                return json.loads(stream.data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return None
    return None


def verify_mandate(
    pdf: bytes, trust_roots: Iterable[Path], session: Session | None, moment: dt.datetime | None = None
) -> MandateCheck:
    """Check ``pdf`` (see the module docstring); with a ``session``, also against the database."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    check = MandateCheck()
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # a file that is not a PDF, or too damaged to read
        check.failed.append(f"not a readable PDF: {type(exc).__name__}: {exc}")
        return check
    seals = [s for s in signatures if s.field_name == FIELD_NAME]
    if len(seals) != 1 or len(signatures) != 1:
        check.failed.append(f"expected one seal named {FIELD_NAME}; found {[s.field_name for s in signatures]}")
        return check
    context = ValidationContext(
        trust_roots=[load_cert_from_pemder(str(path)) for path in trust_roots],
        allow_fetching=False,
        revocation_mode="soft-fail",
        **({"moment": moment} if moment else {}),
    )
    try:
        status = outside_any_event_loop(validate_pdf_signature, seals[0], context)
    except SignatureValidationError as exc:
        check.failed.append(f"the seal cannot be validated: {exc}")
        return check
    certificate = status.signing_cert
    who = certificate.subject.human_friendly
    if status.intact and status.valid:
        check.passed.append(f"the seal is intact: the sealed content is unchanged (sealed by {who})")
    else:
        check.failed.append("the seal does not match the content: the file was changed after it was sealed")
    if status.coverage.name == "ENTIRE_FILE" and not status.modification_level:
        check.passed.append("nothing was added after sealing")
    elif status.coverage.name != "ENTIRE_FILE":
        check.failed.append("something was added to the file after it was sealed")
    if status.trusted:
        check.passed.append(f"the seal's certificate chains to a trusted CA ({certificate.issuer.human_friendly})")
    else:
        until = certificate.not_valid_after
        expired = until < (moment or dt.datetime.now(dt.UTC))
        reason = f"it expired on {until:%Y-%m-%d}" if expired else "its issuer is not trusted (give --trust CA.pem)"
        check.failed.append(f"the seal's certificate is not valid: {reason}")
    timestamp = status.timestamp_validity
    if timestamp is None:
        check.passed.append(
            f"sealed at {status.signer_reported_dt:%Y-%m-%d %H:%M:%S %Z} by the server's clock (no timestamp)"
        )
    elif timestamp.intact and timestamp.valid and timestamp.trusted:
        check.passed.append(f"timestamped at {timestamp.timestamp:%Y-%m-%d %H:%M:%S %Z} by a trusted authority")
    else:
        check.failed.append("the seal's timestamp is not valid or its authority is not trusted")
    evidence = embedded_evidence(reader.root)
    if evidence is None:
        check.failed.append(f"the file carries no readable {EVIDENCE_ATTACHMENT}")
        return check
    check.reference = str(evidence.get("reference") or "")
    if session is not None:
        _against_the_database(pdf, evidence, session, check)
    return check


def _against_the_database(pdf: bytes, evidence: Mapping[str, Any], session: Session, check: MandateCheck) -> None:
    reference, campaign = str(evidence.get("reference") or ""), str(evidence.get("campaign") or "")
    candidates = session.scalars(
        select(Signup).where(Signup.campaign == campaign, Signup.token.startswith(reference, autoescape=True))
    ).all()
    if len(reference) < 12 or len(candidates) != 1:
        check.failed.append(f"no sign-up {reference!r} of {campaign!r} in the database")
        return
    signup = candidates[0]
    digest = hashlib.sha256(pdf).hexdigest()
    if signup.mandate_sha256 == digest:
        check.passed.append(f"the database recorded this very file for {campaign} {reference} (SHA-256 {digest[:16]}…)")
    else:
        check.failed.append(f"the database recorded another file for {campaign} {reference}: SHA-256 differs")
    recorded = evidence_record(signup)
    different = sorted(key for key in set(recorded) | set(evidence) if recorded.get(key) != evidence.get(key))
    if not different:
        check.passed.append("the evidence in the file equals the evidence in the database")
    elif signup.erased_at is not None and set(different) <= {"steps"}:
        check.passed.append(
            f"the evidence in the file matches the database, except the steps' details erased on "
            f"{signup.erased_at:%Y-%m-%d} at the participant's request"
        )
    else:
        check.failed.append(f"the evidence in the file differs from the database in: {', '.join(different)}")
