"""Phone numbers as dumps write them and visitors type them, brought to E.164 (core.breach.phones), and the keyed
digest that stands for them (core.breach.numbers)."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from core.breach import phones
from core.breach.numbers import NumberDigester, digest_key, key_check, number_digest
from core.breach.phones import NotAPhoneNumber, normalise


@pytest.mark.parametrize(
    ("written", "region", "e164"),
    [
        ("+31 6 12345678", "NL", "+31612345678"),
        ("+31612345678", "NL", "+31612345678"),
        ("0031612345678", "NL", "+31612345678"),
        ("0031 6 1234 5678", "DE", "+31612345678"),  # 00 is international whatever the region
        ("31612345678", "NL", "+31612345678"),  # a dump's way: international without +
        ("31612345678", "BE", "+31612345678"),
        ("06-12345678", "NL", "+31612345678"),
        ("06 12 34 56 78", "NL", "+31612345678"),
        ("(06) 1234.5678", "NL", "+31612345678"),
        ("612345678", "NL", "+31612345678"),  # no country code and no 0: +61 2345678 is no number, so NL's
        ("  +31\u00a06\u00a012345678 ", "NL", "+31612345678"),  # no-break spaces
        ("+32 470 12 34 56", "NL", "+32470123456"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("4915112345678", "NL", "+4915112345678"),
        ("+1 650-253-0000", "NL", "+16502530000"),
        ("16502530000", "NL", "+16502530000"),
        ("011 31 6 12345678", "US", "+31612345678"),  # the US's international prefix, read by phonenumbers
        ("+44 7912 345678", "NL", "+447912345678"),
        ("+31 06 12345678", "NL", "+31612345678"),  # a national 0 after the country code
    ],
)
def test_numbers_in_every_usual_format_come_out_in_e164(written: str, region: str, e164: str) -> None:
    assert normalise(written, region) == e164


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "+",
        "abc",
        "06-1234",
        "+31 6 1234",
        "0612345678x",
        "+31 6 12345678 ext 12",
        "++31612345678",
        "12",
        "+999 1234567",
        "06123456789012345678901",
        "0031abc",
    ],
)
def test_what_is_no_number_is_refused_without_repeating_it(garbage: str) -> None:
    with pytest.raises(NotAPhoneNumber) as refused:
        normalise(garbage, "NL")
    digits = "".join(ch for ch in garbage if ch.isdigit())
    assert len(digits) < 3 or digits not in str(refused.value)


def test_the_fast_path_gives_what_phonenumbers_gives() -> None:
    """Every region's example numbers, changed a little at random, read through the fast path and through
    phonenumbers itself: the fast path says the same number or defers, never another answer."""
    rng = random.Random(19)
    compared = fast = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            code = str(example.country_code)
            nsn = phonenumbers.national_significant_number(example)
            for _ in range(25):
                digits = list(nsn)
                for _ in range(rng.randint(0, 3)):
                    digits[rng.randrange(len(digits))] = rng.choice("0123456789")
                if rng.random() < 0.15:
                    digits.append(rng.choice("0123456789"))
                if rng.random() < 0.15 and len(digits) > 3:
                    digits.pop()
                if rng.random() < 0.1:
                    digits.insert(0, "0")
                international = code + "".join(digits)
                answer = phones._fast_international(international)
                try:
                    library = phonenumbers.format_number(
                        parsed := phonenumbers.parse("+" + international, None), phonenumbers.PhoneNumberFormat.E164
                    )
                    library = library if phonenumbers.is_valid_number(parsed) else None
                except phonenumbers.NumberParseException:
                    library = None
                compared += 1
                if answer is not None:
                    fast += 1
                    assert answer == library, f"fast path {answer}, phonenumbers {library} ({region})"
    assert compared > 10_000 and fast > compared // 3  # the fast path did take most valid numbers


def test_the_fast_path_takes_the_common_dump_formats() -> None:
    for digits in ("31612345678", "4915112345678", "32470123456", "447912345678", "16502530000"):
        assert phones._fast_international(digits) == "+" + digits


def test_the_digest_is_keyed_and_short() -> None:
    key, other = digest_key("k" * 48), digest_key("j" * 48)
    digest = number_digest(key, "+31612345678")
    assert len(digest) == 8 and len(key) == 32
    assert digest == number_digest(key, "+31612345678") == NumberDigester(key)("+31612345678")
    assert digest != number_digest(other, "+31612345678") and digest != number_digest(key, "+31612345679")
    assert key_check(key) != key_check(other) and "k" not in key_check(key).replace("k", "")
    assert len(digest_key("x" * 200)) == 32  # a key text of any length
