"""The "no cure, no pay" choice that fee models share: a flat fee or a share of what is won, chosen when signing.

``no_cure_no_pay`` offers only this choice; ``subscription`` may offer it after its one-time payment. Any fee model
with :class:`core.money.fees.SuccessFee` settings offers and records it the same way through these two functions, so
the options read alike on every campaign and the terms settle by the same rule (:func:`core.money.fees.fee_for_award`).
"""

from __future__ import annotations

from flask_babel import gettext as _

from core.i18n import money
from core.money.fees import FeeOption, SuccessFee, SuccessFeeTerms, cents, percent

OPTIONS = ("flat", "share")


def success_fee_options(fee: SuccessFee, language: str) -> list[FeeOption]:
    """The two choices of ``fee``, worded for the signing page in ``language`` (the current locale)."""
    return [
        FeeOption(
            "flat",
            _("%(amount)s if we win", amount=money(fee.flat, language)),
            _("A fixed fee out of your compensation, only if the claim succeeds."),
        ),
        FeeOption(
            "share",
            _("%(share)s of the compensation if we win", share=percent(fee.share, language)),
            _("A share of what you receive, only if the claim succeeds."),
        ),
    ]


def success_fee_terms(fee: SuccessFee, option: str | None) -> SuccessFeeTerms:
    """The terms signed when ``option`` (``flat`` or ``share``) is chosen; ``ValueError`` for any other."""
    if option not in OPTIONS:
        raise ValueError(f"unknown fee option {option!r}: choose 'flat' or 'share'")
    return SuccessFeeTerms(option=option, flat_cents=cents(fee.flat), share_percent=fee.share)
