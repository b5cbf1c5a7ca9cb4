"""The one-range parser of the vault download: capped, 416 past the end, whole file for what it cannot read."""

from __future__ import annotations

import pytest

from core.web.byte_ranges import UnsatisfiableRange, requested_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 10)),
        ("bytes=950-", (950, 50)),
        ("bytes=500-", (500, 100)),  # capped
        ("bytes=990-5000", (990, 10)),
        ("bytes=0-999999", (0, 100)),  # capped
        (None, None),
        ("bytes=-5", None),  # a suffix range: the page never asks one, it gets the whole file
        ("bytes=0-1,5-9", None),
        ("bytes=9-3", None),
    ],
)
def test_a_range_is_read_and_capped(header: str | None, expected: tuple[int, int] | None) -> None:
    assert requested_range(header, 1000, cap=100) == expected


def test_a_range_past_the_end_is_unsatisfiable() -> None:
    with pytest.raises(UnsatisfiableRange):
        requested_range("bytes=1000-", 1000)
