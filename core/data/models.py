"""The tables. Personal data lives only in ``personal_records``, read and written by :mod:`core.data.personal_data`,
and, for mail after the join flow, the contact copy of the address alone in ``contacts`` (:mod:`core.data.contacts`).

A phone number being proved by SMS code is kept locked for a day at most (``phone_verifications``:
:mod:`core.phones.verification`), then only its keyed digest.

Everything else holds what the site needs to work and what proves a sign-up: the campaign, the stage and its
timestamps, a keyed hash of the e-mail address (to find a returning visitor), hashed IPs, the agreements'
versions and SHA-256 digests.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.data.db import Base, UTCDateTime, utcnow


class Stage(StrEnum):
    """How far a sign-up got. ``signed`` sign-ups are participants, except where the campaign's fee model asks a
    payment first (``payment_required``): those count once paid (``paid_at``). See :func:`participant`.

    A pre-registration (made while the campaign takes pre-registrations: core.campaigns.schedule) stops at
    ``interested``: the address is verified, nothing is signed. When the campaign opens it becomes ``invited`` as its
    invitation mail is queued (once: :mod:`core.signup.invitations`), and ``verified`` when the person comes back to
    sign; neither counts as a participant."""

    STARTED = "started"  # form sent, e-mail not verified yet
    INTERESTED = "interested"  # pre-registered: e-mail verified, no mandate, waiting for the campaign to open
    INVITED = "invited"  # pre-registered, and the campaign opened: the invitation to join is queued or sent
    VERIFIED = "verified"  # e-mail verified, agreements not signed yet
    SIGNED = "signed"  # agreements accepted and signed: a participant


class Signup(Base):
    __tablename__ = "signups"
    __table_args__ = (
        UniqueConstraint("campaign", "email_hash"),
        Index("ix_signups_campaign_stage", "campaign", "stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True, doc="random public reference, used in links")
    campaign: Mapped[str] = mapped_column(String(40))
    email_hash: Mapped[str] = mapped_column(String(64), doc="HMAC-SHA256 of the normalised e-mail address")
    language: Mapped[str] = mapped_column(String(2))
    stage: Mapped[str] = mapped_column(String(20), default=Stage.STARTED)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    code_hash: Mapped[str | None] = mapped_column(String(64), doc="HMAC of the current verification code")
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    code_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)

    signature_kind: Mapped[str | None] = mapped_column(String(10), doc="'drawn' (canvas) or 'typed'")
    mandate_sha256: Mapped[str | None] = mapped_column(String(64), doc="SHA-256 of the mandate PDF")

    fee_model: Mapped[str | None] = mapped_column(String(40), doc="the campaign's fee model when signing")
    fee_option: Mapped[str | None] = mapped_column(String(20), doc="the option chosen, e.g. 'flat' or 'share'")
    fee_terms: Mapped[str | None] = mapped_column(Text, doc="JSON: the fee terms signed (core.money.fees.FeeTerms)")
    payment_required: Mapped[bool] = mapped_column(Boolean, default=False, doc="counts only once paid")
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    payment_reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="'pay later' mail queued")
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="confirmation mail queued")
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="mandate withdrawn (Art. 7(3))")
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="personal data erased (Art. 17)")
    erasure_reason: Mapped[str | None] = mapped_column(String(40), doc="why, e.g. 'participant-request'")

    events: Mapped[list[SignupEvent]] = relationship(back_populates="signup", order_by="SignupEvent.id")
    agreements: Mapped[list[AcceptedAgreement]] = relationship(back_populates="signup")


class SignupEvent(Base):
    """One step of a sign-up, as evidence: what, when, from which (hashed) IP and user agent."""

    __tablename__ = "signup_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(30))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    detail: Mapped[str | None] = mapped_column(
        String(1000), doc="non-personal context, e.g. a version, or the breach check a sign-up carried (JSON)"
    )

    signup: Mapped[Signup] = relationship(back_populates="events")


def participant() -> ColumnElement[bool]:
    """The SQL condition for a confirmed participant: signed, and paid where the fee model asks a payment, and
    not withdrawn (an erased participant is always withdrawn too)."""
    return (
        (Signup.stage == Stage.SIGNED)
        & ((Signup.payment_required.is_(False)) | (Signup.paid_at.is_not(None)))
        & Signup.withdrawn_at.is_(None)
    )


def is_participant(signup: Signup) -> bool:
    """:func:`participant` for one loaded sign-up."""
    return (
        signup.stage == Stage.SIGNED
        and (not signup.payment_required or signup.paid_at is not None)
        and signup.withdrawn_at is None
    )


class AcceptedAgreement(Base):
    """An agreement a participant ticked: exactly which text (version and SHA-256 of the text shown)."""

    __tablename__ = "accepted_agreements"
    __table_args__ = (UniqueConstraint("signup_id", "agreement"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    agreement: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2))
    text_sha256: Mapped[str] = mapped_column(String(64))
    placeholders: Mapped[str | None] = mapped_column(
        Text,
        doc="JSON: the campaign's values filled into the text, and when they were recorded "
        "(core.signup.agreements.recorded_campaign_values); the participant's are sealed with their data",
    )
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    signup: Mapped[Signup] = relationship(back_populates="agreements")


class PersonalRecord(Base):
    """A sign-up's personal data. Only :mod:`core.data.personal_data` reads or writes these columns."""

    __tablename__ = "personal_records"

    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True)
    sealed_answers: Mapped[bytes] = mapped_column(LargeBinary, doc="the form's answers, sealed to the foundation")
    sealed_signature: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the drawn signature (PNG), sealed")
    sealed_mandate: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the signed mandate PDF, sealed")
    working_answers: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the answers, while the flow needs them")
    working_signature: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the signature, until the mandate")
    pending: Mapped[bytes | None] = mapped_column(LargeBinary, doc="a later form, applied once its e-mail is verified")
    pending_from: Mapped[str | None] = mapped_column(String(64), doc="keyed hash of the browser that sent `pending`")
    participant_mandate: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the participant's copy: a vault file for a one-off key (core.signup.mandate_copy)"
    )
    sealed_placeholders: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the name(s) exactly as filled into the agreement texts signed, sealed"
    )
    working_placeholders: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the same, until the mandate")
    working_mandate_key: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the one-off private key of `participant_mandate`, until the confirmation mail"
    )

    signup: Mapped[Signup] = relationship()


