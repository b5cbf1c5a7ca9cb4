"""Agreement texts as templates: the sandbox they are filled in by, their placeholders, and what is wrong with one.

A text may use ``{{ campaign }}``, ``{{ organisation }}``, ``{{ target_company }}``, ``{{ participant }}``,
``{{ child }}`` and ``{{ companies }}`` (the companies a participant of a data request chose, or else the campaign's
target company); it is filled in by a sandboxed Jinja environment, since staff edit these files, and a placeholder
that does not exist is an error rather than an empty string (nobody should sign a text with a hole in it). That made
a typo (``{{ campain }}``), a malformed tag (``{{ campaign``) or a file that is not UTF-8 a server error on the
signing page; :func:`template_problems` finds each of them when the campaign is loaded, on its line.
:mod:`core.signup.agreements` fills the texts in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.schema import Campaign
from core.campaigns.text_files import decode_utf8

sandbox = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

CAMPAIGN_PLACEHOLDERS = ("campaign", "organisation", "target_company")  # from the campaign file
PARTICIPANT_PLACEHOLDERS = ("participant", "child", "companies")  # the visitor's own: personal data
PLACEHOLDERS = (*CAMPAIGN_PLACEHOLDERS, *PARTICIPANT_PLACEHOLDERS)
# What a visitor may have typed, for the trial fill-in: nothing (no child), and names as plain_text gives them.
_TRIAL_PARTICIPANTS = (
    {"participant": "", "child": "", "companies": ""},
    {"participant": r"Ann O\'Neil", "child": r"\*\*Kid\*\*", "companies": r"TikTok Technology Ltd. and ‘Acme \*BV\*’"},
)
# "{campaign}" with single braces is shown as written: almost certainly meant as a placeholder.
_SINGLE_BRACES = re.compile(r"(?<!\{)\{\s*(" + "|".join(PLACEHOLDERS) + r")\s*\}(?!\})")


def campaign_values(campaign: Campaign, language: str) -> dict[str, str]:
    """The values the campaign file gives its placeholders today, in ``language``."""
    return {
        "campaign": campaign.text(campaign.name, language),
        "organisation": campaign.organisation.name,
        "target_company": campaign.target_company,
    }


def template_problems(
    path: Path, campaign: Campaign, language: str, data: bytes
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """What is wrong with the agreement text ``path``, whose bytes the loader read (``data``) (problems: it cannot
    be filled in) and what looks wrong (warnings: a placeholder written with single braces shows as written), each
    on its line."""
    file = str(path)
    try:
        text = decode_utf8(path, data)
    except CampaignConfigError as exc:
        return exc.problems, []
    analysis = _analysed(text)
    problems = [ConfigProblem(file, *found) for found in analysis.problems]
    warnings = [ConfigProblem(file, *found) for found in analysis.warnings]
    if analysis.template is None or problems:
        return problems, warnings
    for participant in _TRIAL_PARTICIPANTS:
        try:
            analysis.template.render(**campaign_values(campaign, language), **participant)
        except Exception as exc:  # whatever the text makes the sandbox do, it is the text's problem
            line = _template_line(exc.__traceback__)
            return [ConfigProblem(file, line, "", f"cannot be filled in: {_first_line(exc)}")], warnings
    return [], warnings


# (line, field, message) of something wrong in a text, whichever file holds it.
_Found = tuple[int | None, str, str]


@dataclass(frozen=True)
class _Analysis:
    template: Template | None  # None when it does not compile
    problems: tuple[_Found, ...]
    warnings: tuple[_Found, ...]


@lru_cache(maxsize=256)
def _analysed(text: str) -> _Analysis:
    """What a text says wrong on its own, and its compiled template: once per text, however many campaigns and
    files share it (compiling is most of what checking a text costs)."""
    warnings = tuple(
        (
            text.count("\n", 0, match.start()) + 1,
            match.group(1),
            f"'{match.group(0)}' is shown as written; a placeholder is written {{{{ {match.group(1)} }}}}",
        )
        for match in _SINGLE_BRACES.finditer(text)
    )
    try:
        tree = sandbox.parse(text)
        template = sandbox.from_string(tree)  # unknown filters and tests are found here
    except TemplateSyntaxError as exc:
        return _Analysis(None, ((exc.lineno, "", f"is not a valid template: {exc.message}"),), warnings)
    unknown = sorted(meta.find_undeclared_variables(tree) - set(PLACEHOLDERS))
    problems = tuple(
        (
            next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None),
            name,
            f"no placeholder '{name}'; the placeholders are {', '.join(PLACEHOLDERS)}",
        )
        for name in unknown
    )
    return _Analysis(template, problems, warnings)


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line a rendering error happened on (Jinja puts the template's lines in the traceback)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _first_line(exc: Exception) -> str:
    return (str(exc).split("\n")[0] or type(exc).__name__)[:200]


def filled_text(text: str, values: Mapping[str, str]) -> str:
    """``text`` (an agreement text as loaded) with ``values`` filled in."""
    template = _analysed(text).template
    return (template if template is not None else sandbox.from_string(text)).render(**values)
