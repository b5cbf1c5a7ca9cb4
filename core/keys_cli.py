"""``flask keys ...``: the foundation's key pair for sealing personal data (see :mod:`core.sealing`)."""

from __future__ import annotations

from pathlib import Path

import click

from .sealing import generate


@click.group("keys")
def keys_cli() -> None:
    """Make the key pair that personal data is sealed to."""


@keys_cli.command("generate")
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the two key files (the private one is readable by you only).")
def generate_command(folder: Path) -> None:
    """Write a new key pair: give the web server the public key; keep the private key offline, with staff."""
    private_path, public_path, key = generate(folder)
    click.echo(f"public key  (for the web server): {public_path}")
    click.echo(f"private key (keep it offline; whoever has it can read every sealed record): {private_path}")
    click.echo(f"key id: {key.id.hex()}")
