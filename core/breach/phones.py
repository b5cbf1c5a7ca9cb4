"""Phone numbers as a dump writes them or a visitor types them, brought to one form: E.164 (``+31612345678``).

The index and the check must agree to the digit, so both go through :func:`normalise`. The national formats,
country codes and number plans are the ``phonenumbers`` library's job (Google's libphonenumber metadata); the only
rule of our own is how a number without ``+`` is read, because leaked dumps write international numbers without
it (``31612345678``).

``phonenumbers.parse`` takes about 50 µs, too slow for a dump of 533 million rows, so digits-only numbers in
international form take a fast path (:func:`_fast_international`) that applies the same metadata the library's
``is_valid_number`` applies, for the country codes where that is all the library would do. It only ever says
"valid, and here it is" or "ask the library"; ``tests/test_breach_phones.py`` checks it against the library.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

# What may stand between the digits of a number as written: spaces (also no-break ones), dashes, dots, slashes and
# brackets. Anything else (letters, a second '+', an extension) makes it no number for us.
_SEPARATORS = re.compile(r"[\s\-./()\u00a0\u2010-\u2015]+")
_WRITTEN = re.compile(r"\+?[0-9]+")
_MIN_NSN, _MAX_NSN = 2, 17  # the lengths of a national significant number phonenumbers accepts
_COUNTRY_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def shown(e164: str) -> str:
    """An E.164 number as people write it (``+31 6 12345678``), for pages and form fields."""
    return phonenumbers.format_number(phonenumbers.parse(e164), PhoneNumberFormat.INTERNATIONAL)


class NotAPhoneNumber(ValueError):
    """The text is no valid phone number. The message never repeats the text: it may be someone's number."""


def normalise(text: str, default_region: str) -> str:
    """The E.164 form of the phone number ``text`` (``+31612345678``), or :class:`NotAPhoneNumber`.

    The rule, in order:

    1. Spaces, dashes, dots, slashes and brackets are dropped; what is left must be digits, with at most a leading
       ``+``.
    2. ``+`` or ``00`` in front: an international number (``+31 6 12345678``, ``0031612345678``).
    3. Another leading ``0``: a national number of ``default_region`` (``06-12345678`` with ``NL``), read as
       phonenumbers reads it there (so ``011 31 ...`` with ``US`` works too).
    4. No ``+`` and no leading ``0`` (``31612345678``): tried as international first, since leaked dumps write
       numbers so; if that is no valid number, as a national number of ``default_region``.

    A number counts when phonenumbers calls it valid (``is_valid_number``: its country's plan has such numbers), as
    the sign-up form's phone field does. ``default_region`` is an ISO 3166 code such as ``NL``.
    """
    if text.isascii() and text.lstrip("+").isdigit() and text.count("+") <= 1:  # as dumps write it: no clean-up
        compact = text
    else:
        compact = _SEPARATORS.sub("", text.strip())
        if not _WRITTEN.fullmatch(compact):
            raise NotAPhoneNumber("not a phone number: only digits, with spaces, dashes or a leading + between them")
    if compact.startswith("+"):
        return _international(compact[1:])
    if compact.startswith("00"):
        return _international(compact[2:])
    if compact.startswith("0"):
        return _national(compact, default_region)
    try:
        return _international(compact)
    except NotAPhoneNumber:
        return _national(compact, default_region)


def _international(digits: str) -> str:
    fast = _fast_international(digits)
    if fast is not None:
        return fast
    return _valid_e164("+" + digits, None)


def _national(digits: str, region: str) -> str:
    return _valid_e164(digits, region)


