"""``flask vault deposit``: put the files companies sent into the participants' vaults (issue 21).

Staff receive a company's answers (a ZIP per participant, say), lay them in one folder with a mapping CSV that says
whose each file is, and run the command on a machine that reaches the database and the vault store. Each file
streams through :class:`core.vault.stream_format.EncryptingReader` into the store: encrypted to the participant's
vault key block by block, so the plaintext is never written anywhere again and memory stays at a few blocks whatever
the file's size. The server can never open what it stores.

A participant without a vault gets nothing yet (files held for them under the foundation's key come in a later
slice): the row is reported and the command exits 1, after depositing every other row. Each participant with new
files gets one arrival mail per run, through the contact copy of their address, that says only that something new
is in their vault: never what, never a name, key or token.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from core.data import vault_files
from core.data.db import db_session
from core.data.models import Signup, VaultFile
from core.site import site
from core.staff import audit, lookup
from core.staff.vault_deposits import (
    MAX_COMPANY,
    MAX_NAME,
    deposit_token,
    media_type_of,
    queue_arrival_mail,
    recipient_key,
    record,
)
from core.vault.store import VaultStore, new_key
from core.vault.stream_format import EncryptingReader

REFERENCE_LENGTH = lookup.REFERENCE_LENGTH


@dataclass(frozen=True)
class Row:
    """One line of the mapping, as read (``line`` is its line number in the CSV, for the report)."""

    line: int
    reference: str
    file: Path
    company: str
    name: str


@dataclass
class Outcome:
    """What a run did: files deposited per sign-up, files deposited before but not mailed about yet (both get their
    arrival mail), rows deposited before, problems (each a line of the report)."""

    deposited: dict[int, list[VaultFile]] = field(default_factory=dict)
    unmailed: dict[int, list[VaultFile]] = field(default_factory=dict)  # deposited before, but not mailed about
    already: int = 0
    problems: list[str] = field(default_factory=list)

    def count(self) -> int:
        return sum(len(files) for files in self.deposited.values())


def read_mapping(mapping: Path, default_company: str | None) -> tuple[list[Row], list[str]]:
    """The mapping's rows, and the problems of the lines that are no row (each names its line and what to do)."""
    rows: list[Row] = []
    problems: list[str] = []
    seen: dict[tuple[str, Path], int] = {}
    with mapping.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        header = [name.strip() for name in reader.fieldnames or []]
        if "reference" not in header or "file" not in header:
            raise click.ClickException(
                f"{mapping}: the first line must be the header reference,file[,company][,name] "
                f"(it is {','.join(header) or 'empty'})"
            )
        for number, raw in enumerate(reader, start=2):
            values = {(key or "").strip(): (value or "").strip() for key, value in raw.items() if key}
            # The console's annexes put an apostrophe before a reference that starts with '-' (spreadsheet-safe).
            reference = values.get("reference", "").lstrip("'")
            file_text = values.get("file", "")
            company = values.get("company") or default_company or ""
            where = f"{mapping.name} line {number}"
            if len(reference) != REFERENCE_LENGTH or not file_text:
                problems.append(
                    f"{where}: needs a reference of {REFERENCE_LENGTH} characters (as the console shows it) and a "
                    "file; fix the line"
                )
                continue
            if not company or len(company) > MAX_COMPANY:
                problems.append(
                    f"{where}: no company (give --company or a company column) or one longer than {MAX_COMPANY} "
                    "characters"
                )
                continue
            path = (mapping.parent / file_text).resolve()
            name = (values.get("name") or Path(file_text).name)[:MAX_NAME]
            key = (reference, path)
            if key in seen:
                problems.append(f"{where}: the same reference and file as line {seen[key]}; remove one of them")
                continue
            seen[key] = number
            rows.append(Row(number, reference, path, company, name))
    return rows, problems


