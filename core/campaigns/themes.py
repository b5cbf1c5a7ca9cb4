"""Themes: ``themes/<name>/{theme.yaml,templates/,static/}``; ``themes/default`` ends every lookup chain.

Lookup order for a campaign, for templates and static files alike:
campaign folder (``campaigns/<slug>/``) -> the campaign's theme -> ``themes/default`` [-> plugin folders].
So a campaign overrides one template (or one block, by extending ``theme:<name>/<template>``) without copying the
rest, and a theme overrides only what differs from the default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.security import safe_join

from core.campaigns.schema import ColourName, HexColour

DEFAULT_THEME = "default"


class ThemeManifest(BaseModel):
    """``theme.yaml``: what the theme is and its colours (a campaign may override each one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    colours: dict[ColourName, HexColour] = {}


class Themes:
    """The themes folder."""

    def __init__(self, themes_dir: Path, campaigns_dir: Path) -> None:
        self.themes_dir = themes_dir
        self.campaigns_dir = campaigns_dir

    def names(self) -> set[str]:
        """Themes that can be used: a folder with a valid ``theme.yaml`` (see :meth:`problems` for the others)."""
        return {p.parent.name for p in self.themes_dir.glob("*/theme.yaml") if self._load(p) is not None}

    def problems(self) -> list[str]:
        """Why each theme folder that cannot be used is broken."""
        found = []
        for path in sorted(self.themes_dir.glob("*/theme.yaml")):
            try:
                _read_manifest(path, path.stat().st_mtime_ns)
            except (OSError, yaml.YAMLError, ValidationError) as exc:
                found.append(f"{path}: {exc}")
        return found

    def manifest(self, name: str) -> ThemeManifest:
        path = self.themes_dir / name / "theme.yaml"
        return _read_manifest(path, path.stat().st_mtime_ns)

    @staticmethod
    def _load(path: Path) -> ThemeManifest | None:
        try:
            return _read_manifest(path, path.stat().st_mtime_ns)
        except (OSError, yaml.YAMLError, ValidationError):
            return None

    def colours(self, name: str, overrides: dict[str, str]) -> dict[str, str]:
        """The theme's colours (the default theme's where it sets none), then the campaign's overrides."""
        colours = dict(self.manifest(DEFAULT_THEME).colours)
        if name != DEFAULT_THEME:
            colours.update(self.manifest(name).colours)
        colours.update(overrides)
        return colours

    def folders(self, theme: str) -> list[Path]:
        """Every folder of ``theme`` that a campaign using it is served from: the theme's own, then the default's."""
        return [self.themes_dir / name for name in dict.fromkeys([theme, DEFAULT_THEME])]

    def chain(self, kind: Literal["templates", "static"], theme: str, slug: str | None = None) -> list[Path]:
        """The folders searched, first match wins: campaign -> theme -> default."""
        folders = []
        if slug is not None:
            folders.append(self.campaigns_dir / slug / kind)
        if theme != DEFAULT_THEME:
            folders.append(self.themes_dir / theme / kind)
        folders.append(self.themes_dir / DEFAULT_THEME / kind)
        return folders


@lru_cache(maxsize=64)
def _read_manifest(path: Path, mtime_ns: int) -> ThemeManifest:
    """A theme's manifest, read again only when the file changes (the mtime is part of the cache key)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return ThemeManifest.model_validate(data)


def find_file(folders: list[Path], name: str) -> Path | None:
    """The first existing ``name`` in ``folders``; names that would escape a folder are never found."""
    for folder in folders:
        joined = safe_join(str(folder), name)
        if joined is not None and Path(joined).is_file():
            return Path(joined)
    return None
