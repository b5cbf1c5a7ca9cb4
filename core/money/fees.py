"""Fee models: what a participant owes, chosen by the campaign's fee-model plugin, and kept as signed.

A fee-model plugin (``no_cure_no_pay``, ``subscription``, ``free``, or a third-party one) answers the
``claimsite_fee_model`` hook with a :class:`FeeModel`. When a participant signs, the model turns their choice into
:class:`FeeTerms`, a snapshot saved with the sign-up: later edits of the campaign file (a new amount) never change
what someone already signed, and settlement works from the snapshot alone.

Money is integer cents throughout (amounts in campaign files are decimals in euros, converted exactly); shares are
``Decimal`` percentages. Rounding rule: a share of an award is rounded *down* to the cent, so a participant never
owes more than the share they agreed to; a fee is never more than the award itself ("no cure, no pay": the fee is
paid out of what is won).
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from babel.numbers import format_decimal
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from core.i18n import FORMAT_LOCALES, long_date, money
from core.site import site

if TYPE_CHECKING:
    from core.campaigns import LoadedCampaign
    from core.data.models import Signup
    from core.plugins import PluginHost

Euros = Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=2)]
PositiveEuros = Annotated[Decimal, Field(gt=0, max_digits=9, decimal_places=2)]
Percentage = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]


def cents(euros: Decimal) -> int:
    """Exactly: ``Decimal("17.50")`` -> 1750; ``ValueError`` for anything finer than a cent."""
    amount = euros * 100
    if amount != amount.to_integral_value():
        raise ValueError(f"{euros} is not a whole number of cents")
    return int(amount)


def euros(amount_cents: int) -> Decimal:
    return (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))


class SuccessFee(BaseModel):
    """'No cure, no pay': nothing now; if the claim succeeds, the participant pays the option chosen at signing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flat: Euros = Field(default=Decimal("50.00"), description="the flat fee in euros, e.g. 50")
    share: Percentage = Field(default=Decimal("20"), description="the share of the award in percent, e.g. 20")


class SuccessFeeTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    option: Literal["flat", "share"]
    flat_cents: int = Field(ge=0)
    share_percent: Percentage


