"""A ZIP package with a SHA-256 manifest, as the foundation hands them out (the evidence package for the lawyers,
a data-request round's package for a company): the writer, the move of a finished package into place, and the check.

The format, shared by every package so that one check and one set of instructions serve them all:

- every file but the manifest is listed in ``manifest.sha256``, written last, one ``<sha256>  <name>`` line each,
  exactly as ``sha256sum -c`` reads it after unzipping;
- the manifest's own SHA-256 is what the maker prints and sends apart from the package, so a reader can tell that
  the manifest, and with it every file, is the one made;
- each entry is deflated and readable by its owner only once unzipped (packages hold personal data).

Why the writer is built this way: a package may hold thousands of files, so each goes into the ZIP as it comes and
only its manifest line waits, in a scratch file the caller gives (an unnamed temporary file beside the package);
what grows in memory is :mod:`zipfile`'s central directory alone (about 370 bytes per file). A package written to a
path is written to a hidden partial file and moved into place at the end (:func:`written_in_place`), so a half
written one never looks finished.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

MANIFEST = "manifest.sha256"


class TextEntry:
    """A text file being written into the ZIP, hashed on the way (what ``csv.writer`` writes to)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw, self.sha256 = raw, hashlib.sha256()

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self.sha256.update(data)
        self._raw.write(data)
        return len(text)


class PackageWriter:
    """The ZIP being written. The manifest line of each file waits in ``manifest`` (a scratch file) until
    :meth:`finish`."""

    def __init__(self, archive: zipfile.ZipFile, manifest: IO[str], when: dt.datetime) -> None:
        self.zip, self._manifest = archive, manifest
        self._date_time = when.timetuple()[:6]  # one tuple for every entry: it is kept per entry until the end

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o100600 << 16  # personal data: readable by its owner only, once unzipped
        return info

    def holds(self, name: str) -> bool:
        """Whether a file ``name`` was written already (asked of the ZIP's own directory: nothing more is kept)."""
        try:
            self.zip.getinfo(name)
        except KeyError:
            return False
        return True

    def add(self, name: str, data: bytes) -> str:
        """Write one file; returns its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        self.zip.writestr(self._info(name), data)
        self._manifest.write(f"{digest}  {name}\n")
        return digest

    @contextlib.contextmanager
    def text(self, name: str) -> Iterator[TextEntry]:
        """Write one text file (UTF-8) piece by piece."""
        with self.zip.open(self._info(name), "w", force_zip64=True) as raw:
            entry = TextEntry(raw)
            yield entry
        self._manifest.write(f"{entry.sha256.hexdigest()}  {name}\n")

    def finish(self) -> str:
        """Write the manifest, last, and close the ZIP; returns the manifest's SHA-256."""
        self._manifest.seek(0)
        with self.zip.open(self._info(MANIFEST), "w", force_zip64=True) as raw:
            entry = TextEntry(raw)
            while chunk := self._manifest.read(1 << 16):
                entry.write(chunk)
        self.zip.close()
        return entry.sha256.hexdigest()


# -- a package written to a path ------------------------------------------------------------------------------------
@contextlib.contextmanager
def written_in_place(target: Path, overwrite: bool) -> Iterator[BinaryIO]:
    """A hidden partial file beside ``target`` to write the package to; when the block ends it is synced to disk
    and moved to ``target``, and when the block raises it is removed. An existing ``target`` is kept unless
    ``overwrite`` (:class:`FileExistsError`, also when one appears while the package is written)."""
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists already")
    descriptor, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "w+b") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        _move_into_place(Path(partial), target, overwrite)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _move_into_place(partial: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails if the target appeared meanwhile: never replaces one
    except FileExistsError:
        raise FileExistsError(f"{target} exists already") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise FileExistsError(f"{target} exists already") from None
        os.replace(partial, target)
        return
    partial.unlink()


# -- checking a package -------------------------------------------------------------------------------------------
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  (\S.*)")


@dataclass(frozen=True)
class PackageCheck:
    """What :func:`verify_package` found: ``ok`` when every file is listed in the manifest with its SHA-256 and
    nothing is missing or added (and the manifest is the one expected, when that was given)."""

    ok: bool
    files: int  # files listed in the manifest
    problems: tuple[str, ...]
    manifest_sha256: str


# Checks a kind of package adds: given the open ZIP and the names both listed and present (sorted), the problems.
MoreChecks = Callable[[zipfile.ZipFile, list[str]], Iterable[str]]


def verify_package(
    path: Path | str | BinaryIO, manifest_sha256: str | None = None, more: MoreChecks | None = None
) -> PackageCheck:
    """Check a package as ``sha256sum -c manifest.sha256`` does after unzipping it, and more: no file may be in the
    ZIP without being in the manifest or twice, and, given ``manifest_sha256`` (the value its maker printed, sent
    apart from the package), the manifest must be that one. ``more`` adds the checks of one kind of package; its
    problems come last."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return PackageCheck(False, 0, (f"not a readable ZIP file: {exc}",), "")
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        problems = [f"{name}: in the package twice" for name in _twice(names)]
        seen = set(names)
        if MANIFEST not in seen:
            return PackageCheck(False, 0, (f"no {MANIFEST} in the package", *problems), "")
        manifest = archive.read(MANIFEST)
        actual = hashlib.sha256(manifest).hexdigest()
        if manifest_sha256 is not None and manifest_sha256.strip().lower() != actual:
            problems.append(
                f"{MANIFEST} has the SHA-256 {actual}, not the {manifest_sha256.strip()} expected: it is "
                "not the manifest the export made"
            )
        listed = _manifest_entries(manifest, problems)
        for name in sorted(seen - listed.keys() - {MANIFEST}):
            problems.append(f"{name}: in the package but not in the manifest")
        for name, expected in listed.items():
            problem = (
                _file_problem(archive, name, expected) if name in seen else "in the manifest but not in the package"
            )
            if problem is not None:
                problems.append(f"{name}: {problem}")
        if more is not None:
            problems.extend(more(archive, sorted(name for name in listed if name in seen)))
    return PackageCheck(not problems, len(listed), tuple(problems), actual)


def _twice(names: list[str]) -> list[str]:
    """Each name that comes again after its first time, in order (a ZIP may hold a name more than once)."""
    seen: set[str] = set()
    again = []
    for name in names:
        if name in seen:
            again.append(name)
        seen.add(name)
    return again


def _manifest_entries(manifest: bytes, problems: list[str]) -> dict[str, str]:
    """The manifest's files and their SHA-256; a line that is not ``<sha256>  <file>``, or a file listed twice,
    goes to ``problems``."""
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.decode("utf-8", "replace").splitlines(), 1):
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            problems.append(f"{MANIFEST} line {number} is not '<sha256>  <file>'")
        elif match[2] in listed:
            problems.append(f"{MANIFEST} lists {match[2]} twice")
        else:
            listed[match[2]] = match[1]
    return listed


def _file_problem(archive: zipfile.ZipFile, name: str, expected: str) -> str | None:
    """What is wrong with file ``name`` in ``archive`` given the SHA-256 the manifest lists, or None."""
    digest = hashlib.sha256()
    try:
        with archive.open(name) as entry:
            while chunk := entry.read(1 << 20):
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError) as exc:
        return f"damaged ({exc})"
    if digest.hexdigest() != expected:
        return f"its SHA-256 is {digest.hexdigest()}, the manifest says {expected}"
    return None
