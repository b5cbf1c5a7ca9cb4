"""``flask vault deposit``: put the files companies sent into the participants' vaults (issue 21).

Staff receive a company's answers (a ZIP per participant, say), lay them in one folder with a mapping CSV that says
whose each file is, and run the command on a machine that reaches the database and the vault store. Each file
streams through :class:`core.vault.stream_format.EncryptingReader` into the store: encrypted to the participant's
vault key block by block, so the plaintext is never written anywhere again and memory stays at a few blocks whatever
the file's size. The server can never open what it stores.

A participant without a vault yet gets the file *held* for them: encrypted the same way, to the foundation's holding
key (:mod:`core.vault.holding`) instead of a vault key, until staff move it in (``flask vault move``). Where no holding
key is configured (production without ``CLAIMSITE_VAULT_HOLDING_KEY``) the row is refused, saying so, and the command
exits 1 after depositing every other row. Each participant with new files gets one mail per run, through the contact
copy of their address (:mod:`core.staff.vault_mail`): that something new is in their vault, or, for held files, an
invitation to set one up; never what, never a name, key or token.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from core.cli.export import opening_keys, private_key_option
from core.data import vault_files
from core.data.db import db_session
from core.data.models import VaultFile
from core.site import site
from core.staff import audit, lookup, vault_moves
from core.staff.vault_deposits import (
    MAX_COMPANY,
    MAX_NAME,
    deposit_token,
    media_type_of,
    recipient_key,
    record,
)
from core.staff.vault_mail import Mailed, mail_participants
from core.vault.holding import SETTING, HoldingKey
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

    def held(self) -> int:
        return sum(file.held_key_id is not None for files in self.deposited.values() for file in files)


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
    """Deposit each row's file in the vault of its sign-up's address, or hold it under the foundation's holding key
    for an address without a vault (:func:`core.staff.vault_deposits.recipient_key`), each committed on its own (a
    run that stops midway keeps what it stored, and a second run skips it, mailing about it if the first run did
    not). A file that cannot be read or stored is a problem of its row; the other rows go on."""
    outcome = Outcome()
    for row in rows:
        where = f"line {row.line} ({row.reference})"
        signup = lookup.by_reference(session, row.reference, [campaign])
        if signup is None:
            outcome.problems.append(f"{where}: no sign-up of {campaign} has this reference; check it on the console")
            continue
        if signup.withdrawn_at is not None:  # a withdrawal removed its files: none may come back
            outcome.problems.append(
                f"{where}: withdrawn on {signup.withdrawn_at:%Y-%m-%d}: nothing is kept in the vault for this sign-up; "
                "nothing was deposited for this line"
            )
            continue
        if not row.file.is_file():
            outcome.problems.append(f"{where}: no file {row.file}; put it there or fix the line")
            continue
        recipient = recipient_key(session, signup)
        if recipient is None:
            outcome.problems.append(
                f"{where}: no vault yet, and no holding key to keep the file for them until they set one up: set "
                f"{SETTING} (flask vault holding-key --private-key FILE prints it); nothing was deposited for this line"
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
                reader = EncryptingReader(plain, recipient.public_raw)
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
                held_key_id=recipient.held_key_id,
            )
            session.commit()
        except BaseException:
            session.rollback()
            store.delete(key)  # no stored file without its row
            raise
        outcome.deposited.setdefault(signup.id, []).append(recorded)
    return outcome


def notify(session: Session, outcome: Outcome) -> Mailed:
    """One mail per sign-up with new files (:func:`core.staff.vault_mail.mail_participants`)."""
    to_mail = {key: list(value) for key, value in outcome.unmailed.items()}
    for key, value in outcome.deposited.items():
        to_mail.setdefault(key, []).extend(value)
    return mail_participants(session, to_mail)


@click.group("vault")
def vault_cli() -> None:
    """The participants' vaults: files deposited in them, held for them, moved into them."""


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
        f"{mapping.name} ({outcome.held()} held); {outcome.already} deposited before; {len(outcome.problems)} "
        "problem(s)",
    )
    session.commit()
    for problem in outcome.problems:
        click.echo(problem, err=True)
    click.echo(
        f"{outcome.count()} file(s) deposited for {len(outcome.deposited)} participant(s), {mails.arrivals} arrival "
        f"mail(s) queued; {outcome.already} deposited before; {len(outcome.problems)} row(s) not deposited"
        + (
            f"; {outcome.held()} file(s) held for participants without a vault, {mails.invitations} invitation(s) "
            "to set one up queued"
            if outcome.held() or mails.invitations
            else ""
        ),
        err=True,
    )
    if outcome.problems:
        raise SystemExit(1)


@vault_cli.command("move")
@private_key_option
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    help="Only this campaign's files and mandates (repeat for more; default: every campaign).",
)
@with_appcontext
def move_command(private_keys: tuple[Path, ...], campaigns: tuple[str, ...]) -> None:
    """Move into the participants' vaults what is kept for them under the foundation's key: files held for them
    before they set up their vault, and a copy of their signed mandate; mail each participant once.

    Give every private key file the files were held under (the current one, and those rotated out since). Safe to
    stop and run again: a move cut off midway is finished, nothing is moved twice. Exit status 0: everything moved;
    1: the files or mandates listed as problems were not (the others were)."""
    keys = opening_keys(private_keys)
    session = db_session()
    actor = audit.cli_actor()
    try:
        outcome = vault_moves.move_into_vaults(session, site().vault_store, keys, actor, set(campaigns) or None)
    except vault_moves.MoveBusy as busy:
        raise click.ClickException(str(busy)) from None
    audit.record(
        session,
        actor,
        "vault-move",
        campaign=campaigns[0] if len(campaigns) == 1 else None,
        detail=outcome.summary(),
    )
    session.commit()
    for problem in outcome.problems:
        click.echo(problem, err=True)
    click.echo(outcome.summary(), err=True)
    if outcome.problems:
        raise SystemExit(1)


@vault_cli.command("holding-key")
@private_key_option
def holding_key_command(private_keys: tuple[Path, ...]) -> None:
    """Print the holding key derived from each private key file: the value of CLAIMSITE_VAULT_HOLDING_KEY for the
    web server and the deposit command (the public half only; the private half is derived again when files move)."""
    for path in private_keys:
        [raw] = opening_keys((path,)).private_raws()
        holding = HoldingKey.of_private(raw)
        click.echo(f"{path}: {SETTING}={holding.text}  (holding key id {holding.id})")


def init_app(app: Flask) -> None:
    """Add ``flask vault`` to the app's command line."""
    app.cli.add_command(vault_cli)
