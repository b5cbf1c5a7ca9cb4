"""The signing form's decisions (core/signup/signing.py), without a request: which field has which problem."""

from __future__ import annotations

from core.campaigns.schema import Agreement
from core.signup.agreements import AgreementText
from core.signup.signature import SignatureProblem
from core.signup.signing import TYPED_LENGTH, SigningForm, SigningProblem, signing_problems
from tests.test_hostile_input import SIGNATURE, data_url, drawing

MANDATE = AgreementText(
    Agreement.model_construct(id="mandate", version="v1", title=None), "en", "Mandate", "text", "a" * 64, {}
)
TERMS = AgreementText(
    Agreement.model_construct(id="terms", version="v2", title=None), "en", "Terms", "text", "b" * 64, {}
)
ACCEPTED = {"agree-mandate": "yes", "sha-mandate": "a" * 64, "agree-terms": "yes", "sha-terms": "b" * 64}


def problems(fields: dict[str, str], fee_options: set[str] | None = None) -> dict[str, object]:
    return signing_problems(SigningForm.read(fields), [MANDATE, TERMS], fee_options or set())


def test_a_complete_form_has_no_problems() -> None:
    assert problems({**ACCEPTED, "signature_typed": "Anna de Vries"}) == {}
    assert problems({**ACCEPTED, "signature_png": data_url(SIGNATURE)}) == {}
    assert problems({**ACCEPTED, "signature_typed": "Anna", "fee_option": "flat"}, {"flat", "share"}) == {}


def test_each_agreement_must_be_accepted_as_it_was_shown() -> None:
    fields = {**ACCEPTED, "agree-mandate": "on", "sha-terms": "c" * 64, "signature_typed": "Anna"}
    assert problems(fields) == {
        "agree-mandate": SigningProblem.NOT_ACCEPTED,
        "agree-terms": SigningProblem.TEXT_UPDATED,
    }


def test_a_fee_option_is_asked_only_when_there_are_options() -> None:
    fields = {**ACCEPTED, "signature_typed": "Anna"}
    assert problems(fields, {"flat", "share"}) == {"fee_option": SigningProblem.NO_FEE_OPTION}
    assert problems({**fields, "fee_option": "other"}, {"flat"}) == {"fee_option": SigningProblem.NO_FEE_OPTION}
    assert problems({**fields, "fee_option": "other"}) == {}


def test_a_refused_drawing_is_not_replaced_by_the_typed_name() -> None:
    blank = {**ACCEPTED, "signature_png": data_url(drawing(strokes=())), "signature_typed": "Anna"}
    assert problems(blank) == {"signature": SignatureProblem.BLANK}
    assert problems({**ACCEPTED, "signature_typed": "   "}) == {"signature": SigningProblem.NO_SIGNATURE}


def test_the_form_as_read() -> None:
    form = SigningForm.read(
        {"signature_png": data_url(SIGNATURE), "signature_typed": "  " + "x" * 300, "fee_option": ""}
    )
    assert form.drawing == SIGNATURE and form.drawing_refused is None
    assert form.typed == "x" * TYPED_LENGTH and form.fee_option is None
    refused = SigningForm.read({"signature_png": "data:image/gif;base64,R0lG"})
    assert refused.drawing is None and refused.drawing_refused is SignatureProblem.UNREADABLE


def test_a_corrupt_drawing_is_refused_even_where_weasyprint_made_pillow_lenient(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """WeasyPrint, imported by every app process for the mandate, sets Pillow to fill a damaged image with grey;
    a drawing whose pixel data is cut off (every chunk's length and checksum made right again) must still be
    refused."""
    import struct
    import zlib

    from PIL import ImageFile

    from core.signup.signature import signature_problem

    png = drawing()
    start = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[start : start + 4])[0]
    body = png[start + 8 : start + 8 + length // 2]  # the pixel data cut off halfway, its chunk made whole again
    chunk = struct.pack(">I", len(body)) + b"IDAT" + body + struct.pack(">I", zlib.crc32(b"IDAT" + body))
    damaged = png[:start] + chunk + png[start + 12 + length :]
    for lenient in (False, True):
        monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient)
        assert signature_problem(damaged) is SignatureProblem.UNREADABLE, lenient
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert signature_problem(drawing()) is None  # a whole drawing is still taken
