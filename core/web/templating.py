"""The Jinja loader: every template name says which chain it is looked up in, so Jinja's cache stays valid.

Names (the campaign or theme is part of the name, never chosen per request inside the loader):

``campaign:<slug>/<template>``  campaign folder -> the campaign's theme -> default theme -> plugin folders
``theme:<name>/<template>``     that theme -> default theme -> plugin folders (to extend what you override)
``default:<template>``          default theme -> plugin folders
``<template>``                  same as ``default:``
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jinja2 import BaseLoader, Environment, TemplateNotFound

from core.campaigns import CampaignRegistry
from core.campaigns.themes import DEFAULT_THEME, Themes, find_file


class ChainLoader(BaseLoader):
    def __init__(self, themes: Themes, registry: CampaignRegistry, plugin_dirs: Callable[[], list[Path]]) -> None:
        self.themes = themes
        self.registry = registry
        self.plugin_dirs = plugin_dirs

    def _folders(self, template: str) -> tuple[list[Path], str, str | None]:
        """(folders to search, the template's own name, the campaign whose config the answer depends on)."""
        if template.startswith("campaign:"):
            slug, _, name = template[len("campaign:") :].partition("/")
            loaded = self.registry.snapshot.campaigns.get(slug)
            if loaded is None:
                raise TemplateNotFound(template)
            return self.themes.chain("templates", loaded.campaign.theme, slug), name, slug
        if template.startswith("theme:"):
            theme, _, name = template[len("theme:") :].partition("/")
            return self.themes.chain("templates", theme), name, None
        name = template.removeprefix("default:")
        return self.themes.chain("templates", DEFAULT_THEME), name, None

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        folders, name, slug = self._folders(template)
        path = find_file([*folders, *self.plugin_dirs()], name)
        if path is None:
            raise TemplateNotFound(template)
        mtime = path.stat().st_mtime_ns
        loaded = self.registry.snapshot.campaigns.get(slug) if slug else None

        def uptodate() -> bool:
            # A reload may change a campaign's theme or add an override to its folder, so a campaign-chain name
            # stays valid only while that campaign is served from the same loaded object (a reload that did not
            # read it again keeps it, and with it every compiled template of the campaign).
            if slug is not None and self.registry.snapshot.campaigns.get(slug) is not loaded:
                return False
            try:
                return path.stat().st_mtime_ns == mtime
            except OSError:
                return False

        return path.read_text(encoding="utf-8"), str(path), uptodate
