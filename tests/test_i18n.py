"""UI catalogs: every string in the code is translated, placeholders intact, compiled catalogs present."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import REPO

TRANSLATIONS = REPO / "translations"


def test_every_ui_string_in_the_code_is_translated_into_dutch(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with pot.open("rb") as f:
        extracted = read_po(f)
    with (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    not_in_catalog = [m.id for m in extracted if m.id and m.id not in catalog]
    assert not_in_catalog == [], "run `make i18n-update` and translate these in translations/nl"
    untranslated = [m.id for m in catalog if m.id and (not m.string or not all(m.string) or m.fuzzy)]
    assert untranslated == []
    assert [(m.id, errors) for m, errors in catalog.check()] == []  # placeholders match


def test_compiled_catalog_is_there() -> None:
    assert (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.mo").is_file(), "run `make i18n-compile`"
