"""Sealing to the foundation's public key: only the private key opens it, rotation keeps old values readable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.sealing import MAGIC, OpeningKeys, SealingError, SealingKey, generate


def test_sealed_data_opens_only_with_its_private_key(tmp_path: Path) -> None:
    private_path, public_path, sealing = generate(tmp_path / "keys")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    key = SealingKey.from_text(public_path.read_text())
    assert key.id == sealing.id
    sealed = key.seal(b"Anna de Vries, anna@example.org")
    assert sealed.startswith(MAGIC) and b"Anna" not in sealed and b"anna@example.org" not in sealed
    assert key.seal(b"same") != key.seal(b"same")  # a fresh ephemeral key each time: equal values do not show
    assert OpeningKeys.from_files([private_path]).open(sealed) == b"Anna de Vries, anna@example.org"
    other_private, _, _ = generate(tmp_path / "other")
    with pytest.raises(SealingError, match="was not given"):
        OpeningKeys.from_files([other_private]).open(sealed)


def test_rotation_keeps_old_values_readable_with_both_keys(tmp_path: Path) -> None:
    old_private, old_public, _ = generate(tmp_path / "old")
    new_private, new_public, _ = generate(tmp_path / "new")
    before = SealingKey.from_text(old_public.read_text()).seal(b"before rotation")
    after = SealingKey.from_text(new_public.read_text()).seal(b"after rotation")
    both = OpeningKeys.from_files([new_private, old_private])
    assert both.open(before) == b"before rotation" and both.open(after) == b"after rotation"


def test_damaged_or_foreign_values_are_refused(tmp_path: Path) -> None:
    private, public, _ = generate(tmp_path)
    sealed = SealingKey.from_text(public.read_text()).seal(b"x")
    keys = OpeningKeys.from_files([private])
    with pytest.raises(SealingError, match="damaged"):
        keys.open(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(SealingError, match="not a sealed value"):
        keys.open(b"plain text")
    with pytest.raises(SealingError, match="not a public key"):
        SealingKey.from_text("not base64 at all")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("header\nAAAA\n")
    with pytest.raises(SealingError, match="not a private key"):
        OpeningKeys.from_files([garbage])


def test_flask_keys_generate(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = make_app().test_cli_runner().invoke(args=["keys", "generate", "--out", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    [private] = (tmp_path / "k").glob("private-*.key")
    [public] = (tmp_path / "k").glob("public-*.key")
    assert "keep it offline" in result.output and str(public) in result.output
    assert OpeningKeys.from_files([private]).open(SealingKey.from_text(public.read_text()).seal(b"ok")) == b"ok"