class Contact(Base):
    """The contact copy of a sign-up's e-mail address: the address alone, locked under ``CLAIMSITE_CONTACT_KEY``
    (:class:`core.sealing.ContactBox`). Only :mod:`core.data.contacts` reads or writes it."""

    __tablename__ = "contacts"

    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True)
    locked_address: Mapped[bytes] = mapped_column(LargeBinary)
    kept_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, doc="when the address was verified")


class JobStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after the last retry: shown to staff
    CANCELLED = "cancelled"  # no longer wanted (its sign-up was withdrawn or erased); its payload is emptied


EMPTY_PAYLOAD = "{}"  # what a job that ended keeps: nothing


class LoginLink(Base):
    """A login link to the participant's page that was mailed: each works once (``used_at``), for a short while.

    It names the address only by its keyed hash; rows are removed by ``flask retention run`` a day after."""

    __tablename__ = "login_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(43), unique=True, doc="random, the signed link's content")
    campaign: Mapped[str] = mapped_column(String(40), doc="the campaign whose address the link is for")
    email_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """Work done off the request path (mail, mandate PDFs), queued in the same transaction as its cause."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    campaign: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text, doc="JSON")
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class PaymentState(StrEnum):
    """Where one payment attempt stands. ``paid`` is final; the others may still become ``paid`` (a visitor who
    cancelled can go back to a still open checkout; a bank payment confirms later)."""

    CREATED = "created"  # saved, the provider not yet asked (or it did not answer)
    OPEN = "open"  # a checkout page is waiting for the visitor
    PROCESSING = "processing"  # checkout finished, the money not yet confirmed (e.g. a bank transfer)
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the visitor left the checkout page with its cancel link
    EXPIRED = "expired"  # the checkout page timed out unpaid


class Payment(Base):
    """One attempt to pay what a sign-up owes, through one provider's checkout."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        UniqueConstraint("signup_id", "attempt"),
        Index("ix_payments_campaign_state", "campaign", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"))
    campaign: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer, doc="1, 2, ... per sign-up (part of the idempotency key)")
    provider: Mapped[str] = mapped_column(String(40))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    state: Mapped[str] = mapped_column(String(12), default=PaymentState.CREATED)
    provider_ref: Mapped[str | None] = mapped_column(String(255), doc="e.g. the Stripe Checkout Session id")
    checkout_url: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="when the checkout page times out")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refund_requested_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, doc="a withdrawal in the refund period queued its refund (core.signup.refunds)"
    )
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="the provider accepted the refund")
    refund_ref: Mapped[str | None] = mapped_column(String(255), doc="the provider's id of the refund, e.g. re_...")

    signup: Mapped[Signup] = relationship()


