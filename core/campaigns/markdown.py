"""Markdown from campaign files, rendered safely: raw HTML is escaped and unsafe link schemes are refused."""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup

# commonmark with HTML off: '<script>' in a campaign file shows as text. markdown-it also refuses
# javascript:, vbscript:, file: and data: links by itself.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    return Markup(_md.render(text))  # noqa: S704 - markdown-it escapes all HTML in the source


@lru_cache(maxsize=4096)
def render_inline(text: str) -> Markup:
    """One paragraph without the <p>: for short texts such as a bullet."""
    return Markup(_md.renderInline(text))  # noqa: S704


# CommonMark lets a backslash escape every ASCII punctuation character, and an escaped one is always literal text:
# no heading, list, quote, emphasis, link, code, table cell, entity or HTML tag can start from it.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Characters that change how the text around them is shown rather than being shown themselves: control
# characters, and the bidirectional embeddings, overrides and isolates that can make a sentence read backwards.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain_text(value: str) -> str:
    """``value`` as Markdown that renders as exactly its text, on one line: what a visitor typed (a name) put into a
    Markdown text, so it can never add a heading, a paragraph, a link or any other markup.

    Line breaks and runs of white space become one space (a name has no paragraphs), control and bidirectional
    formatting characters are dropped, and every ASCII punctuation character is backslash-escaped.
    """
    visible = " ".join(_HIDDEN.sub("", " ".join(value.split())).split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", visible)
