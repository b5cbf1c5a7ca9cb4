"""Dates written in prose that went stale: "Het verzoek wordt op 22 november 2021 ingediend", read in 2026.

A campaign's texts are written once and read for years. A sentence that speaks of a date as still to come ("wordt
... ingediend", "will be submitted", "uiterlijk in januari 2022") becomes untrue once that date has passed, and
nothing on the page tells the visitor so. ``flask campaigns check`` warns about each such sentence, with the file,
the line and the sentence, so staff rewrite it (in the past tense, saying only what is known to have happened), or
write the plan as a milestone, whose date is a date the page follows (:mod:`core.campaigns.milestones`).

What counts: a date in Dutch or English prose ("22 november 2021", "22 November 2021", "November 22, 2021",
"januari 2022", "in 2022") whose day, month or year has ended, in a sentence with a word that speaks of the future
(wordt, zal, volgt, uiterlijk, will, going to, due, ...), unless it reports what someone said then ("stelde dat",
"stated that"). A day and month without a year in such a sentence is warned about too: nobody can tell whether it
has passed; and so is a date counted from the day it was written ("8 september jl.", "next November"), in any
tense. Texts that are history by nature (updates, news: each plugin's settings model says so with
``historical_texts = True``) are never warned about: their dates are facts. Nor are milestones, checked by their
own module.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from core.campaigns.errors import ConfigProblem
from core.campaigns.loader import LoadedCampaign, campaign_texts, path_of_field

MONTHS = {
    name: number
    for names in (
        "januari februari maart april mei juni juli augustus september oktober november december",
        "january february march april may june july august september october november december",
    )
    for number, name in enumerate(names.split(), start=1)
}
_MONTH = "(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"
_YEAR = r"(?P<year>(19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)"
# Most precise first: a match is taken out of the sentence before the next pattern looks.
DATE_PATTERNS = [
    re.compile(rf"\b{_DAY}\s+{_MONTH}\s+{_YEAR}\b", re.IGNORECASE),  # 22 november 2021
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),  # November 22, 2021
    re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.IGNORECASE),  # januari 2022
    re.compile(rf"\b{_DAY}\s+{_MONTH}\b(?!\s+(19|20)\d\d)", re.IGNORECASE),  # maandag 22 november (no year)
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!,?\s+(19|20)\d\d)", re.IGNORECASE),  # on November 22 (no year)
    re.compile(rf"\b(in|eind|begin|voor|before|by|early|late|end of)\s+{_YEAR}\b", re.IGNORECASE),  # in 2022
]
# A date counted from the day it was written ("8 september jl.", "aanstaande 6 november", "last September"): true
# for a few weeks, then wrong, whatever the tense of the sentence.
_ANY_MONTH = "(" + "|".join(MONTHS) + ")"
# "this may be" is no date: after this/next/last, May counts only with its capital.
_MONTH_AFTER_WORD = "(" + "|".join(m for m in MONTHS if m != "may") + "|(?-i:May))"
RELATIVE = re.compile(
    rf"\b([0-3]?\d\s+{_ANY_MONTH}\s+(jl\.|jongstleden|a\.s\.|aanstaande)"
    rf"|(aanstaande|afgelopen|vorige|komende|last|next|this|coming)\s+([0-3]?\d\s+)?{_MONTH_AFTER_WORD}\b)"
    r"(?!\s+(19|20)\d\d)",
    re.IGNORECASE,
)
# Words that put a sentence in the future: Dutch uses the present tense for it too, so "wordt" and "volgt" count.
FUTURE = re.compile(
    r"\b(wordt|worden|zal|zullen|zult|volgt|volgen|gaat|gaan|binnenkort|uiterlijk|verwacht|verwachten|gepland"
    r"|will|shall|going to|is due|are due|is to be|are to be|scheduled|planned|expected|upcoming|soon|at the latest"
    r"|no later than)\b",
    re.IGNORECASE,
)
# Reported speech: "Op 27 maart 2020 stelde Zoom dat het opnames zal maken" tells what was said then, not a promise.
REPORTED = re.compile(
    r"\b(stelde|stelden|zei|zeiden|meldde|meldden|schreef|schreven|kondigde|kondigden|verklaarde|verklaarden|beloofde"
    r"|beloofden|stated|said|announced|wrote|reported|claimed|declared|promised)\b",
    re.IGNORECASE,
)
# A date after these words names the past it is counted from or belongs to ("sinds 25 mei 2018", "the leak of April
# 2021"), not something to come, whatever the rest of the sentence says.
_PAST_REFERENCE = re.compile(r"\b(sinds|since|na|after|van|of|uit|from)\s+$", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


@dataclass(frozen=True)
class ProseDate:
    """A date found in a sentence: the words as written, and the last day it may mean (None: no year given);
    ``relative`` when it is counted from the day it was written."""

    written: str
    last_day: dt.date | None
    relative: bool = False


def prose_dates(sentence: str) -> Iterator[ProseDate]:
    """Every date written in ``sentence``, each once (the most precise reading of each)."""
    rest = sentence
    for pattern in DATE_PATTERNS:
        for match in list(pattern.finditer(rest)):
            found = _read(match)
            if found is None:
                continue
            rest = rest[: match.start()] + " " * len(match.group(0)) + rest[match.end() :]
            if not _PAST_REFERENCE.search(sentence[: match.start()]):
                yield found


def _read(match: re.Match[str]) -> ProseDate | None:
    parts = match.groupdict()
    year = int(parts["year"]) if parts.get("year") else None
    month = MONTHS[parts["month"].lower()] if parts.get("month") else None
    day = int(parts["day"]) if parts.get("day") else None
    if year is None:
        return ProseDate(match.group(0), None) if day and 1 <= day <= 31 else None
    if month is None:
        return ProseDate(match.group(0), dt.date(year, 12, 31))
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return ProseDate(match.group(0), dt.date(year, month, last))
    return ProseDate(match.group(0), dt.date(year, month, day)) if 1 <= day <= last else None


def sentences(text: str) -> Iterator[str]:
    """The sentences of a text, each on one line (Markdown's line breaks inside a paragraph are spaces)."""
    for part in SENTENCE_END.split(text):
        sentence = " ".join(part.split())
        if sentence:
            yield sentence


def stale_sentences(text: str, today: dt.date) -> Iterator[tuple[str, ProseDate]]:
    """(sentence, date) for each sentence of ``text`` that speaks of a passed (or year-less) date as to come."""
    for sentence in sentences(text):
        relative = [ProseDate(match.group(0), None, relative=True) for match in RELATIVE.finditer(sentence)]
        for found in relative:
            yield sentence, found
        if relative or not FUTURE.search(sentence) or REPORTED.search(sentence):
            continue  # one warning a sentence is enough to have it rewritten
        for found in prose_dates(sentence):
            if found.last_day is None or found.last_day < today:
                yield sentence, found


def stale_dates(campaigns: Iterable[LoadedCampaign], today: dt.date) -> list[ConfigProblem]:
    """A warning for each sentence of the campaigns' texts that speaks of a date as to come when it has passed (or
    gives no year); texts that are history by nature are left alone."""
    found = []
    for loaded in campaigns:
        file_text = loaded.source
        for loc, texts in campaign_texts(loaded.campaign, loaded.plugin_settings, historical=False):
            if loc[:1] == ("milestones",):
                continue  # dated by their own date, checked by core.campaigns.milestones
            for language, text in texts.items():
                for sentence, date in stale_sentences(text, today):
                    line = _line_of(file_text, loaded.line_of((*loc, language)), date.written)
                    found.append(
                        ConfigProblem(str(loaded.path), line, path_of_field((*loc, language)), _say(sentence, date))
                    )
    return found


def _say(sentence: str, date: ProseDate) -> str:
    if date.relative:
        return (
            f'"{sentence}": {date.written} is counted from the day it was written, and wrong a few weeks later; '
            "write the date with its year, or rewrite the sentence"
        )
    if date.last_day is None:
        return (
            f'"{sentence}" speaks of {date.written} as still to come, without a year: nobody can tell whether it '
            "has passed; write the year, or rewrite the sentence"
        )
    return (
        f'"{sentence}" speaks of {date.written} as still to come, but that date has passed: say what happened, '
        "in the past tense, or take the date out"
    )


def _line_of(file_text: str, key_line: int | None, written: str) -> int | None:
    """The line where ``written`` (which the YAML may have wrapped over two lines) first appears from the line of
    its text's key; the key's line when it cannot be found (an escaped or folded form)."""
    if key_line is None:
        return None
    start = 0
    for _ in range(key_line - 1):
        start = file_text.find("\n", start) + 1
    words = r"\s+".join(re.escape(word) for word in written.split())
    match = re.compile(words, re.IGNORECASE).search(file_text, start)
    return key_line if match is None else file_text.count("\n", 0, match.start()) + 1
