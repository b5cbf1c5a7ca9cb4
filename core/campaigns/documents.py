"""Long campaign texts kept as Markdown files: the privacy statement and the terms, per language, and the files of
the agreements a participant accepts (filled in and recorded by :mod:`core.signup.agreements`).

Looked up as ``campaigns/<slug>/pages/<name>.<lang>.md``, then ``campaigns/_shared/pages/<name>.<lang>.md``
(texts all of an organisation's campaigns share), each first in the visitor's language, then in the campaign's
default language.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.campaigns.schema import Agreement, Campaign

DOCUMENTS = ("privacy", "terms")
SHARED_FOLDER = "_shared"


def document_candidates(campaigns_dir: Path, slug: str, name: str, language: str) -> list[Path]:
    return [campaigns_dir / folder / "pages" / f"{name}.{language}.md" for folder in (slug, SHARED_FOLDER)]


def find_document(
    campaigns_dir: Path,
    slug: str,
    name: str,
    language: str,
    default_language: str,
    exists: Callable[[Path], bool] = Path.is_file,
) -> Path | None:
    """The page ``name`` in ``language`` (else the default language); ``exists`` says which files there are (the
    disk's, or those a loaded campaign holds)."""
    for lang in dict.fromkeys([language, default_language]):
        for path in document_candidates(campaigns_dir, slug, name, lang):
            if exists(path):
                return path
    return None


def agreement_file(
    campaigns_dir: Path, slug: str, agreement: Agreement, language: str, exists: Callable[[Path], bool] = Path.is_file
) -> Path | None:
    """The file of ``agreement``'s text in exactly ``language``: ``<slug>/agreements/<id>.<version>.<lang>.md``,
    else the same name in ``_shared/agreements/``; None when neither exists."""
    name = f"{agreement.id}.{agreement.version}.{language}.md"
    for folder in (slug, SHARED_FOLDER):
        path = campaigns_dir / folder / "agreements" / name
        if exists(path):
            return path
    return None


def shared_files(campaigns_dir: Path, campaign: Campaign) -> list[Path]:
    """The files under ``_shared/`` that ``campaign``'s pages and agreements may be taken from, whether they exist
    or not (adding one can change the campaign as much as editing it)."""
    shared = campaigns_dir / SHARED_FOLDER
    files = [shared / "pages" / f"{name}.{language}.md" for name in DOCUMENTS for language in campaign.languages]
    if campaign.signup is not None:
        files.append(shared / "agreements" / "SHA256SUMS")  # core.campaigns.locks
        files += [
            shared / "agreements" / f"{agreement.id}.{agreement.version}.{language}.md"
            for agreement in campaign.signup.agreements
            for language in campaign.languages
        ]
    return files
