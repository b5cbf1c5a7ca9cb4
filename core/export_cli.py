"""``flask export ...``: what staff take out of the database, opened with the foundation's private key file.

The web server cannot run these usefully: it has only the public key. Staff run them on their own machine, against
the database, with ``--private-key`` pointing at the key file kept offline (several for data sealed before a key
rotation). Rows are read and written in batches, so a campaign of any size never sits in memory whole.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from . import personal_data
from .db import db_session
from .models import Signup, participant
from .sealing import OpeningKeys, SealingError

# The answers every campaign's form may ask, in this order; anything else a campaign asks goes to "other answers".
ANSWER_COLUMNS = ("name", "email", "phone", "street", "postcode", "city", "country", "birth_date", "account",
                  "for_whom", "child_name", "child_birth_date", "signature_typed")
SIGNUP_COLUMNS = ("reference", "language", "joined_at", "verified_at", "signed_at", "fee_option", "fee_terms",
                  "paid_at", "mandate_sha256")


def private_key_option(function: Any) -> Any:
    return click.option(
        "--private-key", "private_keys", multiple=True, required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The foundation's private key file (repeat for data sealed before a key rotation).",
    )(function)


def opening_keys(paths: tuple[Path, ...]) -> OpeningKeys:
    try:
        return OpeningKeys.from_files(paths)
    except (SealingError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def _row(signup: Signup, answers: dict[str, Any]) -> list[str]:
    other = {key: value for key, value in answers.items() if key not in ANSWER_COLUMNS}
    return [signup.token[:12], signup.language, _iso(signup.created_at), _iso(signup.verified_at),
            _iso(signup.signed_at), signup.fee_option or "", signup.fee_terms or "", _iso(signup.paid_at),
            signup.mandate_sha256 or "",
            *(str(answers.get(key, "")) for key in ANSWER_COLUMNS),
            json.dumps(other, ensure_ascii=False, sort_keys=True) if other else ""]


def write_participants_csv(campaign: str, keys: OpeningKeys, out: TextIO, batch: int = 500) -> int:
    """Write the confirmed participants of ``campaign`` with their opened answers as CSV; returns the count."""
    session = db_session()
    writer = csv.writer(out)
    writer.writerow([*SIGNUP_COLUMNS, *ANSWER_COLUMNS, "other_answers"])
    count = 0
    for rows in personal_data.record_batches(session, Signup.campaign == campaign, participant(), batch=batch):
        for signup, record in rows:
            writer.writerow(_row(signup, personal_data.open_record(record, keys).answers))
            count += 1
        session.expunge_all()
    return count


@click.group("export")
def export_cli() -> None:
    """Take personal data out, opened with the private key file."""


@export_cli.command("participants")
@click.argument("campaign")
@private_key_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write (default: standard output).")
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
            with out_path.open("w", encoding="utf-8", newline="") as out:
                count = write_participants_csv(campaign, keys, out)
    except SealingError as exc:
        raise click.ClickException(f"{exc}: give every private key the data was sealed to") from None
    click.echo(f"{count} participant(s) of {campaign} exported" + (f" to {out_path}" if out_path else ""),
               err=True)