class ProviderEvent(Base):
    """A notification (webhook event) a payment provider sent and we applied: each is applied once."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))


# -- the staff console (core.staff) ----------------------------------------------------------------------------------
class StaffMember(Base):
    """Someone of the foundation who may use the staff console: made with ``flask staff add``, never on the web.

    The password is kept as an Argon2id hash; the TOTP secret locked with the working key (the server must read it
    to check a code). Five failed attempts in a row lock the account for a while (``locked_until``)."""

    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, doc="the login name, lower case")
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200), doc="Argon2id, in its own $argon2id$... format")
    totp_secret: Mapped[str] = mapped_column(Text, doc="base32 TOTP secret, locked (core.sealing.WorkingBox)")
    totp_last_step: Mapped[int | None] = mapped_column(Integer, doc="the last 30 s step used: a code works once")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, doc="failed attempts in a row")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="may no longer log in")
    role: Mapped[str] = mapped_column(String(10), doc="'admin' (everything) or 'staff' (limited: core.staff.roles)")
    rights: Mapped[str] = mapped_column(
        String(10), doc="a staff account's rights: 'view', or 'support' (may also mail codes and login links)"
    )
    all_campaigns: Mapped[bool] = mapped_column(
        Boolean, doc="a staff account sees every campaign; else only those in staff_campaigns"
    )

    campaigns: Mapped[list[StaffCampaign]] = relationship(
        cascade="all, delete-orphan", order_by="StaffCampaign.campaign", lazy="selectin"
    )


class StaffCampaign(Base):
    """A campaign a staff account (role ``staff``, without ``all_campaigns``) may see; it sees no other."""

    __tablename__ = "staff_campaigns"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(40), primary_key=True)


class StaffSession(Base):
    """A logged-in staff browser. The cookie holds a random token; this row only its hash. A session ends when idle
    too long, at its absolute end, at logout, or when the account is disabled."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, doc="the absolute end, however active")

    staff: Mapped[StaffMember] = relationship()


