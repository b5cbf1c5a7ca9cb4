"""The texts a participant accepts: Markdown files per campaign, agreement, version and language.

``campaigns/<slug>/agreements/<id>.<version>.<lang>.md``, else ``campaigns/_shared/agreements/...``. A text may use
a few placeholders (``{{ campaign }}``, ``{{ organisation }}``, ``{{ target_company }}``, ``{{ participant }}``,
``{{ child }}``); it is rendered in a sandbox, since staff edit these files. The SHA-256 of the exact text shown is
recorded as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from ..campaigns import LoadedCampaign
from ..campaigns.schema import Agreement
from ..documents import SHARED_FOLDER
from ..hashing import sha256_hex
from ..markdown import render_markdown

_sandbox = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class AgreementText:
    agreement: Agreement
    language: str
    title: str
    text: str  # the Markdown exactly as shown, placeholders filled in
    sha256: str

    @property
    def html(self) -> Markup:
        return render_markdown(self.text)


def agreement_file(campaigns_dir: Path, slug: str, agreement: Agreement, language: str) -> Path | None:
    name = f"{agreement.id}.{agreement.version}.{language}.md"
    for folder in (slug, SHARED_FOLDER):
        path = campaigns_dir / folder / "agreements" / name
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=256)
def _compiled(path: Path, mtime_ns: int) -> Template:
    """``path``'s template, compiled once per version of the file (an edited file has another ``mtime_ns``)."""
    return _sandbox.from_string(path.read_text(encoding="utf-8"))


def agreement_text(campaigns_dir: Path, loaded: LoadedCampaign, agreement: Agreement, language: str,
                   participant: str = "", child: str = "") -> AgreementText:
    """The text of ``agreement`` in ``language`` (else the campaign's default language), filled in."""
    c = loaded.campaign
    path = agreement_file(campaigns_dir, c.slug, agreement, language)
    shown_language = language
    if path is None:
        shown_language = c.default_language
        path = agreement_file(campaigns_dir, c.slug, agreement, shown_language)
    if path is None:
        raise FileNotFoundError(f"no text for agreement {agreement.id} version {agreement.version}")
    template = _compiled(path, path.stat().st_mtime_ns)
    text = template.render(campaign=c.text(c.name, shown_language), organisation=c.organisation.name,
                           target_company=c.target_company, participant=participant, child=child)
    return AgreementText(agreement, shown_language, c.text(agreement.title, shown_language), text, sha256_hex(text))
