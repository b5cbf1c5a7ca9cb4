"""All campaigns the site serves, reloaded from their files in development without ever serving a broken one."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.inputs import CampaignInputs, Fingerprint, StatCache
from core.campaigns.loader import LoadedCampaign, load_campaign_file
from core.campaigns.ownership import AddressOwners, RememberedOwners, UnrecordedOwners
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
    loaded: list[LoadedCampaign],
    theme_names: set[str],
    file_slugs: set[str],
    owners: Mapping[str, str],
    reserved: Mapping[str, str],
    contested: Mapping[str, Sequence[str]] = {},
) -> dict[Path, list[ConfigProblem]]:
    """Problems that only show between files: an address another campaign serves (``owners``, see
    :mod:`core.campaigns.ownership`; an address ``contested`` by several files that has no owner is a problem of
    each of them) or that is ``reserved`` (host: what it is), unknown themes and sister campaigns.
    A sister whose file exists but is broken is not a problem of this file (that file's own error says what to
    fix; until then the link to it is left out), so one typo never takes its sister campaigns down with it."""
    problems: dict[Path, list[ConfigProblem]] = {}
    slugs = file_slugs
    for item in loaded:
        c, file = item.campaign, str(item.path)
        found: list[ConfigProblem] = []
        for key, addresses in (("hosts", c.hosts), ("paths", c.paths)):
            for index, where in enumerate(addresses):
                host = where.partition("/")[0]
                owner = owners.get(where)
                if host in reserved:
                    message = f"'{where}' is {reserved[host]}; no campaign can be served there"
                elif owner is None:  # named by several files, and nothing recorded says which had it
                    others = ", ".join(f"{other}.yaml" for other in contested.get(where, ()) if other != c.slug)
                    message = (
                        f"'{where}' is also named by {others}; each address serves one campaign. The running site "
                        "keeps it with the campaign that serves it now and refuses the other: remove it from the "
                        "file that should not have it"
                    )
                elif owner != c.slug:
                    message = (
                        f"'{where}' is already served by campaign {owner} ({owner}.yaml); each address serves one "
                        f"campaign: remove it from {owner}.yaml first, or choose another address"
                    )
                else:
                    continue
                found.append(ConfigProblem(file, item.line_of((key, index)), f"{key}[{index}]", message))
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
        self,
        folder: Path,
        plugin_schemas: Callable[[], Mapping[str, type[BaseModel]]],
        themes: Themes,
        owners: AddressOwners | None = None,
        reserved_hosts: Mapping[str, str] | None = None,
        rules: Callable[[LoadedCampaign], list[ConfigProblem]] | None = None,
    ) -> None:
        self.folder = folder
        self._owners = owners if owners is not None else RememberedOwners()
        self._reserved = dict(reserved_hosts or {})
        self._rules = rules
        self._plugin_schemas = plugin_schemas
        self._themes = themes
        self._lock = threading.Lock()
        self._entries: dict[Path, _Entry] = {}
        self._fingerprints: dict[Path, Fingerprint] | None = None
        self._pending: dict[Path, tuple[Fingerprint | None, float]] = {}
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
        return self._build({}, previous={}, owners=UnrecordedOwners())[0]

    def load(self, only: Mapping[Path, Fingerprint | None] | None = None, stats: StatCache | None = None) -> Snapshot:
        """Serve what the files say now: a file whose inputs are as they were keeps its loaded campaign, the others
        are read and validated again, and the checks between campaigns run on the new whole. With ``only``, the
        changes of other files wait (each keeps what it served), and so does a file of ``only`` whose inputs are no
        longer as that mapping says (they changed again). ``stats``: the look that decided to load, if there was one
        (its stat results are as good as new ones: taken before anything is read). Return the snapshot."""
        with self._lock:
            snapshot, self._entries = self._build(
                self._entries, dict(self.snapshot.campaigns), self._owners, only, stats
            )
            for problem in snapshot.errors:
                log.error("campaign file problem: %s", problem)
            self._fingerprints = {path: entry.fingerprint for path, entry in self._entries.items()}
            self.snapshot = snapshot
            return snapshot

    def refresh(self) -> None:
        """Reload at once if any campaign's inputs changed since the last load (cheap: a stat per file)."""
        self.publish_settled(now=0.0, quiet=0.0)

    def publish_settled(self, now: float, quiet: float) -> bool:
        """Reload the campaigns whose inputs changed and then stayed as they are for ``quiet`` seconds (``now`` on
        a monotonic clock); a campaign still changing keeps serving what it served, so an editor that saves several
        files never publishes half an edit. Return whether a reload happened."""
        stats = StatCache()
        look = {path: fingerprint for path, (_, fingerprint) in self._look(self._entries, stats).items()}
        served = self._fingerprints or {}
        changed = {path for path in look.keys() | served.keys() if look.get(path) != served.get(path)}
        pending: dict[Path, tuple[Fingerprint | None, float]] = {}
        for path in changed:
            fingerprint = look.get(path)
            seen = self._pending.get(path)
            pending[path] = seen if seen is not None and seen[0] == fingerprint else (fingerprint, now)
        self._pending = pending
        settled = {path: fingerprint for path, (fingerprint, since) in pending.items() if now - since >= quiet}
        if not settled:
            return False
        self.load(only=None if quiet <= 0 else settled, stats=stats)
        return True

    def publish_now(self, slug: str) -> bool:
        """Read ``slug``'s files now if they changed (or it is new), leaving every other change to settle: for a
        process asked to work for a campaign that another process has published already. Return whether it did."""
        path = self.folder / f"{slug}.yaml"
        found = self._look(self._entries, StatCache()).get(path)
        if found is None or found[1] == (self._fingerprints or {}).get(path):
            return False
        self.load(only={path: found[1]})
        return True

    def _build(
        self,
        entries: Mapping[Path, _Entry],
        previous: dict[str, LoadedCampaign],
        owners: AddressOwners,
        only: Mapping[Path, Fingerprint | None] | None = None,
        stats: StatCache | None = None,
    ) -> tuple[Snapshot, dict[Path, _Entry]]:
        """The snapshot the files give, reusing each entry whose inputs are as they were; and the new entries.
        With ``only``, a changed file outside it keeps its entry as it was (a new one waits, a removed one stays).

        Every fingerprint comes from one look taken before anything is read, so a file changed while the others
        are read shows as changed on the next look.
        """
        schemas = self._plugin_schemas()
        stats = stats or StatCache()
        look = self._look(entries, stats)
        if only is not None:  # a file that changed again since it settled waits too
            only = {
                path: print_ for path, print_ in only.items() if (look[path][1] if path in look else None) == print_
            }
        kept = {
            path: entry
            for path, entry in entries.items()
            if (path in look and entry.fingerprint == look[path][1]) or (only is not None and path not in only)
        }
        look = {path: found for path, found in look.items() if only is None or path in only or path in kept}
        for path in look.keys() - kept.keys():
            self._assumed(path).fingerprint(stats)  # what a file may use is looked at before it is read
        new_entries: dict[Path, _Entry] = {}
        with cyclic_gc_paused():
            for path in sorted(look.keys() | kept.keys()):
                if path in kept:
                    new_entries[path] = kept[path]  # nothing it was made from changed: not read again
                    continue
                try:
                    item = load_campaign_file(path, schemas)
                except CampaignConfigError as exc:
                    assumed = self._assumed(path)
                    new_entries[path] = _Entry(assumed, assumed.fingerprint(stats), None, tuple(exc.problems))
                    continue
                refused = tuple(self._rules(item)) if self._rules is not None else ()
                if refused:
                    assumed = self._assumed(path)
                    new_entries[path] = _Entry(assumed, assumed.fingerprint(stats), None, refused)
                    continue
                inputs = CampaignInputs.of(item, self._themes)
                new_entries[path] = _Entry(inputs, inputs.fingerprint(stats), item)
        errors = [problem for entry in new_entries.values() for problem in entry.problems]
        failed_stems = {path.stem for path, entry in new_entries.items() if entry.loaded is None}
        good = [entry.loaded for entry in new_entries.values() if entry.loaded is not None]
        wanted: dict[str, list[str]] = {}
        for item in good:  # in file-name order
            for where in [*item.campaign.hosts, *item.campaign.paths]:
                wanted.setdefault(where, []).append(item.slug)
        files = {path.stem for path in new_entries}
        settled = owners.settle(wanted, files, {item.slug for item in good})
        contested = {where: wanting for where, wanting in wanted.items() if len(wanting) > 1}
        cross = _cross_check(good, self._themes.names(), files, settled, self._reserved, contested)
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