class FeeTerms(BaseModel):
    """What a participant signed up to pay: saved as JSON with the sign-up (``Signup.fee_terms``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    currency: str = "EUR"
    one_time_cents: int | None = Field(default=None, ge=0, description="paid before the participation counts")
    refund_within_days: int = Field(
        default=14,
        ge=0,
        description="the one-time payment is refunded in full on a withdrawal within this many days of paying "
        "(the 14 days of the Dutch cooling-off period for distance contracts, BW 6:230o, unless the campaign gives "
        "more)",
    )
    success_fee: SuccessFeeTerms | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeeTerms:
        return cls.model_validate_json(text)


def fee_for_award(terms: FeeTerms, award_cents: int) -> int:
    """What a participant with ``terms`` owes out of an award of ``award_cents`` (the rounding rule: above)."""
    if award_cents < 0:
        raise ValueError("an award cannot be negative")
    fee = terms.success_fee
    if fee is None or award_cents == 0:
        return 0
    if fee.option == "flat":
        return min(fee.flat_cents, award_cents)
    share = (Decimal(award_cents) * fee.share_percent / 100).to_integral_value(rounding=ROUND_DOWN)
    return min(int(share), award_cents)


def percent(value: Decimal, language: str) -> str:
    """'20%' / '12,5%': a share as people write it (no trailing zeros)."""
    return format_decimal(value.normalize(), locale=FORMAT_LOCALES.get(language, language)) + "%"


def describe_terms(terms: FeeTerms, language: str) -> list[str]:
    """Plain sentences saying what ``terms`` mean for the participant, in ``language`` (the current locale)."""
    lines: list[str] = []
    if terms.one_time_cents:
        lines.append(
            _(
                "A one-time participation fee of %(amount)s, paid when you join.",
                amount=money(euros(terms.one_time_cents), language, terms.currency),
            )
        )
        lines.append(refund_rule(terms))
    fee = terms.success_fee
    if fee is not None and fee.option == "flat":
        lines.append(
            _(
                "No cure, no pay: only if the claim succeeds, you pay a fixed fee of %(amount)s out of the "
                "compensation you receive (never more than the compensation itself).",
                amount=money(euros(fee.flat_cents), language, terms.currency),
            )
        )
    elif fee is not None:
        lines.append(
            _(
                "No cure, no pay: only if the claim succeeds, you pay %(share)s of the compensation you receive.",
                share=percent(fee.share_percent, language),
            )
        )
    if not lines:
        lines.append(_("Taking part is free of charge."))
    return lines


def refund_rule(terms: FeeTerms) -> str:
    """When the one-time payment of ``terms`` comes back: said before joining, in the mandate and at withdrawal."""
    return _(
        "If you withdraw within %(days)s days of paying, you get it back in full.",
        days=terms.refund_within_days,
    )


@dataclass(frozen=True)
class WithdrawalFee:
    """What a withdrawal means for the fee: the sentences to show and mail, and whether the one-time payment is
    given back in full."""

    lines: list[str]
    refund: bool = False


def fee_on_withdrawal(
    terms: FeeTerms | None, paid_at: dt.datetime | None, now: dt.datetime, language: str
) -> WithdrawalFee:
    """The default :meth:`FeeModel.on_withdrawal`: a one-time payment comes back in full within the refund period of
    the terms signed, and stays paid after it; a success fee is never owed once we no longer act for the
    participant (called with the locale set to ``language``)."""
    if terms is None:
        return WithdrawalFee([_("You paid nothing and owe nothing.")])
    lines: list[str] = []
    refund = False
    one_time = terms.one_time_cents
    if one_time and paid_at is None:
        lines.append(
            _(
                "You had not paid the one-time fee of %(amount)s, and you no longer owe it.",
                amount=money(euros(one_time), language, terms.currency),
            )
        )
    elif one_time and paid_at is not None and now - paid_at <= dt.timedelta(days=terms.refund_within_days):
        refund = True
        lines.append(
            _(
                "You withdrew within %(days)s days of paying, so we refund your payment of %(amount)s in full, to "
                "the card or account you paid with. The refund is on its way to the payment provider now; banks "
                "usually show it within 5 to 10 working days.",
                days=terms.refund_within_days,
                amount=money(euros(one_time), language, terms.currency),
            )
        )
    elif one_time and paid_at is not None:
        lines.append(
            _(
                "Your one-time payment of %(amount)s is not refunded: the terms you signed refund it only within "
                "%(days)s days of paying, and you paid on %(date)s.",
                amount=money(euros(one_time), language, terms.currency),
                days=terms.refund_within_days,
                date=long_date(paid_at.date(), language),
            )
        )
    if terms.success_fee is not None:
        lines.append(_("No success fee will be charged to you: we no longer claim compensation on your behalf."))
    if not lines:
        lines.append(_("You paid nothing and owe nothing."))
    return WithdrawalFee(lines, refund)


def own_model(model: FeeModel | None, terms: FeeTerms) -> FeeModel | None:
    """``model`` if it made ``terms``, else None: terms signed under another model (the campaign changed its fee
    model since) are worded and settled by the neutral rules of this module."""
    return model if model is not None and model.name == terms.model else None


def fee_summary(model: FeeModel | None, terms: FeeTerms, paid_at: dt.datetime | None, language: str) -> list[str]:
    """What the participant chose and paid, for the success page and the confirmation mail."""
    own = own_model(model, terms)
    lines = own.describe(terms, language) if own else describe_terms(terms, language)
    if terms.one_time_cents and paid_at is not None:
        lines.append(
            _(
                "Paid: %(amount)s on %(date)s.",
                amount=money(euros(terms.one_time_cents), language, terms.currency),
                date=long_date(paid_at.date(), language),
            )
        )
    return lines


def terms_of(signup: Signup) -> FeeTerms | None:
    return FeeTerms.from_json(signup.fee_terms) if signup.fee_terms else None


@dataclass(frozen=True)
class FeeOption:
    """One choice offered when signing, in the visitor's language."""

    id: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class PaymentDue:
    """A payment needed before a sign-up counts."""

    amount_cents: int
    description: str
    currency: str = "EUR"


