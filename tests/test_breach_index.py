"""The breach index file (core.breach.index_file): lookups found and not found doing the same work, a replaced file
noticed by an open process, damaged files refused; and the category catalogue it stores masks of."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from core.breach import categories
from core.breach.importer import import_dump
from core.breach.index_file import BreachIndex, IndexFileError, current_index, index_path, open_index
from core.breach.numbers import digest_key, number_digest

KEY = digest_key("index-test-key-" + "x" * 40)
WHEN = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def build(folder: Path, rows: list[str], header: str = "phone,name,email", dataset: str = "leak") -> BreachIndex:
    dump = folder / f"dump-{len(list(folder.iterdir()))}.csv"
    dump.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    import_dump(dump, dataset_id=dataset, folder=folder / "breach", key=KEY, default_region="NL", imported_at=WHEN)
    return open_index(index_path(folder / "breach", dataset))


def digest(number: str) -> bytes:
    return number_digest(KEY, number)


def test_lookup_finds_the_numbers_with_their_categories_and_nothing_else(tmp_path: Path) -> None:
    rows = [f"+3161234{n:04d},{'Name' if n % 2 else ''},{'x@y.nl' if n % 3 == 0 else ''}" for n in range(1000)]
    index = build(tmp_path, rows)
    assert index.records == 1000 and index.size_bytes == 4096 + 10 * 1000
    phone, name, email = (categories.BY_KEY[key].flag for key in ("phone", "name", "email"))
    for n in range(1000):
        expected = phone | (name if n % 2 else 0) | (email if n % 3 == 0 else 0)
        assert index.lookup(digest(f"+3161234{n:04d}")) == expected
    for n in range(1000, 1200):
        assert index.lookup(digest(f"+3161234{n:04d}")) is None
    assert index.lookup(b"\x00" * 8) is None and index.lookup(b"\xff" * 8) is None
    assert index.header.categories == ("name", "email", "phone")
    assert index.imported_at == WHEN and len(index.version) == 16


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_every_record_is_found_whatever_the_size(tmp_path: Path, size: int) -> None:
    index = build(tmp_path, [f"+3162000{n:04d},,," for n in range(size)], header="phone,name,email,gender")
    assert index.records == size
    assert all(index.lookup(digest(f"+3162000{n:04d}")) == categories.PHONE.flag for n in range(size))
    assert index.lookup(digest("+31620009999")) is None


def test_found_and_not_found_do_the_same_work(tmp_path: Path) -> None:
    """The check page's answer must take the same time for every number: a lookup runs the same lines, as often,
    whether the number is in the index or not (counted with a line tracer)."""
    index = build(tmp_path, [f"+3163000{n:04d},a,b" for n in range(777)])

    def lines_run(wanted: bytes) -> int:
        count = 0
        code = BreachIndex.lookup.__code__

        def tracer(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal count
            if frame.f_code is code:
                if event == "line":
                    count += 1
                return tracer
            return None

        sys.settrace(tracer)
        try:
            index.lookup(wanted)
        finally:
            sys.settrace(None)
        return count

    found = {lines_run(digest(f"+3163000{n:04d}")) for n in (0, 5, 400, 776)}
    missing = {lines_run(digest(f"+3163001{n:04d}")) for n in (0, 5, 400, 776)}
    assert len(found) == 1 and found == missing


def test_an_open_process_sees_a_replaced_index_and_old_handles_keep_answering(tmp_path: Path) -> None:
    folder = tmp_path / "breach"
    old = build(tmp_path, ["+31612345601,a,", "+31612345602,,"])
    assert current_index(folder, "leak") is not None
    first = current_index(folder, "leak")
    assert first is current_index(folder, "leak")  # cached while the file is the same
    build(tmp_path, ["+31612345603,a,b"])
    second = current_index(folder, "leak")
    assert second is not None and second is not first and second.records == 1
    assert second.lookup(digest("+31612345603")) is not None and second.lookup(digest("+31612345601")) is None
    # the index handed out before keeps answering from the file it opened
    assert first is not None and first.lookup(digest("+31612345601")) is not None and old.records == 2
    assert current_index(folder, "other") is None


def test_damaged_or_foreign_files_are_refused_in_plain_words(tmp_path: Path) -> None:
    index = build(tmp_path, ["+31612345601,a,"])
    path = index.path
    truncated = tmp_path / "truncated.idx"
    truncated.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(IndexFileError, match="import the dataset again"):
        open_index(truncated)
    foreign = tmp_path / "foreign.idx"
    foreign.write_bytes(b"PK\x03\x04" + b"\0" * 5000)
    with pytest.raises(IndexFileError, match="not a breach index"):
        open_index(foreign)
    newer = tmp_path / "newer.idx"
    data = bytearray(path.read_bytes())
    data[9] = 9  # format version 9
    newer.write_bytes(bytes(data))
    with pytest.raises(IndexFileError, match="format 9"):
        open_index(newer)
    with pytest.raises(FileNotFoundError):
        open_index(tmp_path / "none.idx")


def test_the_catalogue_keeps_its_bits() -> None:
    """Index files store these bits: renumbering one would change what every existing index says."""
    assert [(c.key, c.bit) for c in categories.CATALOGUE] == [
        ("name", 0),
        ("gender", 1),
        ("date_of_birth", 2),
        ("location", 3),
        ("hometown", 4),
        ("relationship_status", 5),
        ("employer", 6),
        ("email", 7),
        ("account_id", 8),
        ("phone", 9),
        ("account_created", 10),
        ("bio", 11),
    ]
    assert all(c.bit < categories.MASK_BITS for c in categories.CATALOGUE)
    mask = categories.mask_of(["email", "phone"])
    assert [c.key for c in categories.categories_in(mask | 1 << 15)] == ["email", "phone"]
    assert categories.unknown_keys(["phone", "shoe_size"]) == ["shoe_size"]


def test_the_catalogue_speaks_dutch_and_english(shipped_app: Any) -> None:
    from flask_babel import force_locale

    with shipped_app.test_request_context("/"):
        for category in categories.CATALOGUE:
            with force_locale("en"):
                english = (str(category.label), str(category.exposes))
            with force_locale("nl"):
                dutch = (str(category.label), str(category.exposes))
            assert all(english) and all(dutch)
            assert dutch[1] != english[1], f"no Dutch for {category.key}"


def test_an_index_file_holds_only_digests_and_masks(tmp_path: Path) -> None:
    index = build(tmp_path, ["+31612345601,Anna Testpersoon,anna@example.org"])
    raw = index.path.read_bytes()
    assert os.path.getsize(index.path) == 4096 + 10
    for needle in (b"31612345601", b"612345601", b"Anna", b"anna@example.org", b"example"):
        assert needle not in raw
