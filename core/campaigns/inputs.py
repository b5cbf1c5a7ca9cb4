"""What a loaded campaign was made from, and a fingerprint of those files that costs one stat per file.

A reload reads a campaign again only when its fingerprint changed. Its inputs are its own file, its own folder
(pages, agreements, templates, static files), the folders of its theme and of the default theme (a new template
there changes which file its pages are rendered from), and the files under ``campaigns/_shared/`` it may take a
page or an agreement from. A file that has not loaded yet (new, or broken) may depend on anything: its inputs are
then its own file and folder, the whole shared folder and every theme.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.campaigns.companies import authorities_file, companies_folder
from core.campaigns.documents import SHARED_FOLDER, shared_files
from core.campaigns.loader import LoadedCampaign
from core.campaigns.themes import Themes

FileStat = tuple[int, int] | None  # (mtime in ns, size); None when there is no such file
FolderStat = tuple[tuple[str, int, int], ...]  # every file below the folder, with its mtime and size
Fingerprint = tuple[FileStat, tuple[FolderStat, ...], tuple[FileStat, ...]]


class StatCache:
    """Stat results for one look at the files, each file stat'ed once: many campaigns share a theme and the shared
    texts. A folder below one already walked, or a file in it, is answered from that walk, so every answer is
    as the files were when they were first looked at."""

    def __init__(self) -> None:
        self._files: dict[Path, FileStat] = {}
        self._folders: dict[Path, FolderStat] = {}
        self._walked: dict[Path, dict[str, tuple[int, int]]] = {}

    def _walked_above(self, path: Path) -> Path | None:
        return next((parent for parent in path.parents if parent in self._walked), None)

    def file(self, path: Path) -> FileStat:
        if path not in self._files:
            above = self._walked_above(path)
            if above is not None:
                self._files[path] = self._walked[above].get(str(path))
            else:
                try:
                    stat = path.stat()
                except OSError:
                    self._files[path] = None
                else:
                    self._files[path] = (stat.st_mtime_ns, stat.st_size)
        return self._files[path]

    def folder(self, folder: Path) -> FolderStat:
        if folder not in self._folders:
            above = self._walked_above(folder)
            if above is not None:
                prefix = str(folder) + os.sep
                self._folders[folder] = tuple(entry for entry in self._folders[above] if entry[0].startswith(prefix))
            else:
                self._folders[folder] = folder_signature(folder)
            self._walked[folder] = {name: (mtime, size) for name, mtime, size in self._folders[folder]}
        return self._folders[folder]


def folder_signature(folder: Path) -> FolderStat:
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


@dataclass(frozen=True)
class CampaignInputs:
    """The files one campaign file was (or would be) made from."""

    file: Path
    folders: tuple[Path, ...]
    files: tuple[Path, ...] = ()

    @classmethod
    def before_loading(cls, file: Path, themes: Themes) -> CampaignInputs:
        """Before ``file`` has loaded, anything it names could matter: its own folder, all shared texts, every theme."""
        return cls(file, (file.with_suffix(""), file.parent / SHARED_FOLDER, themes.themes_dir))

    @classmethod
    def of(cls, loaded: LoadedCampaign, themes: Themes) -> CampaignInputs:
        """The files ``loaded`` was made from and is served from."""
        folders = (loaded.path.with_suffix(""), *themes.folders(loaded.campaign.theme))
        files = shared_files(loaded.path.parent, loaded.campaign)
        if loaded.companies:  # the catalogue's files it was checked against (core.campaigns.companies)
            catalogue = companies_folder(loaded.path.parent)
            files += [authorities_file(loaded.path.parent), *(catalogue / f"{slug}.yaml" for slug in loaded.companies)]
        return cls(loaded.path, folders, tuple(files))

    def fingerprint(self, stats: StatCache) -> Fingerprint:
        return (
            stats.file(self.file),
            tuple(stats.folder(folder) for folder in self.folders),
            tuple(stats.file(path) for path in self.files),
        )
