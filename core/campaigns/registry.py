"""All campaigns the site serves, reloaded from their files in development without ever serving a broken one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.loader import LoadedCampaign, load_campaign_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """The campaigns being served, immutable; a reload swaps in a new snapshot with a higher generation."""

    campaigns: Mapping[str, LoadedCampaign]
    generation: int
    errors: tuple[ConfigProblem, ...] = ()
    warnings: tuple[ConfigProblem, ...] = field(default=())


def campaign_files(folder: Path) -> list[Path]:
    """The campaign files in ``folder``: ``<slug>.yaml``; names starting with '_' or '.' are not campaigns."""
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith(("_", ".")))


def _cross_check(
    loaded: list[LoadedCampaign], theme_names: set[str], file_slugs: set[str]
) -> dict[Path, list[ConfigProblem]]:
    """Problems that only show between files: shared hosts, unknown themes and sister campaigns. A sister whose
    file exists but is broken is not a problem of this file (that file's own error says what to fix; until then
    the link to it is left out), so one typo never takes its sister campaigns down with it."""
    problems: dict[Path, list[ConfigProblem]] = {}
    owner: dict[str, Path] = {}
    slugs = file_slugs
    for item in loaded:
        c, file = item.campaign, str(item.path)
        found: list[ConfigProblem] = []
        for where in [*c.hosts, *c.paths]:
            if where in owner and owner[where] != item.path:
                key = "paths" if "/" in where else "hosts"
                index = [*c.hosts, *c.paths].index(where) - (len(c.hosts) if key == "paths" else 0)
                found.append(
                    ConfigProblem(
                        file,
                        item.line_of((key, index)),
                        f"{key}[{index}]",
                        f"'{where}' is already served by {owner[where].name}; each address serves one campaign",
                    )
                )
            owner.setdefault(where, item.path)
        if c.theme not in theme_names:
            found.append(
                ConfigProblem(
                    file,
                    item.line_of(("theme",)),
                    "theme",
                    f"no theme '{c.theme}' (themes/{c.theme}/theme.yaml); available: {', '.join(sorted(theme_names))}",
                )
            )
        for index, sister in enumerate(c.sisters):
            if sister.campaign and sister.campaign not in slugs:
                found.append(
                    ConfigProblem(
                        file,
                        item.line_of(("sisters", index, "campaign")),
                        f"sisters[{index}].campaign",
                        f"no campaign '{sister.campaign}' (campaigns/{sister.campaign}.yaml)",
                    )
                )
        if found:
            problems[item.path] = found
    return problems


class CampaignRegistry:
    """Loads every campaign file; in development :meth:`refresh` picks up edits on the next request.

    A file that fails validation never replaces the last good version of that campaign: the site keeps serving
    the old one and the error is logged.
    """

    def __init__(
        self,
        folder: Path,
        plugin_schemas: Callable[[], Mapping[str, type[BaseModel]]],
        theme_names: Callable[[], set[str]],
    ) -> None:
        self.folder = folder
        self._plugin_schemas = plugin_schemas
        self._theme_names = theme_names
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self.snapshot = Snapshot({}, 0)

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        files = campaign_files(self.folder)
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(out)

    def check(self) -> Snapshot:
        """Validate every file from scratch, without touching what is being served."""
        return self._build(previous={})

    def load(self) -> Snapshot:
        """(Re)load every file now and serve the result; return the new snapshot."""
        with self._lock:
            self._signature = self._current_signature()
            snapshot = self._build(previous=dict(self.snapshot.campaigns))
            for problem in snapshot.errors:
                log.error("campaign file problem: %s", problem)
            self.snapshot = snapshot
            return snapshot

    def refresh(self) -> None:
        """Reload if any campaign file was added, changed or removed since the last load (cheap: a stat per file)."""
        if self._current_signature() != self._signature:
            self.load()

    def _build(self, previous: dict[str, LoadedCampaign]) -> Snapshot:
        schemas = self._plugin_schemas()
        errors: list[ConfigProblem] = []
        good: list[LoadedCampaign] = []
        failed_stems: set[str] = set()
        files = campaign_files(self.folder)
        for path in files:
            try:
                good.append(load_campaign_file(path, schemas))
            except CampaignConfigError as exc:
                errors.extend(exc.problems)
                failed_stems.add(path.stem)
        cross = _cross_check(good, self._theme_names(), {path.stem for path in files})
        for path, found in cross.items():
            errors.extend(found)
            failed_stems.add(path.stem)
        campaigns = {item.campaign.slug: item for item in good if item.path.stem not in failed_stems}
        for stem in failed_stems:
            if stem in previous:  # keep serving the last good version
                campaigns[stem] = previous[stem]
        warnings = tuple(w for item in campaigns.values() for w in item.warnings)
        generation = self.snapshot.generation + 1
        return Snapshot(dict(sorted(campaigns.items())), generation, tuple(errors), warnings)