def deposit_rows(session: Session, store: VaultStore, campaign: str, rows: list[Row], deposited_by: str) -> Outcome:
    """Deposit each row's file in the vault of its sign-up's address, each committed on its own (a run that stops
    midway keeps what it stored, and a second run skips it, mailing about it if the first run did not). A file that
    cannot be read or stored is a problem of its row; the other rows go on."""
    outcome = Outcome()
    for row in rows:
        where = f"line {row.line} ({row.reference})"
        signup = lookup.by_reference(session, row.reference, [campaign])
        if signup is None:
            outcome.problems.append(f"{where}: no sign-up of {campaign} has this reference; check it on the console")
            continue
        if not row.file.is_file():
            outcome.problems.append(f"{where}: no file {row.file}; put it there or fix the line")
            continue
        public_raw = recipient_key(session, signup)
        if public_raw is None:
            outcome.problems.append(
                f"{where}: no vault yet: invite them to set one up on /my/vault; nothing was deposited for this line"
            )
            continue
        size = row.file.stat().st_size
        token = deposit_token(campaign, row.reference, row.company, row.name, size)
        before = vault_files.deposited(session, token)
        if before is not None:
            outcome.already += 1
            if before.notified_at is None:  # deposited by a run that stopped before its mails: mail now
                outcome.unmailed.setdefault(signup.id, []).append(before)
            continue
        key = new_key()
        try:
            with row.file.open("rb") as plain:
                reader = EncryptingReader(plain, public_raw)
                store.put(key, reader)  # type: ignore[arg-type]
        except Exception as error:  # any read or store failure: of this row only, reported
            outcome.problems.append(f"{where}: {row.file.name} could not be stored ({error}); run the mapping again")
            continue
        try:
            recorded = record(
                session,
                signup,
                company=row.company,
                name=row.name,
                media_type=media_type_of(row.name),
                store_key=key,
                info=reader.info,
                token=token,
                deposited_by=deposited_by,
            )
            session.commit()
        except BaseException:
            session.rollback()
            store.delete(key)  # no stored file without its row
            raise
        outcome.deposited.setdefault(signup.id, []).append(recorded)
    return outcome


def notify(session: Session, outcome: Outcome) -> int:
    """One arrival mail per sign-up with new files, through its contact copy (none without one); returns how many
    were queued."""
    queued = 0
    to_mail = {key: list(value) for key, value in outcome.unmailed.items()}
    for key, value in outcome.deposited.items():
        to_mail.setdefault(key, []).extend(value)
    for signup_id, files in to_mail.items():
        signup = session.get(Signup, signup_id)
        if signup is None or not queue_arrival_mail(session, signup, files):
            continue
        session.commit()
        queued += 1
    return queued


@click.group("vault")
def vault_cli() -> None:
    """The participants' vaults: files deposited in them."""


@vault_cli.command("deposit")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", required=True, help="The campaign's slug (flask campaigns list shows them).")
@click.option("--company", default=None, help="The company the files come from, for rows without a company column.")
@with_appcontext
def deposit_command(mapping: Path, campaign: str, company: str | None) -> None:
    """Deposit the files MAPPING lists, encrypted, in the participants' vaults, and mail each participant once.

    MAPPING is a CSV with the header reference,file[,company][,name]: reference as the console shows it (12
    characters), file relative to the CSV's folder, name the file name shown to the participant (default: the
    file's). A file deposited before (same reference, company, name and size) is skipped. Exit status 0: every row
    deposited or deposited before; 1: rows listed as problems were not deposited (the others were)."""
    if campaign not in site().registry.snapshot.campaigns:
        raise click.ClickException(f"no campaign '{campaign}' is loaded: flask campaigns list shows the slugs")
    rows, problems = read_mapping(mapping, company)
    session = db_session()
    actor = audit.cli_actor()
    outcome = deposit_rows(session, site().vault_store, campaign, rows, actor)
    outcome.problems[:0] = problems
    mails = notify(session, outcome)
    audit.record(
        session,
        actor,
        "vault-deposit",
        campaign=campaign,
        detail=f"{outcome.count()} file(s) deposited for {len(outcome.deposited)} participant(s) from "
        f"{mapping.name}; {outcome.already} deposited before; {len(outcome.problems)} problem(s)",
    )
    session.commit()
    for problem in outcome.problems:
        click.echo(problem, err=True)
    click.echo(
        f"{outcome.count()} file(s) deposited for {len(outcome.deposited)} participant(s), {mails} arrival mail(s) "
        f"queued; {outcome.already} deposited before; {len(outcome.problems)} row(s) not deposited",
        err=True,
    )
    if outcome.problems:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Add ``flask vault`` to the app's command line."""
    app.cli.add_command(vault_cli)
