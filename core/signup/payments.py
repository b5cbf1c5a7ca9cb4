"""Payments of sign-ups whose fee model asks one before they count: attempts, states, provider events.

A sign-up owes a payment (``Signup.payment_required``) from signing until a provider reports it paid. Each time
the participant goes to the checkout an attempt (:class:`core.data.models.Payment`) is opened, or the still open one is
reused. Only the provider's own notification (its webhook, re-checked with the provider) marks an attempt paid,
never the visitor's browser coming back; a paid attempt stays paid whatever arrives later, so notifications that
come twice or out of order change nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.campaigns import LoadedCampaign
from core.data.db import set_once, utcnow
from core.data.models import Payment, PaymentState, ProviderEvent, Signup
from core.money.fees import payment_due
from core.money.payment_providers import Checkout, CheckoutRequest, PaymentProvider, PaymentProviderError, Reported
from core.signup.confirmation import queue_confirmation_if_ready
from core.signup.flow import Visit, record
from core.signup.payment_reminder import queue_payment_reminder
from core.site import site

log = logging.getLogger(__name__)

# An attempt whose provider did not answer (or whose answer was lost) is asked again, under the same idempotency
# key and with the same parameters, for this long; later a new attempt is opened (the visitor never got the first
# one's address, so it cannot be paid). Providers derive what they ask from the attempt's time (Stripe: when its
# checkout expires), so it is the same on every retry in this window.
UNANSWERED_REUSED_FOR = dt.timedelta(minutes=5)


class NoProvider(Exception):
    """No installed payment provider may take this campaign's payments (e.g. no Stripe keys in production)."""


def latest(session: Session, signup: Signup) -> Payment | None:
    """The newest payment attempt of ``signup``, if any."""
    return session.scalars(
        select(Payment).where(Payment.signup_id == signup.id).order_by(Payment.attempt.desc()).limit(1)
    ).first()


def start_checkout(
    session: Session,
    loaded: LoadedCampaign,
    signup: Signup,
    provider: PaymentProvider,
    success_url: str,
    cancel_url: str,
    visit: Visit,
) -> str:
    """Where to send the visitor to pay what ``signup`` owes: the still open checkout, or a new one.

    The visitor comes back to ``success_url`` or ``cancel_url``. The attempt is committed before the provider is
    asked, and its idempotency key comes from the sign-up and the attempt number (and everything asked from the
    attempt's own time), so a double click or a retry after the provider did not answer opens the same checkout,
    never a second one (for :data:`UNANSWERED_REUSED_FOR`; then a new attempt). Raises
    :class:`PaymentProviderError` when the provider cannot be reached (the attempt stays, to be retried).
    """
    due = payment_due(loaded, signup)
    if due is None:
        raise ValueError("nothing to pay")
    now = visit.now
    payment = latest(session, signup)
    # A checkout that can still be paid (a cancelled one too: it stays open at the provider) is reused until it
    # expires, never joined by a second one, so nobody can pay twice.
    if (
        payment is not None
        and payment.state in (PaymentState.OPEN, PaymentState.CANCELLED)
        and payment.checkout_url
        and (payment.expires_at is None or payment.expires_at > now)
    ):
        return payment.checkout_url
    if (
        payment is None
        or payment.state != PaymentState.CREATED
        or payment.provider != provider.identifier
        or now - payment.created_at >= UNANSWERED_REUSED_FOR
    ):
        payment = Payment(
            signup_id=signup.id,
            campaign=loaded.slug,
            attempt=(payment.attempt + 1) if payment else 1,
            provider=provider.identifier,
            amount_cents=due.amount_cents,
            currency=due.currency,
            state=PaymentState.CREATED,
            created_at=now,
            updated_at=now,
        )
        session.add(payment)
        record(session, signup, "payment-started", visit, detail=f"{provider.identifier} attempt {payment.attempt}")
        session.commit()
    checkout: Checkout = provider.prepare(
        CheckoutRequest(
            campaign=loaded,
            payment_id=payment.id,
            signup_id=signup.id,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            description=due.description,
            language=signup.language,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"claimsite-signup-{signup.id}-attempt-{payment.attempt}",
            opened_at=payment.created_at,
        )
    )
    payment.provider_ref = checkout.ref
    payment.checkout_url = checkout.url
    payment.expires_at = checkout.expires_at
    # (the provider can only report this checkout paid after the visitor got its address, below)
    payment.state = PaymentState.OPEN
    payment.updated_at = utcnow()
    session.commit()
    return checkout.url