class AuditEntry(Base):
    """One staff action: who, what, when (and from which hashed IP). Written for every console page, every login
    attempt and every staff command that reads or changes data; never updated or deleted by the app."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(300), doc="the staff member's e-mail, or 'cli:<os user>'")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60), doc="e.g. 'login', 'login-failed', 'view', 'export'")
    campaign: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(400), doc="non-personal context, e.g. the page")
    ip_hash: Mapped[str | None] = mapped_column(String(64))


class StaffExport(Base):
    """An export started on the staff console, run in the background: its progress, and where its file is.

    The file (personal data, opened with the private key the staff member gave) lies in ``instance/exports/`` only
    until it is downloaded, or an hour at most (``flask retention run``)."""

    __tablename__ = "staff_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True, doc="random, names the export in URLs")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    campaign: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20), doc="'participants' (CSV), 'evidence' or 'round-requests' (zip)")
    status: Mapped[str] = mapped_column(String(10), default="running", doc="running, done, failed")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, doc="last progress written")
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    file_name: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64), doc="of the finished file")
    error: Mapped[str | None] = mapped_column(Text, doc="why it failed (no personal data)")
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="the file was deleted")


class AddressOwner(Base):
    """Which campaign serves an address (a host, or a host and path) that campaign files name: an address stays
    with the campaign that had it (:mod:`core.campaigns.ownership`), also across restarts and deployments."""

    __tablename__ = "campaign_addresses"

    address: Mapped[str] = mapped_column(String(300), primary_key=True)
    slug: Mapped[str] = mapped_column(String(40))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignedText(Base):
    """An agreement text someone has signed, as a file: its SHA-256 before placeholders were filled in. The
    running site refuses a campaign whose text file no longer has it (:mod:`core.signup.signed_texts`)."""

    __tablename__ = "signed_texts"

    campaign: Mapped[str] = mapped_column(String(40), primary_key=True)
    agreement: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PhoneVerification(Base):
    """A phone number being proved by an SMS code (:mod:`core.phones.verification`). The page keeps only ``id`` in
    its session. The number itself is kept locked (``core.sealing.ContactBox``) for the worker that sends the code
    and the join page that fills it in, and for a day at most (:func:`core.data.retention.erase_phone_verifications`);
    after that a verified row keeps only its keyed digest and times, for the funnel figures."""

    __tablename__ = "phone_verifications"
    __table_args__ = (Index("ix_phone_verifications_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(43), primary_key=True, doc="random (secrets.token_urlsafe(32))")
    campaign: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(40), doc="what the number is proved for, e.g. 'breach-check'")
    number_digest: Mapped[str] = mapped_column(String(64), doc="keyed hash of the E.164 number (CLAIMSITE_HASH_KEY)")
    locked_number: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the E.164 number, locked; erased after a day")
    country_code: Mapped[int | None] = mapped_column(Integer, doc="the number's calling code, e.g. 31")
    code_hash: Mapped[str | None] = mapped_column(String(64), doc="HMAC of the current code")
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    code_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="when the current code was queued")
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsLimitTrip(Base):
    """How often an SMS limit refused a code, per campaign, day and kind of limit (:mod:`core.phones.limits`), for
    the console's figures; ``alerted_at`` says staff were mailed about it that day (once)."""

    __tablename__ = "sms_limit_trips"

    campaign: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True, doc="network, number, country, budget, ...")
    trips: Mapped[int] = mapped_column(Integer, default=0)
    alerted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RequestChoice(Base):
    """A company a participant of a data-request campaign asks the foundation to request their data from
    (:mod:`core.data_requests.choices`): a company of the catalogue by slug, or ``other``: one the participant
    named, for staff to review before a round (the name itself is in their sealed answers)."""

    __tablename__ = "request_choices"

    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True)
    company: Mapped[str] = mapped_column(String(60), primary_key=True, doc="the catalogue's slug, or 'other'")
    chosen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The review of an 'other' row (core.data_requests.named_companies): None while it waits for staff.
    review: Mapped[str | None] = mapped_column(String(10), doc="None: waiting; 'matched' or 'declined'")
    matched_company: Mapped[str | None] = mapped_column(String(60), doc="the catalogue's slug it was matched to")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    review_reason: Mapped[str | None] = mapped_column(String(500), doc="why it was declined, as mailed")


class ProofState(StrEnum):
    """Where a copy of an ID document stands (:mod:`core.data.identity_proofs`)."""

    RECEIVED = "received"  # uploaded, sealed, waiting for staff
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # with a reason, mailed to the participant; they may upload another
    ERASED = "erased"  # the image is gone (round answered, kept long enough, replaced, withdrawn or erased)


