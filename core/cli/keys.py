"""``flask keys ...``: the foundation's key pair for sealing personal data (see :mod:`core.sealing`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import func, select

from core.cli.export import opening_keys, private_key_option
from core.data import identity_proofs
from core.data.db import db_session
from core.data.models import PersonalRecord
from core.data.personal_data import record_batches, reseal
from core.sealing import OpeningKeys, SealingError, SealingKey, generate
from core.signup.mandate_seal import current_sealer
from core.site import site
from core.vault.holding import SETTING, HoldingKey


@click.group("keys")
def keys_cli() -> None:
    """The key pair that personal data is sealed to: make one, show the one in use, rotate to a new one."""


@keys_cli.command("generate")
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the two key files (the private one is readable by you only).",
)
def generate_command(folder: Path) -> None:
    """Write a new key pair: give the web server the public key; keep the private key offline, with staff."""
    private_path, public_path, key = generate(folder)
    click.echo(f"public key  (for the web server): {public_path}")
    click.echo(f"private key (keep it offline; whoever has it can read every sealed record): {private_path}")
    click.echo(f"key id: {key.id.hex()}")
    [raw] = OpeningKeys.from_files([private_path]).private_raws()
    holding = HoldingKey.of_private(raw)
    click.echo(f"vault holding key (for the web server, derived from this pair): {SETTING}={holding.text}")


@keys_cli.command("show")
@with_appcontext
def show_command() -> None:
    """The public key this app seals personal data to (and, outside production, where its private key is)."""
    settings = site().settings
    click.echo(f"sealing to key id {site().sealing_key.id.hex()}")
    holding = site().vault_holding_key
    if holding is None:
        click.echo(f"files for participants without a vault: refused ({SETTING} is not set)")
    else:
        click.echo(f"files for participants without a vault are held under holding key id {holding.id}")
        click.echo(f"  {SETTING}={holding.text}")
    if not settings.sealing_public_key.strip() and settings.env != "production":
        private_path, public_path = settings.development_key_pair()
        click.echo(f"development key pair: {public_path}")
        click.echo(f"  its private key, for 'flask export ... --private-key': {private_path}")
        click.echo("  (a real server gets CLAIMSITE_SEALING_PUBLIC_KEY and never a private key)")
    sealer = current_sealer()
    certificate = sealer.certificate()
    click.echo(f"mandates are sealed by: {certificate.subject.human_friendly}")
    click.echo(f"  issued by: {certificate.issuer.human_friendly}")
    click.echo(f"  valid until: {certificate.not_valid_after.isoformat()}")
    click.echo(f"  SHA-256 fingerprint: {certificate.sha256.hex()}")
    click.echo(f"  certificate file: {sealer.identity.certificate}")
    click.echo(f"  time-stamping authority: {sealer.timestamp_url or 'none (the time of sealing is the worker clock)'}")


@keys_cli.command("rotate")
@private_key_option
@click.option(
    "--to",
    "new_public",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The new public key file (from 'flask keys generate').",
)
@click.option("--batch", default=500, show_default=True, help="Records sealed again per transaction.")
@with_appcontext
def rotate_command(private_keys: tuple[Path, ...], new_public: Path, batch: int) -> None:
    """Seal every record again to a new key, so the old private key can be retired.

    First give the web server the new public key (CLAIMSITE_SEALING_PUBLIC_KEY, and CLAIMSITE_VAULT_HOLDING_KEY as
    flask keys generate printed it) and restart it, so nothing new is sealed to the old key; then run this with the
    old private key(s). It can be stopped and run again: records sealed to the new key already are skipped.
    Afterwards destroy the old private key once no backup still holds data sealed to it, and no file for a
    participant's vault is still held under the holding key derived from it (flask vault move, given both key
    files, moves them in once their owners have a vault)."""
    keys = opening_keys(private_keys)
    try:
        target = SealingKey.from_text(new_public.read_text(encoding="utf-8"))
    except SealingError as exc:
        raise click.ClickException(f"{new_public}: {exc}") from None
    session = db_session()
    total = session.scalar(select(func.count()).select_from(PersonalRecord)) or 0
    resealed = already = 0
    with click.progressbar(length=total, label="sealing again", file=sys.stderr) as progress:
        for rows in record_batches(session, batch=batch):
            for _signup, record in rows:
                try:
                    changed = reseal(record, keys, target)
                except SealingError as exc:
                    session.rollback()
                    raise click.ClickException(
                        f"{exc}: give every private key the data was sealed to "
                        f"({resealed} record(s) were sealed again before this one)"
                    ) from None
                resealed, already = resealed + changed, already + (not changed)
            session.commit()
            session.expunge_all()
            progress.update(len(rows))
    click.echo(f"{resealed} record(s) sealed again to key {target.id.hex()}; {already} were sealed to it already")
    resealed = already = 0
    try:
        for again, done in identity_proofs.reseal_batches(session, keys, target):
            resealed, already = resealed + again, already + done
    except SealingError as exc:
        session.rollback()
        raise click.ClickException(f"{exc}: give every private key the ID copies were sealed to") from None
    click.echo(f"{resealed} ID cop(ies) sealed again to key {target.id.hex()}; {already} were sealed to it already")


def init_app(app: Flask) -> None:
    """Add ``flask keys`` to the app's command line."""
    app.cli.add_command(keys_cli)
