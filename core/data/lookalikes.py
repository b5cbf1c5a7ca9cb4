"""E-mail addresses that look like another one: refused on the forms, never folded into it.

Two addresses that look the same but are not (``jаn@example.org`` with a Cyrillic ``а``, or ``ｊａｎ@example.org``
in full-width letters, beside ``jan@example.org``) are two mailboxes, so folding one into the other
(:func:`core.data.hashing.normalise_email` does not) could merge two people; keeping both lets one person look like
another. So the sign-up form and the participant's login form refuse them, with a reason:

- **mixed scripts**: a local part, or a domain label, whose letters come from more than one script, judged as
  Unicode's UTS #39 does ("highly restrictive"): digits and ``. _ - +`` belong to every script; Japanese (Han,
  Hiragana, Katakana), Korean (Han, Hangul) and Chinese (Han, Bopomofo) count as one, with or without Latin. A
  wholly Cyrillic or wholly Greek local part is fine.
- **compatibility forms** in the local part: characters that Unicode's NFKC would turn into ordinary ones (full-
  width and superscript letters and digits, ligatures). In the domain IDNA folds them itself, as it should.
"""

from __future__ import annotations

import unicodedata
from enum import Enum
from functools import lru_cache

from fontTools import unicodedata as scripts  # the Unicode Script_Extensions property (WeasyPrint needs it too)

from core.data.hashing import normalise_domain

_ANY = frozenset({"Zyyy", "Zinh"})  # common and inherited: digits, punctuation, combining marks
# UTS #39: Han is written together with kana (Japanese), Hangul (Korean) or Bopomofo (Chinese).
_WRITTEN_WITH = {
    "Hani": {"Hanb", "Jpan", "Kore"},
    "Hira": {"Jpan"},
    "Kana": {"Jpan"},
    "Hang": {"Kore"},
    "Bopo": {"Hanb"},
}
_WITH_LATIN = {"Jpan", "Kore", "Hanb"}


class Lookalike(Enum):
    MIXED_SCRIPTS = "mixed-scripts"
    COMPATIBILITY_FORMS = "compatibility-forms"


@lru_cache(maxsize=4096)
def _scripts_of(char: str) -> frozenset[str] | None:
    """The scripts ``char`` is written in (None: any)."""
    found = set(scripts.script_extension(char))
    if found <= _ANY:
        return None
    for script in list(found):
        found |= _WRITTEN_WITH.get(script, set())
    return frozenset(found)


def _resolved(text: str) -> frozenset[str] | None:
    """The scripts every letter of ``text`` shares (None: no letter; empty: none in common)."""
    shared: frozenset[str] | None = None
    for char in text:
        own = _scripts_of(char)
        if own is not None:
            shared = own if shared is None else shared & own
    return shared


def mixes_scripts(text: str) -> bool:
    """Whether ``text``'s letters come from scripts that are not written together (UTS #39, highly restrictive)."""
    shared = _resolved(text)
    if shared is None or shared:
        return False
    without_latin = _resolved("".join(c for c in text if "Latn" not in (_scripts_of(c) or ())))
    return not (without_latin and without_latin & _WITH_LATIN)


def lookalike(address: str) -> Lookalike | None:
    """Why ``address`` (a valid address, as typed) could pass for another one, or None."""
    local, _at, domain = address.strip().rpartition("@")
    local = unicodedata.normalize("NFC", local)
    if unicodedata.normalize("NFKC", local) != local:
        return Lookalike.COMPATIBILITY_FORMS
    if mixes_scripts(local) or any(mixes_scripts(label) for label in normalise_domain(domain).split(".")):
        return Lookalike.MIXED_SCRIPTS
    return None