class IdentityProof(Base):
    """A copy of an ID document a participant uploaded for a data request: the blacked-out image, cleaned of its
    metadata and sealed to the foundation's key on arrival. Only :mod:`core.data.identity_proofs` reads or writes
    ``sealed_image``; staff open it with the private key file, every view in the audit log."""

    __tablename__ = "identity_proofs"
    __table_args__ = (Index("ix_identity_proofs_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=ProofState.RECEIVED)
    sealed_image: Mapped[bytes | None] = mapped_column(LargeBinary, doc="the image, sealed; None once erased")
    media_type: Mapped[str] = mapped_column(String(20), doc="image/jpeg or image/png")
    size: Mapped[int] = mapped_column(Integer, doc="bytes of the cleaned image")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(500), doc="why it was rejected, as mailed to the participant")
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erase_reason: Mapped[str | None] = mapped_column(String(40), doc="e.g. 'kept-days', 'round-answered', 'replaced'")


# -- data-request rounds (core.data_requests.rounds, core.data_requests.request_log) --------------------------------
class AnswerKind(StrEnum):
    """How a company answered a request."""

    FULL = "full"
    PART = "part"
    REFUSED = "refused"


class RequestEventKind(StrEnum):
    """What happened to a company's request, in the order it usually happens."""

    PREPARED = "prepared"  # the package was made (flask requests prepare)
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"  # the company confirmed receipt
    EXTENSION = "extension"  # the company claimed further months (Art. 12(3) GDPR)
    ANSWERED = "answered"
    OVERDUE = "overdue"  # recorded once by the daily reminder, the day after the due day
    COMPLAINT_PREPARED = "complaint-prepared"  # the complaint to the supervisory authority was drafted


class CompanyRequest(Base):
    """One collective request of a round to one company: its package, when and how it went, when it was received
    and answered. The deadline is computed from these (:func:`core.data_requests.deadlines.deadline`), never
    stored, so a corrected date moves it at once."""

    __tablename__ = "company_requests"
    __table_args__ = (UniqueConstraint("campaign", "round_id", "company"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign: Mapped[str] = mapped_column(String(40))
    round_id: Mapped[str] = mapped_column(String(40))
    company: Mapped[str] = mapped_column(String(60), doc="the catalogue's slug")
    prepared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    participants: Mapped[int] = mapped_column(Integer, doc="data subjects in the package")
    manifest_sha256: Mapped[str] = mapped_column(String(64), doc="of the package's manifest, kept apart from it")
    sent_on: Mapped[dt.date | None] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(10), doc="email, webform, letter or fax")
    received_on: Mapped[dt.date | None] = mapped_column(Date, doc="recorded, or assumed from the channel")
    received_recorded: Mapped[bool] = mapped_column(Boolean, default=False, doc="whether received_on was recorded")
    extension_claimed_on: Mapped[dt.date | None] = mapped_column(Date)
    extension_months: Mapped[int] = mapped_column(Integer, default=0, doc="as the company claimed them")
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    answer_kind: Mapped[str | None] = mapped_column(String(10), doc="full, part or refused")
    reminded_on: Mapped[dt.date | None] = mapped_column(Date, doc="the last day a reminder mail listed it")


class RequestMember(Base):
    """A participant a request was made for. A participant is in one request per company: the first round that
    takes them."""

    __tablename__ = "request_members"

    company_request_id: Mapped[int] = mapped_column(
        ForeignKey("company_requests.id", ondelete="CASCADE"), primary_key=True
    )
    signup_id: Mapped[int] = mapped_column(ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True, index=True)


class RequestEvent(Base):
    """One step of a company's request (:class:`RequestEventKind`), as staff or a command recorded it. ``detail``
    is JSON without personal data (a channel, a number of months, a note about the company)."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_request_id: Mapped[int] = mapped_column(ForeignKey("company_requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    on: Mapped[dt.date] = mapped_column(Date, doc="the day it happened")
    detail: Mapped[str | None] = mapped_column(String(1000))
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL"), doc="None when a command recorded it"
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class VaultKey(Base):
    """A participant's vault (issue 21): the public key files for them are encrypted to, and their private key as
    the browser wrapped it, once with their passphrase and once with their recovery code (JSON of the contract in
    core/vault/FORMAT.md). The server never sees the private key, the passphrase or the code. One per address: the
    keyed hash ``signups.email_hash`` uses. Read and written only by :mod:`core.data.vault_keys`."""

    __tablename__ = "vault_keys"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True, doc="as signups.email_hash")
    public_raw: Mapped[bytes] = mapped_column(LargeBinary(65), doc="the uncompressed P-256 point, 65 bytes")
    wrapped_by_passphrase: Mapped[str] = mapped_column(Text, doc="the wrapped private key's JSON")
    wrapped_by_recovery: Mapped[str] = mapped_column(Text, doc="the wrapped private key's JSON")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FileKind(StrEnum):
    """What a vault file is."""

    ANSWER = "answer"  # a company's answer, deposited by staff
    MANDATE = "mandate"  # the participant's copy of their signed mandate, moved in from the sealed copy


class VaultFile(Base):
    """A file deposited in a participant's vault (issue 21): stored encrypted to their vault's public key under
    ``store_key`` in the vault store (core.vault.store), which only ever holds ciphertext. Read and written only by
    :mod:`core.data.vault_files`.

    ``file_name`` is the name the company gave the file (e.g. ``facebook-jdoe1984.zip``): it may itself say
    something about the person, so it is shown to the vault's owner only (never in a mail, a log or the console).
    ``deposit_token`` makes a deposit idempotent: the SHA-256 of the campaign, the sign-up's reference, the company,
    the file's name and its size, all known before a byte is read (a content hash would need a second pass over
    the plaintext, and would keep a fingerprint of the content).

    ``signup_id`` is the sign-up the file came for: withdrawing it removes the file (core.signup.withdrawal). NULL
    for a file deposited before it was recorded whose deposit token matched no sign-up (migration 0020d), or whose
    sign-up was deleted since: such a file stays until retention or erasure removes it."""

    __tablename__ = "vault_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True, doc="the vault's owner, as vault_keys.email_hash")
    campaign: Mapped[str] = mapped_column(String(40))
    company: Mapped[str] = mapped_column(String(100), doc="a catalogue slug or a free text, e.g. meta")
    store_key: Mapped[str] = mapped_column(String(64), unique=True, doc="the name in the vault store (new_key())")
    size_plain: Mapped[int] = mapped_column(BigInteger)
    size_cipher: Mapped[int] = mapped_column(BigInteger)
    sha256_cipher: Mapped[str] = mapped_column(String(64), doc="of the stored bytes, hex")
    media_type: Mapped[str] = mapped_column(String(100), doc="e.g. application/zip: shown to the owner, not secret")
    file_name: Mapped[str] = mapped_column(String(200), doc="the name shown to the owner (only to them)")
    deposit_token: Mapped[str] = mapped_column(String(64), unique=True, doc="see the class docstring")
    deposited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deposited_by: Mapped[str] = mapped_column(String(100), doc="cli:<os user>, or console:<staff id>")
    notified_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, doc="when the arrival mail (or, for a held file, the invitation) was queued"
    )
    held_key_id: Mapped[str | None] = mapped_column(
        String(16),
        index=True,
        doc="held for an owner without a vault: encrypted to the foundation's holding key of this id "
        "(core.vault.holding) until staff move it in; None: encrypted to the owner's vault key",
    )
    kind: Mapped[str] = mapped_column(
        String(20), default=FileKind.ANSWER, server_default=FileKind.ANSWER, doc="a FileKind"
    )
    other_key: Mapped[str | None] = mapped_column(
        String(64),
        doc="while a held file is moved into its vault: the new copy being written (held_key_id still set), "
        "then the old held copy to delete (held_key_id cleared); None otherwise (core.staff.vault_moves)",
    )
    signup_id: Mapped[int | None] = mapped_column(
        ForeignKey("signups.id", ondelete="SET NULL"), index=True, doc="the sign-up it came for (see the docstring)"
    )


class VaultRemovalNotice(Base):
    """The mail that told an address that files in its vault are removed after a date (issue 21): one per address
    and date, inserted in the transaction that queues the mail, so that two retention runs at once send one. Read
    and written only by :mod:`core.data.vault_retention` (its docstring has the rules).

    ``planned_until`` is the date retention planned to keep the files until when the notice fell due (what the
    notice is found by); ``kept_until`` the date the mail gave: the same, or later when the notice went out late.
    ``mailed`` is False when nobody could be told (no contact copy of the address)."""

    __tablename__ = "vault_removal_notices"
    __table_args__ = (UniqueConstraint("email_hash", "planned_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), doc="the vault's owner, as vault_files.email_hash")
    planned_until: Mapped[dt.date] = mapped_column(Date)
    kept_until: Mapped[dt.date] = mapped_column(Date)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    mailed: Mapped[bool] = mapped_column(Boolean)


class VaultUpload(Base):
    """A file a staff member is uploading from the console into a participant's vault (issue 21): encrypted in their
    browser to ``public_raw`` (the vault key when the upload started) and sent as ciphertext in pieces of
    ``piece_size`` bytes, one request each, possibly to different app processes. The store keeps the unfinished
    file under ``store_handle`` (a hidden part file, or an S3 multipart upload's id); this row is all that is known
    between requests. Read and written only by :mod:`core.data.vault_uploads`.

    Finishing records a :class:`VaultFile` (``vault_file_id``) and keeps this row a day, so that a finish sent again
    (its answer lost) gets the same answer; an upload untouched for a day is aborted and removed
    (``flask retention run``). ``file_name`` is as private as :attr:`VaultFile.file_name`."""

    __tablename__ = "vault_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True, doc="the upload's name in the console's URLs")
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL"), doc="who uploads: only they may send its pieces"
    )
    signup_id: Mapped[int] = mapped_column(Integer, doc="the sign-up it is for (no foreign key: erasure may go first)")
    email_hash: Mapped[str] = mapped_column(String(64), doc="the vault's owner, as vault_keys.email_hash")
    campaign: Mapped[str] = mapped_column(String(40))
    public_raw: Mapped[bytes] = mapped_column(LargeBinary(65), doc="the key the browser encrypts to")
    company: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size_plain: Mapped[int] = mapped_column(BigInteger, doc="as announced by the browser")
    size_cipher: Mapped[int] = mapped_column(BigInteger, doc="what the vault file of size_plain must measure")
    chunk_size: Mapped[int] = mapped_column(Integer, doc="the vault file's chunk size the browser must use")
    piece_size: Mapped[int] = mapped_column(Integer, doc="ciphertext bytes per request, but the last")
    pieces_received: Mapped[int] = mapped_column(Integer, default=0)
    store_key: Mapped[str] = mapped_column(String(64), unique=True, doc="the file's key in the store once finished")
    store_handle: Mapped[str] = mapped_column(String(1024), doc="the store's handle of the unfinished file")
    deposit_token: Mapped[str] = mapped_column(String(64), index=True, doc="as VaultFile.deposit_token")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    touched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    vault_file_id: Mapped[int | None] = mapped_column(Integer, doc="the file recorded by finishing")


class RunLease(Base):
    """Who runs a staff job that must not run twice at once (issue 21: ``flask vault move`` and the console's button
    of the same name, whose cleanup of a move cut off before would delete a copy another run is writing), and until
    when: one row per job name, taken by inserting it (the primary key lets one of two runs in) or by taking over a
    row whose run stopped renewing it (killed). Read and written only by :mod:`core.data.run_leases`."""

    __tablename__ = "run_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True, doc="the job, e.g. vault-move")
    holder: Mapped[str] = mapped_column(String(140), doc="who runs it (cli:<user> or staff:<id>) and a run id")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, doc="renewed while the run goes on")
