"""Refunds: a one-time payment given back when its participant withdraws within the refund period of the terms they
signed (:meth:`core.money.fees.FeeModel.on_withdrawal` decides; the withdrawal queues the job).

The refund is a job, not a call in the request: the provider may be slow or down, and the worker retries until it
answers. Each payment is refunded at most once: ``refund_requested_at`` is set once when the job is queued, the
provider is asked with an idempotency key of its own per payment (a retried job refunds once), and ``refunded_at``
with the provider's reference records the answer, with a ``payment-refunded`` event as evidence that survives
erasure. A refund that keeps failing stays visible to staff as a failed job (``flask jobs``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.data.db import db_session, set_once, utcnow
from core.data.models import Payment, PaymentState, Signup
from core.jobs.queue import enqueue
from core.money.payment_providers import provider_named
from core.signup.flow import Visit, record
from core.site import site

REFUND_JOB = "refund"


def paid_payment(session: Session, signup: Signup) -> Payment | None:
    """The payment that paid ``signup``'s one-time fee, if any."""
    return session.scalar(
        select(Payment).where(Payment.signup_id == signup.id, Payment.state == PaymentState.PAID).limit(1)
    )


def queue_refund(session: Session, payment: Payment, now: dt.datetime) -> bool:
    """Queue the refund of ``payment`` (in the caller's transaction); False when one was queued before."""
    if not set_once(session, Payment.refund_requested_at, payment.id, now):
        return False
    payment.refund_requested_at = now
    enqueue(session, REFUND_JOB, {"payment": payment.id}, campaign=payment.campaign)
    return True


def make_refund(app: Flask, payload: dict[str, Any]) -> None:
    """The ``refund`` job: ask the provider the payment went through to give it back, and record its answer. Raises
    (so the worker retries) while the campaign is not loaded or the provider does not answer."""
    db = db_session()
    payment = db.get(Payment, payload["payment"])
    if payment is None or payment.refunded_at is not None:
        return  # deleted with its sign-up, or refunded already
    loaded = site().registry.snapshot.campaigns.get(payment.campaign)
    if loaded is None:
        raise RuntimeError(f"campaign {payment.campaign} is not loaded")
    provider = provider_named(payment.provider)
    if provider is None:
        raise RuntimeError(f"payment provider {payment.provider} is not installed")
    reference = provider.refund(loaded, payment)
    now = utcnow()
    if not set_once(db, Payment.refunded_at, payment.id, now):
        db.rollback()
        return
    payment.refunded_at, payment.refund_ref = now, reference
    record(db, payment.signup, "payment-refunded", Visit(now, None, None), detail=payment.provider)
    db.commit()
