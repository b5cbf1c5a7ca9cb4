"""All campaigns the site serves, reloaded from their files in development without ever serving a broken one."""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from core.campaigns.documents import SHARED_FOLDER
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


# What a loaded campaign was made from, as stat results: its file's mtime and size, then every file of its own
# folder and of the shared folder with theirs. The loader reads nothing else (a theme is checked by name only).
FileKey = tuple[int, int, tuple[tuple[str, int, int], ...], tuple[tuple[str, int, int], ...]]


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file below ``folder`` with its mtime and size; empty when there is no such folder."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue
            out.append((os.path.join(root, name), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while campaign files are loaded.

    Parsing and validating makes hundreds of thousands of small objects, many of which live on in the loaded
    campaigns. Each time enough of them pile up, the collector walks the objects again, ever more of them: with a
    hundred campaigns that walking took most of the load (bench/campaigns.py). What parsing throws away is freed by
    reference counting all the same; the collector runs again as usual afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        self._signature: tuple[tuple[Path, FileKey], ...] | None = None
        self._loaded: dict[Path, tuple[FileKey, LoadedCampaign]] = {}
        self.snapshot = Snapshot({}, 0)

    def _current_signature(self) -> tuple[tuple[Path, FileKey], ...]:
        """What each campaign was made from, as stat results: its file, its own folder, the shared folder."""
        shared = folder_signature(self.folder / SHARED_FOLDER)
        out = []
        for path in campaign_files(self.folder):
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((path, (stat.st_mtime_ns, stat.st_size, folder_signature(path.with_suffix("")), shared)))
        return tuple(out)

    def check(self) -> Snapshot:
        """Validate every file from scratch, without touching what is being served."""
        return self._build(self._current_signature(), previous={}, unchanged={})[0]

    def load(self) -> Snapshot:
        """Serve what the files say now: a file whose inputs are as they were keeps its loaded campaign, the others
        are read and validated again, and the checks between campaigns run on the new whole. Return the snapshot."""
        with self._lock:
            signature = self._current_signature()
            snapshot, self._loaded = self._build(signature, dict(self.snapshot.campaigns), unchanged=self._loaded)
            for problem in snapshot.errors:
                log.error("campaign file problem: %s", problem)
            self._signature = signature
            self.snapshot = snapshot
            return snapshot

    def refresh(self) -> None:
        """Reload if a campaign file, a campaign's own folder or the shared folder changed since the last load
        (cheap: a stat per file)."""
        if self._current_signature() != self._signature:
            self.load()

    def _build(
        self,
        signature: tuple[tuple[Path, FileKey], ...],
        previous: dict[str, LoadedCampaign],
        unchanged: Mapping[Path, tuple[FileKey, LoadedCampaign]],
    ) -> tuple[Snapshot, dict[Path, tuple[FileKey, LoadedCampaign]]]:
        """The snapshot the files give, reusing each campaign of ``unchanged`` whose inputs are as they were; and
        what each loaded campaign was made from, for the next reload."""
        schemas = self._plugin_schemas()
        errors: list[ConfigProblem] = []
        good: list[LoadedCampaign] = []
        failed_stems: set[str] = set()
        files = [path for path, _ in signature]
        loaded: dict[Path, tuple[FileKey, LoadedCampaign]] = {}
        with cyclic_gc_paused():
            for path, key in signature:
                kept = unchanged.get(path)
                if kept is not None and kept[0] == key:
                    good.append(kept[1])  # nothing it was made from changed: not read again
                    loaded[path] = kept
                    continue
                try:
                    item = load_campaign_file(path, schemas)
                except CampaignConfigError as exc:
                    errors.extend(exc.problems)
                    failed_stems.add(path.stem)
                    continue
                good.append(item)
                loaded[path] = (key, item)
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
        return Snapshot(dict(sorted(campaigns.items())), generation, tuple(errors), warnings), loaded
