"""Languages: UI strings from the flask-babel catalogs in ``translations/``, language from the URL.

Dutch (or the campaign's default language) lives at ``/``, every other language under ``/<code>/``. The
Accept-Language header is consulted only on a first visit to an unprefixed page (no ``lang`` cookie yet).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from flask import g, has_request_context
from flask_babel import Babel
from werkzeug.routing import BaseConverter

SOURCE_LANGUAGE = "en"  # msgids are English
LANGUAGE_COOKIE = "lang"
# How dates and numbers are written per language: English for a European public is British English
# ('10 April 2020', '€500.00'), not American.
FORMAT_LOCALES = {"en": "en_GB"}
babel = Babel()


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


def long_date(value, language: str) -> str:  # type: ignore[no-untyped-def]
    """'10 april 2020' in Dutch, '10 April 2020' in English."""
    return format_date(value, format="long", locale=FORMAT_LOCALES.get(language, language))


def short_time(value, language: str) -> str:  # type: ignore[no-untyped-def]
    """'18:00' (the clock time as given: the caller converts it to the zone it means)."""
    return format_time(value, format="short", locale=FORMAT_LOCALES.get(language, language))
