"""The plugin manager: discovers plugins through entry points and runs per-campaign hooks only where enabled."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import pluggy
from pydantic import BaseModel

from core import hookspecs
from core.hookspecs import PROJECT, hookimpl

ENTRY_POINT_GROUP = "claimsite.plugins"
CORE_PACKAGE = "core."

__all__ = ["ENTRY_POINT_GROUP", "PluginHost", "hookimpl"]


class PluginHost:
    """All installed plugins of one app, and the hooks each campaign may call."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        self.pm.check_pending()  # a misspelt hook name in a plugin fails loudly here
        self._subset_cache: dict[tuple[str, frozenset[str]], Any] = {}

    @property
    def names(self) -> list[str]:
        """The plugins a campaign may enable. Core's own built-in plugins (``core_mail``, ``core_signup``: modules of
        the ``core`` package, registered by the same entry points) are left out: they take no settings and serve
        every campaign, so a campaign file neither names them nor sees them listed."""
        return sorted(
            name
            for name, plugin in self.pm.list_name_plugin()
            if name is not None and not getattr(plugin, "__name__", "").startswith(CORE_PACKAGE)
        )

    @cached_property
    def settings_schemas(self) -> Mapping[str, type[BaseModel]]:
        """Plugin name -> its settings model (a plugin without the hook takes no settings)."""
        schemas: dict[str, type[BaseModel]] = {name: _NoSettings for name in self.names}
        for impl in self.pm.hook.claimsite_settings_schema.get_hookimpls():
            schemas[impl.plugin_name] = impl.function()
        return schemas

    def template_dirs(self) -> list[Any]:
        return [path for paths in self.pm.hook.claimsite_template_dirs() for path in paths]

    def call(self, hook_name: str, enabled: frozenset[str], **kwargs: Any) -> Any:
        """Call a per-campaign hook on the plugins in ``enabled`` only; a plugin not enabled never runs.
        Returns the list of answers (or the first answer, for a ``firstresult`` hook)."""
        key = (hook_name, enabled)
        caller = self._subset_cache.get(key)
        if caller is None:
            others = [plugin for name, plugin in self.pm.list_name_plugin() if name not in enabled]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            self._subset_cache[key] = caller
        return caller(**kwargs)


class _NoSettings(BaseModel):
    """Settings of a plugin that takes none: any key is an error."""

    model_config = {"extra": "forbid"}
