"""Published agreement texts are frozen: each agreements folder keeps a lock file of their SHA-256.

``campaigns/<slug>/agreements/SHA256SUMS`` and ``campaigns/_shared/agreements/SHA256SUMS`` list, in the format of
``sha256sum`` (``<hex>  <file name>``; ``sha256sum -c SHA256SUMS`` verifies a folder), the digest of every text
as it was first published. ``flask campaigns lock`` adds the texts not listed yet and never changes a line; the
lock files are committed with the texts. The loader refuses a campaign whose agreement text differs from its
line: a change to a published text goes in a new version, and those who signed the old one keep it. (The running
site also compares each text with the digests recorded when people signed it: :mod:`core.signup.signed_texts`.)
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

LOCK_FILE = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes, as ``sha256sum`` prints it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 from ``folder``'s lock file; empty when there is none (lines that are not
    ``<hex>  <name>`` are ignored)."""
    path = folder / LOCK_FILE
    try:
        stat = path.stat()
    except OSError:
        return {}
    return dict(_read(path, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=512)
def _read(path: Path, mtime_ns: int, size: int) -> tuple[tuple[str, str], ...]:
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line.strip())
        if match:
            found.append((match.group(2), match.group(1)))
    return tuple(found)


def changed_since_locked(path: Path, data: bytes | None = None) -> str | None:
    """The digest ``path`` was locked with, if its content (``data``, when given) is no longer that; else None
    (also when not locked)."""
    locked = read_lock(path.parent).get(path.name)
    if locked is None:
        return None
    try:
        digest = file_sha256(path) if data is None else hashlib.sha256(data).hexdigest()
    except OSError:
        return None
    return None if digest == locked else locked


def lock_texts(folder: Path) -> list[str]:
    """Add every ``*.md`` text of ``folder`` that its lock file does not list yet; return their names. A listed
    text keeps its line, changed or not (that is for the loader to refuse)."""
    locked = read_lock(folder)
    new = {p.name: file_sha256(p) for p in sorted(folder.glob("*.md")) if p.name not in locked}
    if new:
        lines = {**locked, **new}
        text = "".join(f"{digest}  {name}\n" for name, digest in sorted(lines.items()))
        (folder / LOCK_FILE).write_text(text, encoding="utf-8")
    return sorted(new)
