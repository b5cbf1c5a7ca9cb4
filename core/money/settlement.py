"""Settling success fees out of an award: what each confirmed participant of a campaign owes, under the fee terms
they signed, and what is left for them (``flask fees settle``, :mod:`core.cli.fees`, prints it).

Sign-ups are read from the database a batch at a time and handed on one by one, so a campaign with many
participants needs little memory. Each is named by reference only (the first :data:`REFERENCE` characters of
``Signup.token``), never by personal data. Money is integer cents throughout, as in :mod:`core.money.fees`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.models import Payment, PaymentState, Signup, participant
from core.money.fees import FeeModel, FeeTerms, euros, fee_for_award, fee_model_for, own_model

BATCH = 1000  # rows fetched from the database at a time
REFERENCE = 12  # characters of Signup.token shown: enough to find a sign-up, too short to use as a link
RULE = "Rounding: a share of the award is rounded down to the cent; a fee is never more than the award."


class UnknownCampaign(LookupError):
    """No campaign by that slug is served, and no sign-up names it."""

    def __init__(self, slug: str, known: list[str]) -> None:
        super().__init__(f"unknown campaign {slug!r}; known campaigns: {', '.join(known) or '(none)'}")
        self.slug, self.known = slug, known


class SettlementError(ValueError):
    """A sign-up that cannot be settled (terms not valid, not in euros, or a fee outside 0..award): nothing is
    settled on a guess."""


def campaign_fee_model(session: Session, slug: str, served: Mapping[str, LoadedCampaign]) -> FeeModel | None:
    """The current fee model of campaign ``slug`` (None when it has none, or is no longer served but has
    sign-ups: those are settled from the terms they signed alone). Raises :class:`UnknownCampaign` when ``slug``
    is neither among the ``served`` campaigns nor named by a sign-up."""
    loaded = served.get(slug)
    if loaded is not None:
        return fee_model_for(loaded)
    if session.scalar(select(Signup.id).where(Signup.campaign == slug).limit(1)) is not None:
        return None
    raise UnknownCampaign(slug, sorted(set(served) | set(session.scalars(select(Signup.campaign).distinct()))))


@dataclass(frozen=True)
class SettledSignup:
    """One confirmed participant's settlement: ``option`` is the success-fee option signed (``none`` without
    one); amounts in cents; ``paid`` is what their one-time payments brought in."""

    reference: str
    signed_at: dt.datetime | None
    fee_model: str | None
    option: str
    award: int
    fee: int
    paid: int

    @property
    def left(self) -> int:
        """What is left of the award for the participant."""
        return self.award - self.fee


@dataclass
class Settlement:
    """The totals of a settlement, in cents, and how many participants signed each option."""

    campaign: str
    award: int
    model: FeeModel | None
    options: Counter[str] = field(default_factory=Counter)
    total_fees: int = 0
    total_left: int = 0
    total_paid: int = 0

    @property
    def participants(self) -> int:
        return sum(self.options.values())

    @property
    def rule(self) -> str:
        """How the fees were reckoned: the rounding rule, or the campaign's fee model's own."""
        if self.model is None or type(self.model).fee_for_award is FeeModel.fee_for_award:
            return RULE
        return f"Fees as the fee model '{self.model.name}' computes them."

    def add(self, settled: SettledSignup) -> None:
        self.options[settled.option] += 1
        self.total_fees += settled.fee
        self.total_left += settled.left
        self.total_paid += settled.paid


def settle(
    session: Session,
    campaign: str,
    model: FeeModel | None,
    award: int,
    each: Callable[[SettledSignup], None] | None = None,
) -> Settlement:
    """Settle an award of ``award`` cents for every confirmed participant of ``campaign``, oldest signature first,
    under the terms each signed (reckoned by ``model``, the campaign's current fee model from
    :func:`campaign_fee_model`, where the terms came from it). ``each`` gets every participant's settlement as it
    is read; the totals are returned. Raises :class:`SettlementError` at the first sign-up that cannot be settled.
    """
    paid = (
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .where(Payment.signup_id == Signup.id, Payment.state == PaymentState.PAID)
        .scalar_subquery()
    )
    query = (
        select(Signup.token, Signup.signed_at, Signup.fee_model, Signup.fee_terms, paid)
        .where(Signup.campaign == campaign, participant())
        .order_by(Signup.signed_at, Signup.id)
        .execution_options(yield_per=BATCH)
    )  # a server-side cursor on PostgreSQL
    settlement = Settlement(campaign, award, model)
    with session.execute(query) as rows:  # closes the cursor even when a row stops the settlement
        for token, signed_at, fee_model, fee_terms, paid_cents in rows:
            reference = token[:REFERENCE]
            terms = _signed_terms(reference, fee_terms)
            option = terms.success_fee.option if terms and terms.success_fee else "none"
            settled = SettledSignup(
                reference, signed_at, fee_model, option, award, fee_of(model, terms, award), paid_cents
            )
            settlement.add(settled)
            if each is not None:
                each(settled)
    return settlement


def _signed_terms(reference: str, stored: str | None) -> FeeTerms | None:
    try:
        return FeeTerms.from_json(stored) if stored else None
    except ValidationError as exc:  # saved by hand or by a broken plugin: never settle a guess
        raise SettlementError(
            f"the fee terms of {reference} are not valid ({exc.error_count()} problem(s)): {exc.errors()[0]['msg']}"
        ) from None


def fee_of(model: FeeModel | None, terms: FeeTerms | None, award: int) -> int:
    """The fee under ``terms``: reckoned by the campaign's current fee model when the terms came from it (a
    third-party model may settle its own way), else by the rule in :func:`core.money.fees.fee_for_award`."""
    if terms is None:
        return 0  # signed when the campaign had no fee model: nothing was agreed, nothing is owed
    if terms.currency != "EUR":
        raise SettlementError(f"fee terms in {terms.currency}: this command settles awards in euros only")
    own = own_model(model, terms)
    if own is not None:
        fee, source = own.fee_for_award(terms, award), f"the fee model '{own.name}' gives"
    else:
        fee, source = fee_for_award(terms, award), f"terms signed under '{terms.model}' give"
    if not 0 <= fee <= award:  # a third-party rule, or terms saved by hand: never settle what cannot be paid out
        raise SettlementError(
            f"{source} a fee of EUR {euros(fee)} out of an award of EUR {euros(award)}; "
            "a fee must lie between 0 and the award. Check the fee terms of that campaign."
        )
    return fee