class FeeModel(ABC):
    """A campaign's way of charging. One instance per campaign version; its texts are in the given language."""

    #: the plugin's name, saved with each sign-up (``Signup.fee_model``)
    name: str

    def options(self, language: str) -> list[FeeOption]:
        """The choices offered on the signing page; none (the default) asks nothing."""
        return []

    @abstractmethod
    def terms(self, option: str | None) -> FeeTerms:
        """The terms for ``option`` (one of :meth:`options`' ids, or None when there is no choice), as signed.
        Raises ``ValueError`` for an option that is not offered."""

    def describe(self, terms: FeeTerms, language: str) -> list[str]:
        """The fee part of the mandate for these terms: sentences shown when signing, in the PDF and the mail
        (the default words any terms; called with the locale set to ``language``)."""
        return describe_terms(terms, language)

    def notes(self, language: str) -> list[str]:
        """Sentences shown above the choice when signing: by default the wording of what every option shares
        (e.g. the one-time fee), or of the terms themselves when there is no choice."""
        options = self.options(language)
        terms = self.terms(options[0].id if options else None)
        if options:
            if not terms.one_time_cents:
                return []
            terms = terms.model_copy(update={"success_fee": None})
        return self.describe(terms, language)

    def cost_summary(self, language: str) -> list[str]:
        """What joining costs, in one or two short sentences for the landing page and the join form (called with
        the locale set to ``language``): shown *before* anyone commits, so every amount comes from the model's own
        settings, never from text typed again in the campaign file. The default words the one-time payment and
        the success-fee choice that :meth:`options` and :meth:`terms` describe, or says joining is free."""
        return summarize_costs(self, language)

    def asks_payment(self) -> bool:
        """Does signing (with any of the options) lead to a payment before the sign-up counts?"""
        choices = [option.id for option in self.options("en")] or [None]
        return any(self.payment_due(self.terms(choice), "en") is not None for choice in choices)

    def payment_due(self, terms: FeeTerms, language: str) -> PaymentDue | None:
        """The payment needed before the sign-up counts, if any (the default: none)."""
        return None

    def fee_for_award(self, terms: FeeTerms, award_cents: int) -> int:
        """What is owed out of an award (the default: the success fee of ``terms``, rounded as stated above)."""
        return fee_for_award(terms, award_cents)

    def on_withdrawal(
        self, terms: FeeTerms, paid_at: dt.datetime | None, now: dt.datetime, language: str
    ) -> WithdrawalFee:
        """What withdrawing at ``now`` means for the fee of ``terms`` (paid at ``paid_at``, if paid): shown before
        the participant confirms, then in the withdrawal's confirmation mail; a refund it names is made through the
        payment provider the payment went through (:mod:`core.signup.refunds`). Called with the locale set to
        ``language``. The default: :func:`fee_on_withdrawal`."""
        return fee_on_withdrawal(terms, paid_at, now, language)


def summarize_costs(model: FeeModel | None, language: str) -> list[str]:
    """The default :meth:`FeeModel.cost_summary`, and the summary for a campaign without a fee model (free)."""
    if model is None:
        return [_("Joining is free: it costs you nothing.")]
    options = model.options(language)
    choices = [option.id for option in options] or [None]
    all_terms = [model.terms(choice) for choice in choices]
    lines: list[str] = []
    one_time = all_terms[0].one_time_cents
    if one_time:
        lines.append(
            _(
                "Joining costs %(amount)s, paid once when you join, and refunded in full if you withdraw within "
                "%(days)s days.",
                amount=money(euros(one_time), language, all_terms[0].currency),
                days=all_terms[0].refund_within_days,
            )
        )
    fees = [terms.success_fee for terms in all_terms if terms.success_fee is not None]
    if len(options) > 1 and fees:
        lines.append(
            _(
                "No cure, no pay: only if we win, %(amount)s or %(share)s of your compensation (you choose).",
                amount=money(euros(fees[0].flat_cents), language, all_terms[0].currency),
                share=percent(fees[0].share_percent, language),
            )
        )
    elif fees:
        lines.extend(describe_terms(all_terms[0].model_copy(update={"one_time_cents": None}), language))
    if not lines:
        lines.append(_("Joining is free: it costs you nothing."))
    return lines


def cost_summary(loaded: LoadedCampaign, language: str) -> list[str]:
    """What joining ``loaded`` costs, from its fee-model plugin (see :meth:`FeeModel.cost_summary`)."""
    model = fee_model_for(loaded)
    return model.cost_summary(language) if model is not None else summarize_costs(None, language)


def fee_model_for(loaded: LoadedCampaign, plugins: PluginHost | None = None) -> FeeModel | None:
    """The campaign's fee model, from the one fee-model plugin it enables (None: it charges nothing). ``plugins``:
    the app's (:func:`site`) unless given, for a caller without an app (``flask campaigns check``)."""
    host = plugins if plugins is not None else site().plugins
    return host.call("claimsite_fee_model", loaded.enabled_plugins, campaign=loaded)  # firstresult


def payment_due(loaded: LoadedCampaign, signup: Signup) -> PaymentDue | None:
    """What ``signup`` still has to pay before it counts, or None (nothing asked, or paid already)."""
    if not signup.payment_required or signup.paid_at is not None:
        return None
    terms = terms_of(signup)
    if terms is None or not terms.one_time_cents:
        return None
    model = fee_model_for(loaded)
    due = model.payment_due(terms, signup.language) if model is not None else None
    # The amount is always the one signed, even if the campaign's settings changed since.
    description = due.description if due else loaded.campaign.text(loaded.campaign.name, signup.language)
    return PaymentDue(terms.one_time_cents, description, terms.currency)
