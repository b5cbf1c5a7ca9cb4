"""Markdown from campaign files, rendered safely: raw HTML is escaped and unsafe link schemes are refused."""

from __future__ import annotations

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