def _valid_e164(text: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise NotAPhoneNumber("not a phone number this country plan knows") from None
    if not phonenumbers.is_valid_number(number):
        raise NotAPhoneNumber("not a valid phone number in its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


# -- the fast path ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    """What ``is_valid_number`` checks for one region: a number must fit the general description (``general``) and
    at least one of the number types (``types``), each as (lengths, pattern). Where several regions share a country
    code, ``leading_digits`` (if the region has them) claims a number for the region.

    For speed the checks for one length of number are one compiled pattern (the general description as a
    lookahead, the types that allow that length as alternatives), made the first time a number of that length
    comes: one ``fullmatch`` per number instead of a dozen."""

    leading_digits: re.Pattern[str] | None
    general: tuple[frozenset[int], str]
    types: tuple[tuple[frozenset[int], str], ...]
    _by_length: dict[int, re.Pattern[str] | None] = field(default_factory=dict, compare=False, repr=False)

    def accepts(self, nsn: str) -> bool:
        size = len(nsn)
        try:
            check = self._by_length[size]
        except KeyError:
            check = self._by_length[size] = self._check_for(size)
        return check is not None and check.fullmatch(nsn) is not None

    def _check_for(self, size: int) -> re.Pattern[str] | None:
        lengths, general = self.general
        if lengths and size not in lengths:
            return None
        alternatives = [pattern for allowed, pattern in self.types if not allowed or size in allowed]
        if not alternatives:
            return None
        return re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(f'(?:{pattern})' for pattern in alternatives)})")


@dataclass(frozen=True)
class _Plan:
    """A country code's regions in phonenumbers' order, and the national prefix its main region strips."""

    national_prefix: re.Pattern[str] | None
    regions: tuple[_Region, ...]

    def accepts(self, nsn: str) -> bool:
        if len(self.regions) == 1:
            return self.regions[0].accepts(nsn)
        # as phonenumbers picks the region of a shared code: the first whose leading digits match, or (for one
        # without leading digits) the first where the number is valid; the number is valid if valid there
        for region in self.regions:
            if region.leading_digits is not None:
                if region.leading_digits.match(nsn):
                    return region.accepts(nsn)
            elif region.accepts(nsn):
                return True
        return False


def _fast_international(digits: str) -> str | None:
    """``"+" + digits`` when phonenumbers would read it as exactly that valid number; None when only the library
    can tell (a number it calls invalid, a national prefix after the country code, a leading zero, odd lengths)."""
    for size in (1, 2, 3):  # country codes are prefix-free (ITU E.164), as phonenumbers' own search assumes
        code = digits[:size]
        if code in _COUNTRY_CODES:
            break
    else:
        return None
    plan = _plan(code)
    nsn = digits[size:]
    if plan is None or not (_MIN_NSN <= len(nsn) <= _MAX_NSN) or nsn.startswith("0"):
        return None
    # phonenumbers may strip a national prefix written after the country code (+31 06...): the library decides
    if plan.national_prefix is not None and plan.national_prefix.match(nsn):
        return None
    return "+" + digits if plan.accepts(nsn) else None


@functools.cache
def _plan(code: str) -> _Plan | None:
    """The compiled checks of a country code (None for the non-geographic ones: the library handles those)."""
    regions = []
    for region_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region_code.upper(), None)
        if metadata is None:
            if region_code == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
                return None
            continue
        region = _region(metadata)
        if region is None:
            return None
        regions.append(region)
    if not regions:
        return None
    main = phonenumbers.PhoneMetadata.metadata_for_region(
        phonenumbers.COUNTRY_CODE_TO_REGION_CODE[int(code)][0].upper(), None
    )
    prefix = main.national_prefix_for_parsing if main is not None else None
    return _Plan(re.compile(prefix) if prefix else None, tuple(regions))


def _region(metadata: phonenumbers.PhoneMetadata) -> _Region | None:
    general = metadata.general_desc
    if general is None or not general.national_number_pattern:
        return None
    # is_valid_number asks whether any type fits (mobile and fixed line first: most numbers in a leak are those)
    descs = [] if metadata.same_mobile_and_fixed_line_pattern else [metadata.mobile]
    descs += [
        metadata.fixed_line,
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
    ]
    types = tuple(
        (frozenset(desc.possible_length or ()), desc.national_number_pattern)
        for desc in descs
        if desc is not None and desc.national_number_pattern
    )
    leading = metadata.leading_digits
    return _Region(
        re.compile(leading) if leading is not None else None,
        (frozenset(general.possible_length or ()), general.national_number_pattern),
        types,
    )
