"""``flask retention run``: erase what is kept no longer than needed (the rules: :mod:`core.data.retention`)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from core.data import identity_proofs
from core.data.db import utcnow
from core.data.retention import (
    JOB_PAYLOADS_KEPT,
    empty_old_job_payloads,
    erase_phone_verifications,
    erase_unfinished,
    remove_old_login_links,
)
from core.data.vault_retention import NOTICE_DAYS
from core.data_requests.settings import data_request_of
from core.signup import vault_removal
from core.site import site
from core.staff.exports import remove_expired
from core.staff.vault_upload import announce_forgotten, remove_abandoned


@click.group("retention")
def retention_cli() -> None:
    """Erase what is kept no longer than needed."""


def _proof_kept_days() -> dict[str, int]:
    """How long each data-request campaign served keeps an ID copy, by slug."""
    found = {}
    for loaded in site().registry.snapshot.campaigns.values():
        settings = data_request_of(loaded)
        if settings is not None:
            found[loaded.slug] = settings.proof_kept_days
    return found


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Only count what would be erased.")
@with_appcontext
def run(dry_run: bool) -> None:
    """Erase unfinished sign-ups past their campaign's limit, old job payloads, old login links, phone numbers
    being proved by SMS, ID copies kept as long as their campaign allows and vault uploads left unfinished; mail
    about vault files no mail told about, and the notices of vault files kept until a date 30 days away; remove
    vault files past that date; print the counts."""
    now = utcnow()
    campaigns = list(site().registry.snapshot.campaigns.values())
    with current_app.extensions["claimsite.db"].sessions() as session:
        results = erase_unfinished(session, campaigns, now, dry_run)
        jobs = empty_old_job_payloads(session, now, dry_run)
        links = remove_old_login_links(session, now, dry_run)
        phones = erase_phone_verifications(session, now, dry_run)
        id_copies = identity_proofs.erase_expired(session, _proof_kept_days(), now, dry_run)
        vault = vault_removal.run(session, site().vault_store, campaigns, now, dry_run)
        uploads = remove_abandoned(session, site().vault_store, now, dry_run)
        arrivals = announce_forgotten(session, now, dry_run)
        export_files = 0
        if not dry_run:
            export_files = remove_expired(current_app, session, now)
            session.commit()
    verb = "would erase" if dry_run else "erased"
    for result in results:
        click.echo(f"{result.campaign}: {verb} {result.signups} unfinished sign-up(s) older than {result.days} days")
        if result.opened:
            click.echo(
                f"{result.campaign}: {verb} {result.pre_registrations} pre-registration(s) not finished "
                f"{result.pre_registration_days} days after the campaign opened"
            )
        else:
            click.echo(f"{result.campaign}: pre-registrations kept: the campaign has not opened")
    click.echo(
        f"jobs: {'would empty' if dry_run else 'emptied'} {jobs} payload(s) of jobs that ended over "
        f"{JOB_PAYLOADS_KEPT.days} days ago"
    )
    click.echo(f"login links: {'would remove' if dry_run else 'removed'} {links} mailed over a day ago")
    click.echo(f"ID copies: {verb} {id_copies} kept as long as their campaign allows (data_request: proof_kept_days)")
    click.echo(
        f"phone numbers: {'would delete' if dry_run else 'deleted'} {phones.unverified_deleted} unproved "
        f"verification(s) and {'would strip' if dry_run else 'stripped'} {phones.verified_stripped} proved one(s) "
        "to their digest, over a day old"
    )
    click.echo(
        f"vault: {'would queue' if dry_run else 'queued'} {vault.notices_mailed + vault.notices_unmailed} notice(s) "
        f"of files kept until a date {NOTICE_DAYS} days away or less ({vault.notices_unmailed} not mailed: no "
        f"contact copy of the address), {'would remove' if dry_run else 'removed'} "
        f"{vault.files_removed} file(s) past the date their notice gave"
    )
    click.echo(f"vault uploads: {'would remove' if dry_run else 'removed'} {uploads} left unfinished over a day ago")
    click.echo(
        f"vault files: {'would queue' if dry_run else 'queued'} {arrivals} arrival mail(s) for files no mail told "
        "about an hour after they were deposited"
    )
    if not dry_run:
        click.echo(f"staff exports: removed {export_files} file(s) made over an hour ago")


def init_app(app: Flask) -> None:
    """Add ``flask retention`` to the app's command line."""
    app.cli.add_command(retention_cli)
