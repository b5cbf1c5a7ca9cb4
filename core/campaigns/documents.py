"""Long campaign texts kept as Markdown files: the privacy statement and the terms, per language, and the files of
the agreements a participant accepts (filled in and recorded by :mod:`core.signup.agreements`).

Looked up as ``campaigns/<slug>/pages/<name>.<lang>.md``, then ``campaigns/_shared/pages/<name>.<lang>.md``
(texts all of an organisation's campaigns share), each first in the visitor's language, then in the campaign's
default language.
"""

from __future__ import annotations

from pathlib import Path

from core.campaigns.schema import Agreement

DOCUMENTS = ("privacy", "terms")
SHARED_FOLDER = "_shared"


def document_candidates(campaigns_dir: Path, slug: str, name: str, language: str) -> list[Path]:
    return [campaigns_dir / folder / "pages" / f"{name}.{language}.md" for folder in (slug, SHARED_FOLDER)]


def find_document(campaigns_dir: Path, slug: str, name: str, language: str, default_language: str) -> Path | None:
    for lang in dict.fromkeys([language, default_language]):
        for path in document_candidates(campaigns_dir, slug, name, lang):
            if path.is_file():
                return path
    return None


def agreement_file(campaigns_dir: Path, slug: str, agreement: Agreement, language: str) -> Path | None:
    """The file of ``agreement``'s text in exactly ``language``: ``<slug>/agreements/<id>.<version>.<lang>.md``,
    else the same name in ``_shared/agreements/``; None when neither exists."""
    name = f"{agreement.id}.{agreement.version}.{language}.md"
    for folder in (slug, SHARED_FOLDER):
        path = campaigns_dir / folder / "agreements" / name
        if path.is_file():
            return path
    return None
