"""ISO 3166 country codes, and the country a postal address ends in.

A company record's address ends in its country's name, "in the country's native language or in English"
(datenanfragen.de's rule), but the record has no country code; the catalogue needs one (which authority, which
language). Babel's territory names, in English and in the languages of the EU and EEA, read most last lines; a few
names Babel does not use ("United States of America", "UK") are added here. A last line none of them reads is left
for staff to fill: a wrong guess would send a complaint to the wrong authority.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale

# English first: a name that means two things in two languages is read as English.
_LANGUAGES = ("en", "nl", "de", "fr", "es", "it", "pt", "pl", "sv", "da", "fi", "nb", "cs", "sk", "sl", "hu", "ro")
_LANGUAGES += ("bg", "el", "hr", "et", "lv", "lt", "ga", "mt", "is")
# Codes Babel names that are no country: the EU, the eurozone, the UN, outlying Oceania, pseudo-locales, unknown.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})
_OTHER_NAMES = {
    "united states of america": "US",
    "usa": "US",
    "u.s.a": "US",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "the netherlands": "NL",
}


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code of a country or territory, in capitals."""
    return frozenset(code for code in Locale.parse("en").territories if _is_country(code))


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, str]:
    names = dict(_OTHER_NAMES)
    for language in _LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if _is_country(code):
                names.setdefault(name.casefold(), code)
    return names


def _is_country(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES


def country_of_address(address: str | None) -> str | None:
    """The ISO code of the country an address's last line names ("Ireland" -> "IE"), or None when it names none
    this module knows."""
    if not address or not address.strip():
        return None
    last = address.strip().splitlines()[-1].strip().rstrip(".,").casefold()
    return _codes_by_name().get(last)
