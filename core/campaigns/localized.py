"""Visitor-facing campaign text: one string per language, with fallback to the campaign's default language."""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")


class Localized(dict[str, str]):
    """A text in several languages, written in YAML as ``{nl: ..., en: ...}``.

    A missing language falls back to the campaign's default language (``flask campaigns check`` warns about it).
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        entries = core_schema.dict_schema(
            keys_schema=core_schema.str_schema(pattern=LANGUAGE_CODE.pattern),
            values_schema=core_schema.str_schema(min_length=1, strip_whitespace=True),
            min_length=1,
        )
        return core_schema.no_info_after_validator_function(cls, entries)

    def get_text(self, language: str, fallback: str) -> str:
        """The text in ``language``, else in ``fallback``, else in whichever language it has."""
        if language in self:
            return self[language]
        if fallback in self:
            return self[fallback]
        return next(iter(self.values()))


class LocalizedMarkdown(Localized):
    """Localized text written in Markdown (rendered safely: raw HTML is escaped, unsafe links refused)."""
