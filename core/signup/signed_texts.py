"""A signed agreement text never changes: the site records each text file people signed (its SHA-256, before the
placeholders are filled in) and refuses a campaign whose file no longer has it.

The lock files beside the texts (:mod:`core.campaigns.locks`) catch an edit before it is deployed, without a
database; this catches what they cannot: a lock line removed or never written for a text that people have signed
since. A refused campaign keeps serving its last good version in a running process, and the problem says to put
the change in a new version.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.campaigns import ConfigProblem, LoadedCampaign
from core.campaigns.documents import agreement_file
from core.campaigns.locks import file_sha256
from core.campaigns.schema import Agreement
from core.data.db import Database, dialect_insert, is_missing_table
from core.data.hashing import sha256_hex
from core.data.models import SignedText
from core.signup.agreements import AgreementText

log = logging.getLogger(__name__)


def record_signed(session: Session, campaign: str, texts: Iterable[AgreementText]) -> None:
    """Note, in the signing's own transaction, the text files signed (once per file: a row that exists stays)."""
    rows = [
        {
            "campaign": campaign,
            "agreement": text.agreement.id,
            "version": text.agreement.version,
            "language": text.language,
            "file_sha256": text.file_sha256,
        }
        for text in texts
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = dialect_insert(dialect, SignedText)
    session.execute(insert.values(rows).on_conflict_do_nothing())


def signed_texts_rule(database: Database, campaigns_dir: Path) -> Callable[[LoadedCampaign], list[ConfigProblem]]:
    """A rule for the campaign registry: the problems of ``loaded``'s signed texts whose files changed or went."""

    def rule(loaded: LoadedCampaign) -> list[ConfigProblem]:
        try:
            with database.sessions() as session:
                rows = session.execute(
                    select(SignedText.agreement, SignedText.version, SignedText.language, SignedText.file_sha256).where(
                        SignedText.campaign == loaded.slug
                    )
                ).all()
        except SQLAlchemyError as exc:
            if is_missing_table(exc):
                return []  # a database without tables: nothing was signed in it
            log.warning("signed agreement texts of %s not compared: %s", loaded.slug, type(exc).__name__)
            return []
        return _problems(loaded, campaigns_dir, rows)

    return rule


def _sha256(loaded: LoadedCampaign, path: Path) -> str:
    """The digest of ``path`` as the campaign was loaded with it (read then), else as the file is."""
    data = loaded.texts.get(path)
    return sha256_hex(data) if data is not None else file_sha256(path)


def _problems(
    loaded: LoadedCampaign, campaigns_dir: Path, rows: Iterable[tuple[str, str, str, str]]
) -> list[ConfigProblem]:
    signed: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for agreement, version, language, digest in rows:
        signed[(agreement, version, language)].add(digest)
    current = [(a.id, a.version) for a in loaded.campaign.signup.agreements] if loaded.campaign.signup else []
    problems = []
    for (agreement, version, language), digests in sorted(signed.items()):
        path = agreement_file(
            campaigns_dir, loaded.slug, Agreement.model_construct(id=agreement, version=version), language
        )
        name = f"{agreement}.{version}.{language}.md"
        if path is None:
            message = f"{name} has been signed and is gone: restore it; it is the evidence of what people signed"
        elif _sha256(loaded, path) not in digests:
            message = (
                f"{path} has been signed, and changed since: a signed text never changes. Undo the edit, and put the "
                f"change in a new version ({agreement}.<new version>.{language}.md) named here; those who signed the "
                "old version keep it"
            )
        else:
            continue
        loc: tuple[object, ...] = ("signup", "agreements")
        if (agreement, version) in current:
            loc = (*loc, current.index((agreement, version)), "version")
        field = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in loc).replace(".[", "[")
        problems.append(ConfigProblem(str(loaded.path), loaded.line_of(loc), field, message))
    return problems
