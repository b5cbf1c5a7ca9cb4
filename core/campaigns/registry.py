"""All campaigns the site serves, reloaded from their files in development without ever serving a broken one."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.inputs import CampaignInputs, Fingerprint, StatCache
from core.campaigns.loader import LoadedCampaign, load_campaign_file
from core.campaigns.themes import Themes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """The campaigns being served, immutable; a reload swaps in a new snapshot with a higher generation."""

    campaigns: Mapping[str, LoadedCampaign]
    generation: int
    errors: tuple[ConfigProblem, ...] = ()
    warnings: tuple[ConfigProblem, ...] = field(default=())


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


@dataclass(frozen=True)
class _Entry:
    """One campaign file as last read: the files it was made from, their fingerprint taken before it was read,
    and what it gave (a loaded campaign, or the problems that kept it from loading)."""

    inputs: CampaignInputs
    fingerprint: Fingerprint
    loaded: LoadedCampaign | None
    problems: tuple[ConfigProblem, ...] = ()


class CampaignRegistry:
    """Loads every campaign file; in development :meth:`refresh` picks up edits on the next request.

    A reload reads again only the files whose inputs changed (:mod:`core.campaigns.inputs`); the other campaigns
    are the same objects as before, so their compiled templates stay. A file that fails validation never replaces
    the last good version of that campaign: the site keeps serving the old one and the error is logged.
    """

    def __init__(
        self, folder: Path, plugin_schemas: Callable[[], Mapping[str, type[BaseModel]]], themes: Themes
    ) -> None:
        self.folder = folder
        self._plugin_schemas = plugin_schemas
        self._themes = themes
        self._lock = threading.Lock()
        self._entries: dict[Path, _Entry] = {}
        self._fingerprints: dict[Path, Fingerprint] | None = None
        self.snapshot = Snapshot({}, 0)

    def _look(self, entries: Mapping[Path, _Entry], stats: StatCache) -> dict[Path, tuple[CampaignInputs, Fingerprint]]:
        """Each campaign file with the inputs it was last made from (all it could use, if it has not loaded) and
        their fingerprint now."""
        out = {}
        for path in campaign_files(self.folder):
            entry = entries.get(path)
            inputs = entry.inputs if entry is not None and entry.loaded is not None else self._assumed(path)
            out[path] = (inputs, inputs.fingerprint(stats))
        return out

    def _assumed(self, path: Path) -> CampaignInputs:
        return CampaignInputs.before_loading(path, self._themes)

    def check(self) -> Snapshot:
        """Validate every file from scratch, without touching what is being served."""
        return self._build({}, previous={})[0]

    def load(self) -> Snapshot:
        """Serve what the files say now: a file whose inputs are as they were keeps its loaded campaign, the others
        are read and validated again, and the checks between campaigns run on the new whole. Return the snapshot."""
        with self._lock:
            snapshot, self._entries = self._build(self._entries, dict(self.snapshot.campaigns))
            for problem in snapshot.errors:
                log.error("campaign file problem: %s", problem)
            self._fingerprints = {path: entry.fingerprint for path, entry in self._entries.items()}
            self.snapshot = snapshot
            return snapshot

    def refresh(self) -> None:
        """Reload if any campaign's inputs changed since the last load (cheap: a stat per file)."""
        look = self._look(self._entries, StatCache())
        if {path: fingerprint for path, (_, fingerprint) in look.items()} != self._fingerprints:
            self.load()

    def _build(
        self, entries: Mapping[Path, _Entry], previous: dict[str, LoadedCampaign]
    ) -> tuple[Snapshot, dict[Path, _Entry]]:
        """The snapshot the files give, reusing each entry whose inputs are as they were; and the new entries.

        Every fingerprint comes from one look taken before anything is read, so a file changed while the others
        are read shows as changed on the next look.
        """
        schemas = self._plugin_schemas()
        stats = StatCache()
        look = self._look(entries, stats)
        kept = {
            path: entries[path]
            for path, (_, now) in look.items()
            if path in entries and entries[path].fingerprint == now
        }
        for path in look.keys() - kept.keys():
            self._assumed(path).fingerprint(stats)  # what a file may use is looked at before it is read
        new_entries: dict[Path, _Entry] = {}
        with cyclic_gc_paused():
            for path in look:
                if path in kept:
                    new_entries[path] = kept[path]  # nothing it was made from changed: not read again
                    continue
                try:
                    item = load_campaign_file(path, schemas)
                except CampaignConfigError as exc:
                    assumed = self._assumed(path)
                    new_entries[path] = _Entry(assumed, assumed.fingerprint(stats), None, tuple(exc.problems))
                    continue
                inputs = CampaignInputs.of(item, self._themes)
                new_entries[path] = _Entry(inputs, inputs.fingerprint(stats), item)
        errors = [problem for entry in new_entries.values() for problem in entry.problems]
        failed_stems = {path.stem for path, entry in new_entries.items() if entry.loaded is None}
        good = [entry.loaded for entry in new_entries.values() if entry.loaded is not None]
        cross = _cross_check(good, self._themes.names(), {path.stem for path in look})
        for path, found in cross.items():
            errors.extend(found)
            failed_stems.add(path.stem)
        campaigns = {item.campaign.slug: item for item in good if item.path.stem not in failed_stems}
        for stem in failed_stems:
            if stem in previous:  # keep serving the last good version
                campaigns[stem] = previous[stem]
        warnings = tuple(w for item in campaigns.values() for w in item.warnings)
        generation = self.snapshot.generation + 1
        return Snapshot(dict(sorted(campaigns.items())), generation, tuple(errors), warnings), new_entries