def apply_state(
    session: Session,
    loaded: LoadedCampaign,
    payment: Payment,
    state: PaymentState,
    now: dt.datetime,
    how: str,
    visit: Visit | None = None,
) -> bool:
    """Move ``payment`` to ``state`` as the provider reports it; returns whether anything changed.

    Paid is final, and the first report of it wins (its time is the payment's and the sign-up's ``paid_at``):
    the move is decided in one statement on the row as it is then, so of several notifications handled at the
    same moment only one moves the attempt and writes the evidence. Paying makes the sign-up count (and queues its
    confirmation mail once the mandate is made); an attempt that ends unpaid (cancelled, expired, failed) queues
    the one "pay later" mail with a link. ``visit`` is the visitor when they caused it (the cancel link); a
    provider's notification has none.
    """
    if payment.state == PaymentState.PAID or payment.state == state:
        return False
    values: dict[str, object] = {"state": state.value, "updated_at": now}
    if state == PaymentState.PAID:
        values["paid_at"] = now
    moved = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.state != PaymentState.PAID, Payment.state != state)
        .values(values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:  # another notification got there first
        session.refresh(payment)
        return False
    for key, value in values.items():
        set_committed_value(payment, key, value)
    signup = payment.signup
    record(
        session, signup, f"payment-{state.value}", visit or Visit(now, None, None), detail=f"{payment.provider} {how}"
    )
    if state == PaymentState.PAID:
        if set_once(session, Signup.paid_at, signup.id, now):
            set_committed_value(signup, "paid_at", now)
            queue_confirmation_if_ready(session, signup, now)
            # The participant sees the counter go up at once: the cached count goes once this is committed.
            counters = site().counters
            event.listen(session, "after_commit", lambda _session: counters.forget(loaded.slug), once=True)
    elif state in (PaymentState.CANCELLED, PaymentState.EXPIRED, PaymentState.FAILED) and signup.paid_at is None:
        queue_payment_reminder(session, signup, now)
    return True


def apply_provider_event(
    session: Session,
    loaded: LoadedCampaign,
    provider: PaymentProvider,
    event_id: str,
    event_type: str,
    ref: str | None,
    current_state: Callable[[], Reported | None],
) -> str:
    """Apply one provider notification exactly once; returns what happened (for the webhook's answer and logs).

    The event is recorded first: a second delivery of the same event finds it and changes nothing (``duplicate``).
    ``current_state()`` asks the provider for the checkout's state now (the event itself is not trusted), so events
    arriving out of order all lead to the provider's latest word. A payment of another amount or currency than
    the attempt asked does not count (``mismatch``: evidence and an error in the log, for staff). The caller
    commits.
    """
    payment = (
        session.scalar(select(Payment).where(Payment.provider == provider.identifier, Payment.provider_ref == ref))
        if ref
        else None
    )
    if payment is None or payment.campaign != loaded.slug:
        # Not a checkout of this campaign: one account's events reach every campaign's endpoint, and the one
        # it belongs to must still apply it, so it is not recorded here.
        return "ignored"
    marker = ProviderEvent(
        provider=provider.identifier, event_id=event_id, type=event_type, received_at=utcnow(), payment_id=payment.id
    )
    try:
        with session.begin_nested():
            session.add(marker)
    except IntegrityError:
        return "duplicate"
    reported = current_state()
    if reported is None:
        return "ignored"
    if reported.state == PaymentState.PAID and not _as_asked(payment, reported):
        detail = (
            f"{payment.provider} {event_type}: reported {reported.amount_cents} "
            f"{(reported.currency or '?').upper()}, asked {payment.amount_cents} {payment.currency.upper()}"
        )
        record(session, payment.signup, "payment-mismatch", Visit(utcnow(), None, None), detail=detail[:200])
        log.error(
            "payment %s of %s was reported paid with another amount or currency than asked (%s); it does not count",
            payment.id,
            loaded.slug,
            detail,
        )
        return "mismatch"
    changed = apply_state(session, loaded, payment, reported.state, utcnow(), how=event_type)
    return f"{reported.state.value}" if changed else "unchanged"


def _as_asked(payment: Payment, reported: Reported) -> bool:
    """Was exactly the asked amount paid, in the asked currency (as far as the provider reports them)?"""
    return (reported.amount_cents is None or reported.amount_cents == payment.amount_cents) and (
        reported.currency is None or reported.currency.upper() == payment.currency.upper()
    )


def cancel(session: Session, loaded: LoadedCampaign, payment: Payment, visit: Visit) -> None:
    """The visitor came back through the checkout's cancel link. The checkout itself may still be open (they can
    go back and pay, which then counts); here it only means: tell them how to pay later."""
    if payment.state in (PaymentState.OPEN, PaymentState.CREATED):
        apply_state(session, loaded, payment, PaymentState.CANCELLED, visit.now, how="cancel link", visit=visit)


__all__ = [
    "NoProvider",
    "PaymentProviderError",
    "apply_provider_event",
    "apply_state",
    "cancel",
    "latest",
    "start_checkout",
]
