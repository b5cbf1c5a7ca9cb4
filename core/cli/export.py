"""``flask export ...``: what staff take out of the database, opened with the foundation's private key file.

The web server cannot run these usefully: it has only the public key. Staff run them on their own machine, against
the database, with ``--private-key`` pointing at the key file kept offline (several for data sealed before a key
rotation). Rows are read and written in batches, so a campaign of any size never sits in memory whole. The row of a
participant is the evidence package's (:mod:`core.exports.evidence`), so both exports always show the same columns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import func, select

from core.cli.mandate import trust_option, trust_roots
from core.data.db import db_session
from core.data.models import Signup
from core.exports import evidence
from core.exports.participants import write_participants_csv
from core.sealing import OpeningKeys, SealingError
from core.site import site
from core.staff import audit

# Exit status of ``flask export evidence`` when the package was written but lists problems (1: nothing written).
WRITTEN_WITH_PROBLEMS = 3


def private_key_option(function: Any) -> Any:
    return click.option(
        "--private-key",
        "private_keys",
        multiple=True,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The foundation's private key file (repeat for data sealed before a key rotation).",
    )(function)


def opening_keys(paths: tuple[Path, ...]) -> OpeningKeys:
    try:
        return OpeningKeys.from_files(paths)
    except (SealingError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group("export")
def export_cli() -> None:
    """Take personal data out, opened with the private key file."""


@export_cli.command("participants")
@click.argument("campaign")
@private_key_option
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write (default: standard output).",
)
@with_appcontext
def participants_command(campaign: str, private_keys: tuple[Path, ...], out_path: Path | None) -> None:
    """CSV of CAMPAIGN's confirmed participants (signed, paid where asked, not withdrawn), with their answers."""
    keys = opening_keys(private_keys)
    known = db_session().scalar(select(func.count()).select_from(Signup).where(Signup.campaign == campaign))
    if not known:
        raise click.ClickException(f"no sign-ups for campaign '{campaign}'")
    try:
        if out_path is None:
            count = write_participants_csv(campaign, keys, sys.stdout)
        else:
            total = evidence.participant_count(campaign)
            with (
                out_path.open("w", encoding="utf-8", newline="") as out,
                click.progressbar(length=total, label="participants", file=sys.stderr) as bar,
            ):
                count = write_participants_csv(campaign, keys, out, progress=bar.update)
    except SealingError as exc:
        raise click.ClickException(f"{exc}: give every private key the data was sealed to") from None
    _audit("export-participants", campaign, f"{count} participant(s), CSV" + (f" {out_path.name}" if out_path else ""))
    click.echo(f"{count} participant(s) of {campaign} exported" + (f" to {out_path}" if out_path else ""), err=True)


def _audit(action: str, campaign: str, detail: str) -> None:
    """Staff commands that take personal data out are in the audit log too, as the OS user who ran them."""
    audit.record(db_session(), audit.cli_actor(), action, campaign=campaign, detail=detail)
    db_session().commit()


@export_cli.command("evidence")
@click.argument("campaign")
@private_key_option
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The package to write (a .zip file).",
)
@click.option("--force", is_flag=True, help="Replace the file at --out if there is one.")
@click.option("--batch", default=500, show_default=True, help="Sign-ups read from the database at a time.")
@with_appcontext
def evidence_command(campaign: str, private_keys: tuple[Path, ...], out_path: Path, force: bool, batch: int) -> None:
    """The evidence package of CAMPAIGN for the lawyers: a ZIP of its confirmed participants, their mandates and
    the agreement texts they accepted, with a manifest of SHA-256 checksums (see README.txt inside).

    Exit status 0: written, no problems; 3: written, but problems.csv lists problems (each failed mandate or
    agreement check; the first ones are also named here); 1: nothing written."""
    keys = opening_keys(private_keys)
    loaded = site().registry.snapshot.campaigns.get(campaign)
    if loaded is None:
        raise click.ClickException(
            f"no campaign '{campaign}' in {site().settings.campaigns_dir}: the package needs "
            "its campaign file and agreement texts (flask campaigns list shows the slugs)"
        )
    if out_path.exists() and not force:
        raise click.ClickException(f"{out_path} exists already: give another --out, or --force to replace it")
    total = evidence.participant_count(campaign)
    if not total:
        raise click.ClickException(f"campaign '{campaign}' has no confirmed participants: no package written")
    try:
        with click.progressbar(length=total, label="evidence package", file=sys.stderr) as bar:
            summary = evidence.write_evidence_package(
                loaded, keys, out_path, batch=batch, progress=bar.update, overwrite=force
            )
    except SealingError as exc:
        raise click.ClickException(
            f"{exc}: give every private key the data was sealed to (no package written)"
        ) from None
    except FileExistsError as exc:
        raise click.ClickException(f"{exc}: give another --out, or --force to replace it") from None
    _audit(
        "export-evidence",
        campaign,
        f"{summary.participants} participant(s), {summary.problems} problem(s), "
        f"manifest sha256 {summary.manifest_sha256}",
    )
    click.echo(f"evidence package of {campaign} written to {out_path}")
    click.echo(f"  participants:    {summary.participants}")
    click.echo(f"  duplicates:      {summary.duplicates} (left out of participants.csv: see duplicates.csv)")
    click.echo(f"  mandates:        {summary.mandates}")
    click.echo(f"  agreement texts: {summary.agreement_texts}")
    click.echo(f"  problems:        {summary.problems}")
    click.echo(f"  manifest SHA-256: {summary.manifest_sha256}")
    click.echo(
        "Send the manifest SHA-256 to the lawyers apart from the package (e.g. by phone or a signed mail): "
        "'sha256sum manifest.sha256' must print it."
    )
    if summary.problems:
        click.echo(f"WARNING: the package lists {summary.problems} problem(s) in problems.csv:", err=True)
        for problem in summary.first_problems:
            click.echo(f"  {problem.reference}  {problem.problem}: {problem.detail}", err=True)
        if summary.problems > len(summary.first_problems):
            click.echo(f"  ... and {summary.problems - len(summary.first_problems)} more", err=True)
        raise click.exceptions.Exit(WRITTEN_WITH_PROBLEMS)


@export_cli.command("verify")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--manifest-sha256", help="The manifest SHA-256 that 'flask export evidence' printed.")
@trust_option
@with_appcontext
def verify_command(package: Path, manifest_sha256: str | None, trusted: tuple[Path, ...]) -> None:
    """Check an evidence package: every file in it has the SHA-256 its manifest lists, none is missing or added,
    (with --manifest-sha256) the manifest is the one the export made, and every mandate's seal holds (as 'flask
    mandate verify --no-database' checks it). Exit status 1 when anything is off."""
    check = evidence.verify_package(package, manifest_sha256, trust_roots(trusted))
    for problem in check.problems:
        click.echo(problem, err=True)
    if not check.ok:
        raise click.ClickException(f"{package}: {len(check.problems)} problem(s); do not rely on this package")
    click.echo(
        f"{package}: all {check.files} file(s) match the manifest (manifest SHA-256 {check.manifest_sha256}"
        + (", as expected)" if manifest_sha256 else "; compare it with the one sent apart)")
    )


def init_app(app: Flask) -> None:
    """Add ``flask export`` to the app's command line."""
    app.cli.add_command(export_cli)
