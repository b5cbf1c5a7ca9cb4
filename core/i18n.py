"""Languages: UI strings from the flask-babel catalogs in ``translations/``, language from the URL.

Dutch (or the campaign's default language) lives at ``/``, every other language under ``/<code>/``. The URL
alone says the language (no cookie, no Accept-Language), so a shared cache may keep a public page by its URL; a
page suggests the browser's own language in the browser (``themes/default/static/js/language_notice.js``).

How the visitor is addressed is the campaign's choice (``address_form``): the Dutch UI strings say "je"
(``messages.po``); a campaign that says "u" gets ``formal.po`` on top, which holds only the strings that address
the visitor, in the "u" form, with ``messages.po`` as its fallback (:class:`AddressFormDomain`). The form follows the
campaign wherever its text is made: set for each request by its campaign, for each job by the job's campaign, and
around each mail and mandate rendered for a campaign (:func:`addressing`). A second catalog rather than a second
set of msgids keeps the templates and code free of the choice, and a test keeps ``formal.po`` complete: every
Dutch string that says "je" has its "u" form there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Literal

from babel import support
from babel.dates import format_date, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit
from flask import Flask, g, has_app_context, has_request_context
from flask_babel import Babel, Domain, get_locale
from werkzeug.routing import BaseConverter

SOURCE_LANGUAGE = "en"  # msgids are English
# How dates and numbers are written per language: English for a European public is British English
# ('10 April 2020', '€500.00'), not American.
FORMAT_LOCALES = {"en": "en_GB"}
babel = Babel()
AddressForm = Literal["je", "u"]
FORMAL_DOMAIN = "formal"  # translations/<lang>/LC_MESSAGES/formal.po: the "u" form of strings that say "je"


class AddressFormDomain(Domain):
    """The UI catalog of the current locale, in the campaign's form of address: for "u", the formal catalog with
    the usual one as its fallback (each made once per locale and kept, as flask-babel keeps its own)."""

    def __init__(self) -> None:
        super().__init__(domain="messages")
        self._formal: dict[str, support.NullTranslations] = {}

    def get_translations(self) -> support.NullTranslations:
        usual = super().get_translations()
        if not has_app_context() or g.get("address_form") != "u":
            return usual
        locale = str(get_locale())
        formal = self._formal.get(locale)
        if formal is None:
            formal = usual
            for directory in self.translation_directories:
                found = support.Translations.load(directory, [locale], FORMAL_DOMAIN)
                if isinstance(found, support.Translations):  # a formal catalog for this language
                    found.add_fallback(usual)
                    formal = found
                    break
            self._formal[locale] = formal
        return formal


def init_babel(app: Flask, translations_dir: Path) -> None:
    """flask-babel for ``app``: the language from the URL (:func:`select_locale`), the catalogs of
    ``translations_dir``, in the form of address of the campaign at hand (:class:`AddressFormDomain`)."""
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(translations_dir))
    babel.domain_instance = AddressFormDomain()  # replaces flask-babel's own (a cached property, set once)


def use_address_form(form: AddressForm) -> None:
    """Address the visitor in ``form`` for the rest of this app context (a request, or a job)."""
    g.address_form = form


@contextmanager
def addressing(form: AddressForm) -> Iterator[None]:
    """Address the visitor in ``form`` within the block (a mail or document made for a campaign), then as before."""
    before = g.get("address_form")
    g.address_form = form
    try:
        yield
    finally:
        g.address_form = before


class LanguageConverter(BaseConverter):
    """``/<lang:lang>/``: a two-letter code; whether the campaign offers it is checked in the view."""

    regex = "[a-z]{2}"


def ui_languages(translations_dir: Path) -> set[str]:
    """Languages the UI is translated into: English (the source) and every catalog in ``translations/``."""
    return {SOURCE_LANGUAGE} | {p.name for p in translations_dir.glob("*/LC_MESSAGES/messages.po")}


def catalog_gettext(translations_dir: Path, language: str) -> Callable[[str], str]:
    """``gettext`` for ``language`` read straight from its ``.po`` catalog, for commands that run without an app (and
    perhaps before ``pybabel compile``). A string not in it (or a fuzzy or empty one) stays in English, as the
    site shows it."""
    path = translations_dir / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE_LANGUAGE or not path.is_file():
        return lambda message: message
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if isinstance(m.id, str) and m.string and not m.fuzzy}
    return lambda message: translated.get(message, message)


def select_locale() -> str:
    return getattr(g, "lang", SOURCE_LANGUAGE) if has_request_context() else SOURCE_LANGUAGE


def money(amount: Decimal | int | float, language: str, currency: str = "EUR") -> str:
    """'€ 500,00' in Dutch, '€500.00' in English."""
    return format_currency(Decimal(str(amount)), currency, locale=FORMAT_LOCALES.get(language, language))


def number(value: int, language: str) -> str:
    """'12.345' in Dutch, '12,345' in English."""
    return format_decimal(value, locale=FORMAT_LOCALES.get(language, language))


# Decimal units, as a file manager on a phone and the page's "up to 500 MB" count them (1 MB = 1,000,000 bytes).
_SIZE_UNITS = (
    (1000**3, "digital-gigabyte", "#,##0.##"),
    (1000**2, "digital-megabyte", "#,##0.#"),
    (1000, "digital-kilobyte", "#,##0"),
)


def file_size(size: int, language: str) -> str:
    """A size in bytes as a person reads it: '1,3 MB' in Dutch, '1.3 MB' in English, '512 byte' / '512 bytes'."""
    locale = FORMAT_LOCALES.get(language, language)
    for unit_bytes, unit, pattern in _SIZE_UNITS:
        if size >= unit_bytes - unit_bytes // 2000:  # what rounds up to 1 of a unit is 1 of it: never "1,000 kB"
            return format_unit(size / unit_bytes, unit, length="short", format=pattern, locale=locale)
    return format_unit(size, "digital-byte", length="long", locale=locale)


def long_date(value, language: str) -> str:  # type: ignore[no-untyped-def]
    """'10 april 2020' in Dutch, '10 April 2020' in English."""
    return format_date(value, format="long", locale=FORMAT_LOCALES.get(language, language))


def short_time(value, language: str) -> str:  # type: ignore[no-untyped-def]
    """'18:00' (the clock time as given: the caller converts it to the zone it means)."""
    return format_time(value, format="short", locale=FORMAT_LOCALES.get(language, language))
