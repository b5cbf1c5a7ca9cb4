"""The ``mandate`` job: after signing, make the mandate PDF and keep it (sealed for the foundation, and encrypted for
the participant: :mod:`core.signup.mandate_copy`) and its SHA-256.

Runs in the worker, off the request path; the PDF, its hash, the evidence event and (once the sign-up counts,
see :mod:`core.signup.confirmation`) the confirmation job are saved in one transaction, and a second run (after a
crash) does nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from core.data import personal_data, vault_keys
from core.data.db import db_session, utcnow
from core.data.hashing import sha256_hex
from core.data.models import Signup, SignupEvent, Stage
from core.i18n import long_date
from core.jobs.queue import PermanentJobError
from core.money.fees import fee_model_for, fee_summary, terms_of
from core.signup.agreements import agreement_text_as_signed, signed_values
from core.signup.confirmation import queue_confirmation_if_ready
from core.signup.evidence_record import evidence_record
from core.signup.fields import country_choices
from core.signup.mandate import MandateDocument, SignedAgreement, render_mandate_pdf
from core.signup.mandate_copy import encrypt_copy, put_mandate_in_vault
from core.signup.mandate_seal import current_sealer
from core.site import site

MANDATE_JOB = "mandate"


def participant_rows(answers: dict[str, Any], language: str) -> dict[str, str]:
    """The participant's answers as labelled lines for the PDF, in the document's language."""
    rows: dict[str, str] = {}

    def add(label: str, key: str, value: str | None = None) -> None:
        shown = value if value is not None else answers.get(key)
        if shown:
            rows[label] = shown

    add(_("Name"), "name")
    add(_("E-mail address"), "email")
    add(_("Phone number"), "phone")
    address = ", ".join(
        filter(None, [answers.get("street"), " ".join(filter(None, [answers.get("postcode"), answers.get("city")]))])
    )
    add(_("Address"), "", address or None)
    countries = dict(country_choices(language))
    add(_("Country"), "", countries.get(answers.get("country", ""), answers.get("country")))
    if answers.get("birth_date"):
        add(_("Date of birth"), "", long_date(dt.date.fromisoformat(answers["birth_date"]), language))
    add(_("Account"), "account")
    if answers.get("for_whom") == "child":
        add(_("Joins for the child"), "child_name")
        if answers.get("child_birth_date"):
            add(_("Child's date of birth"), "", long_date(dt.date.fromisoformat(answers["child_birth_date"]), language))
    return rows


def make_mandate(app: Flask, payload: dict[str, Any]) -> None:
    db = db_session()
    signup = db.scalar(select(Signup).where(Signup.token == payload["signup"]))
    if signup is None or signup.mandate_sha256 or signup.stage != Stage.SIGNED or signup.erased_at is not None:
        return  # erased, already made, or not signed: nothing to do
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if loaded is None:
        raise RuntimeError(f"campaign {signup.campaign} is not loaded")
    answers = personal_data.load(db, signup)
    placeholders = personal_data.load_placeholders(db, signup)
    language = signup.language
    with force_locale(language):
        agreements = []
        for accepted in signup.agreements:
            config = next(
                (
                    a
                    for a in loaded.campaign.signup.agreements  # type: ignore[union-attr]
                    if a.id == accepted.agreement and a.version == accepted.version
                ),
                None,
            )
            if config is None:
                raise PermanentJobError(f"agreement {accepted.agreement}@{accepted.version} is no longer configured")
            values = signed_values(loaded, accepted.language, accepted.placeholders, placeholders, answers)
            text = agreement_text_as_signed(site().settings.campaigns_dir, loaded, config, accepted.language, values)
            if text.sha256 != accepted.text_sha256:
                raise PermanentJobError(f"the text of {accepted.agreement}@{accepted.version} changed after signing")
            agreements.append(SignedAgreement(text.title, config.version, text.sha256, text.html))
        terms = terms_of(signup)
        signed_event = next(e for e in reversed(signup.events) if e.step == "signed")
        evidence = {
            _("E-mail address verified"): signup.verified_at.isoformat(timespec="seconds")
            if signup.verified_at
            else "",
            _("Signed from (hashed IP address)"): (signed_event.ip_hash or "")[:32],
            _("Browser"): signed_event.user_agent or "",
        }
        document = MandateDocument(
            loaded=loaded,
            language=language,
            participant=participant_rows(answers, language),
            agreements=agreements,
            signed_at=signup.signed_at or utcnow(),
            signature_png=personal_data.load_signature(db, signup),
            signature_typed=None if signup.signature_kind == "drawn" else answers.get("signature_typed", ""),
            reference=signup.token[:12],
            evidence=evidence,
            fee_lines=fee_summary(fee_model_for(loaded), terms, None, language) if terms else (),
            signer_name=answers.get("name", ""),
            evidence_record=evidence_record(signup),
        )
        pdf = render_mandate_pdf(document)
    pdf = current_sealer().seal(
        pdf,
        reason=f"Power of attorney {signup.token[:12]} for {loaded.slug}, as signed by the participant",
        location="Netherlands",
        contact=str(loaded.campaign.organisation.website),
    )
    digest = sha256_hex(pdf)
    copy = encrypt_copy(pdf)  # the participant's copy, for a key only their links will carry
    personal_data.store_mandate(db, signup, pdf, copy.ciphertext, copy.private_key)
    signup.mandate_sha256 = digest
    db.add(SignupEvent(signup_id=signup.id, step="mandate-made", at=utcnow(), detail=f"sha256:{digest}"))
    db.flush()
    # Withdrawn before its PDF was made (or while it was made: so read from the row after our own write, never
    # from the copy loaded before the PDF): nothing will be mailed any more. See core.signup.withdrawal.withdraw.
    if db.scalar(select(Signup.withdrawn_at).where(Signup.id == signup.id)) is not None:
        personal_data.release(db, signup)
    elif (vault := vault_keys.vault_key_of(db, signup.email_hash)) is not None:
        # The participant has a vault already: their copy goes in it too (no arrival mail: they have just signed,
        # and the confirmation mail follows). The store's object is fixed by the sign-up, so a retried job
        # writes over it rather than leaving a second one.
        filed = put_mandate_in_vault(db, site().vault_store, signup, vault.public_raw, pdf, "mandate-job")
        if filed is not None:
            filed.notified_at = utcnow()

    queue_confirmation_if_ready(db, signup, utcnow())  # decided on the row as it is now: paid meanwhile, perhaps
    db.commit()
