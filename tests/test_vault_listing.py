"""How a vault file's size and type read in its owner's list (core.i18n.file_size, core.vault.file_kinds): decimal
units as a phone's file manager counts them, in each language's number format; a type in words where we know it,
and nothing rather than a media type nobody reads. The list itself: tests/test_vault_deposit.py and, in a browser,
tests/browser/test_vault_files.py."""

from __future__ import annotations

import pytest

from core.i18n import file_size
from core.vault.file_kinds import kind_of


@pytest.mark.parametrize(
    ("size", "english", "dutch"),
    [
        (0, "0 bytes", "0 byte"),
        (999, "999 bytes", "999 byte"),
        (1000, "1 kB", "1 kB"),
        (999_499, "999 kB", "999 kB"),
        (999_600, "1 MB", "1 MB"),
        (1_480_000, "1.5 MB", "1,5 MB"),
        (120_000_000, "120 MB", "120 MB"),
        (2_050_000_000, "2.05 GB", "2,05 GB"),
    ],
)
def test_a_size_in_the_units_people_read(size: int, english: str, dutch: str) -> None:
    assert (file_size(size, "en"), file_size(size, "nl")) == (english, dutch)


def test_a_type_in_words_where_known() -> None:
    assert kind_of("application/zip") == "ZIP archive"
    assert kind_of("Application/PDF") == "PDF document"
    assert kind_of("text/csv; charset=utf-8") == "CSV table"
    assert kind_of("video/quicktime") == "video"  # not one by one: its family
    assert kind_of("application/octet-stream") is None
    assert kind_of("application/x-unknown") is None
