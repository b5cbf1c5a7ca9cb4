"""Static files of campaigns and themes: looked up through the theme chain, fingerprinted, cached for a year.

A URL is ``/assets/<digest>/<file>``; the digest is the first 12 hex digits of the file's SHA-256, so a changed
file gets a new URL and browsers may keep every URL forever.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.campaigns import LoadedCampaign
from core.campaigns.themes import Themes, find_file

ONE_YEAR = 365 * 24 * 3600


class Assets:
    def __init__(self, themes: Themes) -> None:
        self.themes = themes
        self._digests: dict[tuple[Path, int], str] = {}

    def find(self, loaded: LoadedCampaign, filename: str) -> Path | None:
        return find_file(self.themes.chain("static", loaded.campaign.theme, loaded.slug), filename)

    def digest(self, path: Path) -> str:
        key = (path, path.stat().st_mtime_ns)
        digest = self._digests.get(key)
        if digest is None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            self._digests[key] = digest
        return digest

    def colours_css(self, loaded: LoadedCampaign) -> str:
        """The campaign's colours (theme defaults + its overrides) as CSS custom properties."""
        c = loaded.campaign
        colours = self.themes.colours(c.theme, dict(c.theme_overrides.colours))
        lines = [f"  --{name.replace('_', '-')}: {value};" for name, value in sorted(colours.items())]
        return ":root {\n" + "\n".join(lines) + "\n}\n"

    @staticmethod
    def text_digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:12]
