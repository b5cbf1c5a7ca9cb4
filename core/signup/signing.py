"""The signing step's decisions: what the signing form says (each agreement accepted as it was shown, a fee
option, a signature drawn or typed) and what is wrong with it, as problem codes the signing page words.

A drawing that was sent but refused (:mod:`core.signup.signature`) is a problem even when a name was typed too:
it is never replaced silently by the typed name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from core.signup.agreements import AgreementText
from core.signup.signature import SignatureProblem, SignatureRefused, read_drawn_signature

TYPED_LENGTH = 200  # characters of a typed name kept


class SigningProblem(Enum):
    NOT_ACCEPTED = "not-accepted"  # an agreement's box was not ticked
    TEXT_UPDATED = "text-updated"  # the agreement text changed after the page showed it
    NO_FEE_OPTION = "no-fee-option"  # the campaign offers fee options and none of them was chosen
    NO_SIGNATURE = "no-signature"  # neither drawn nor typed


@dataclass(frozen=True)
class SigningForm:
    """The posted signing form, read: ``drawing`` is the drawn signature's PNG when one was sent and could be
    read, ``drawing_refused`` why one sent could not; ``typed`` the typed name, stripped and cut to
    :data:`TYPED_LENGTH`."""

    fields: Mapping[str, str]
    fee_option: str | None
    drawing: bytes | None
    drawing_refused: SignatureProblem | None
    typed: str

    @classmethod
    def read(cls, fields: Mapping[str, str]) -> SigningForm:
        """Read the posted ``fields`` (decoding the drawn signature, if any)."""
        drawing, refused = None, None
        data_url = fields.get("signature_png", "")
        if data_url:
            try:
                drawing = read_drawn_signature(data_url)
            except SignatureRefused as exc:
                refused = exc.problem
        typed = fields.get("signature_typed", "").strip()[:TYPED_LENGTH]
        return cls(fields, fields.get("fee_option") or None, drawing, refused, typed)


def signing_problems(
    form: SigningForm, texts: Sequence[AgreementText], fee_options: Collection[str]
) -> dict[str, SigningProblem | SignatureProblem]:
    """What is wrong with ``form``, by the field it is about (``agree-<agreement id>``, ``fee_option``,
    ``signature``); empty when it can be signed. ``texts`` are the agreement texts the page showed, ``fee_options``
    the ids of the fee options offered (none: nothing to choose)."""
    problems: dict[str, SigningProblem | SignatureProblem] = {}
    for text in texts:
        field = f"agree-{text.agreement.id}"
        if form.fields.get(field) != "yes":
            problems[field] = SigningProblem.NOT_ACCEPTED
        elif form.fields.get(f"sha-{text.agreement.id}") != text.sha256:
            problems[field] = SigningProblem.TEXT_UPDATED
    if fee_options and form.fee_option not in fee_options:
        problems["fee_option"] = SigningProblem.NO_FEE_OPTION
    if form.drawing_refused is not None:
        problems["signature"] = form.drawing_refused
    elif form.drawing is None and not form.typed:
        problems["signature"] = SigningProblem.NO_SIGNATURE
    return problems
