"""Is a Dutch text written in the campaign's form of address? ``address_form: je`` or ``u`` says how the UI, mails
and mandate address the visitor (:mod:`core.i18n`); the campaign's own texts should say the same, or a visitor
reads "u" in the hero and "je" in the form below it. ``flask campaigns check`` warns about each text that does not.

Only the words that can do nothing but address someone are looked for: je, jij, jou, jouw, jezelf (informal) and
u, uw, uzelf (formal). "Je" as in "je weet maar nooit" is informal Dutch too, so it counts.
"""

from __future__ import annotations

import re

WORDS = {
    "je": re.compile(r"(?<![\w'’-])(je|jij|jou|jouw|jezelf)(?![\w'’-])", re.IGNORECASE),
    "u": re.compile(r"(?<![\w'’.-])(u|uw|uzelf)(?![\w'’-]|\.\w)", re.IGNORECASE),
}


def other_form_words(text: str, form: str) -> list[str]:
    """The words of ``text`` (Dutch) that address the reader in the other form than ``form``, each once, in order
    (lower case); empty when the text keeps to ``form``."""
    other = "u" if form == "je" else "je"
    found: list[str] = []
    for match in WORDS[other].finditer(text):
        word = match.group(1).lower()
        if word not in found:
            found.append(word)
    return found


def first_line_of_other_form(text: str, form: str) -> int | None:
    """The line number (from 1) of the first word of ``text`` in the other form than ``form``; None if none."""
    match = WORDS["u" if form == "je" else "je"].search(text)
    return None if match is None else text.count("\n", 0, match.start()) + 1


def other_form_message(words: list[str], form: str) -> str:
    """The warning for a text that says ``words`` in a campaign whose address_form is ``form``."""
    said = ", ".join(f"'{word}'" for word in words)
    other = "u" if form == "je" else "je"
    return (
        f"this Dutch text says {said} ({other}), but the campaign's address_form is '{form}': visitors would be "
        f"addressed both ways. Write it with {'je/jouw' if form == 'je' else 'u/uw'}, or set address_form: {other} "
        "if the whole campaign says that"
    )
