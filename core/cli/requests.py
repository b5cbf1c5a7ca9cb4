"""``flask requests ...``: a data-request campaign's rounds, from the packages to the complaint.

- ``prepare ROUND --campaign SLUG --private-key FILE``: per company, the package of the round's request (on a staff
  machine with the key file, as exports are: :mod:`core.exports.round_requests`);
- ``sent`` and ``event``: what happened to a company's request, with the rules of
  :mod:`core.data_requests.request_log` (the console calls the same functions);
- ``list --campaign SLUG``: each request's state and due date;
- ``named --campaign SLUG --private-key FILE``: the companies participants named themselves, waiting for review;
  ``match REFERENCE COMPANY`` and ``decline REFERENCE --reason TEXT`` decide one (as the console's Named companies
  page does: :mod:`core.data_requests.named_companies`);
- ``remind``: daily (cron or a systemd timer, like ``flask retention run``): mails staff about requests due within
  7 days and overdue ones, and drafts the complaint for each newly overdue one (:mod:`core.data_requests.reminders`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from core.campaigns import LoadedCampaign
from core.campaigns.companies import current_catalogue
from core.cli.export import opening_keys, private_key_option
from core.cli.references import TakesReferences
from core.data.db import db_session, utcnow
from core.data.models import AnswerKind, RequestEventKind, Signup
from core.data_requests import named_companies
from core.data_requests.deadlines import Channel
from core.data_requests.reminders import remind
from core.data_requests.request_log import (
    STAFF_EVENTS,
    RequestLogError,
    find_request,
    mark_sent,
    record_event,
    statuses,
    today_in_nl,
)
from core.data_requests.settings import data_request_of
from core.exports.round_package import RoundPackageError
from core.exports.round_requests import PrepareError, prepare_round
from core.sealing import SealingError
from core.site import site
from core.staff import audit


def _campaign(slug: str) -> LoadedCampaign:
    loaded = site().registry.snapshot.campaigns.get(slug)
    if loaded is None or data_request_of(loaded) is None:
        raise click.ClickException(
            f"no data-request campaign '{slug}' in {site().settings.campaigns_dir} (flask campaigns list shows the "
            "slugs; a data-request campaign has a data_request: section under plugins:)"
        )
    return loaded


def _day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is no date: write it as YYYY-MM-DD", param_hint=option) from None


campaign_option = click.option("--campaign", "campaign", required=True, help="The campaign's slug.")


@click.group("requests")
def requests_cli() -> None:
    """A data-request campaign's rounds: prepare the packages, record what happened, remind."""


@requests_cli.command("prepare")
@click.argument("round_id", metavar="ROUND")
@campaign_option
@private_key_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The folder the packages are written to.",
)
@click.option("--company", "companies", multiple=True, help="Only this company (repeat for more); default: all.")
@click.option("--batch", default=500, show_default=True, help="Sign-ups read from the database at a time.")
@with_appcontext
def prepare_command(
    round_id: str,
    campaign: str,
    private_keys: tuple[Path, ...],
    out_dir: Path,
    companies: tuple[str, ...],
    batch: int,
) -> None:
    """Prepare ROUND of a campaign: per company, one ZIP with the request letter, the annex of participants, their
    mandates and accepted ID copies, and a manifest whose SHA-256 is printed (send it apart from the package).
    Preparing a round again makes each package anew, until its request is marked sent."""
    loaded = _campaign(campaign)
    keys = opening_keys(private_keys)
    try:
        done = prepare_round(loaded, round_id, keys, out_dir, companies=companies, batch=batch)
    except PrepareError as exc:
        raise click.ClickException(str(exc)) from None
    except SealingError as exc:
        raise click.ClickException(f"{exc}: give every private key the data was sealed to") from None
    except FileExistsError as exc:
        raise click.ClickException(
            f"{exc}: no request of this round is recorded for that file; move it away or give another --out"
        ) from None
    except RoundPackageError as exc:
        raise click.ClickException(f"{exc} (the round changed while it was read: run the command again)") from None
    settings = data_request_of(loaded)
    offered = set(settings.companies) if settings else set()  # the others were matched to a name (see below)
    click.echo(f"round {round_id} of {campaign}:")
    for company in done.companies:
        if company.path is None:
            if company.removed:
                click.echo(
                    f"  {company.company}: nobody is in this request any more (withdrawn, or their ID no longer "
                    "accepted): its earlier package is no longer recorded; delete its file"
                )
            else:
                click.echo(f"  {company.company}: no participants: no package")
            continue
        again = " (made again: replaces the earlier package)" if company.remade else ""
        click.echo(f"  {company.company}: {company.path}{again}")
        click.echo(f"    participants: {company.participants}, ID copies: {company.id_proofs}")
        click.echo(f"    manifest SHA-256: {company.manifest_sha256}")
        if company.company not in offered:
            click.echo(
                "    a company participants named themselves (matched by staff): they gave no details for it, so the"
                " annex has their name, reference and birth date only"
            )
    if done.others_waiting:
        click.echo(
            f"{done.others_waiting} participant(s) named another company: their requests wait for staff to review "
            "the names (they are in no package here)"
        )
    click.echo("Send each manifest SHA-256 apart from its package; then record it: flask requests sent ...")
    made = [c for c in done.companies if c.path is not None]
    _audit("requests-prepare", campaign, f"{round_id}: " + ", ".join(f"{c.company} {c.participants}" for c in made))


def _audit(action: str, campaign: str, detail: str) -> None:
    """Staff commands that read personal data or change a request are in the audit log, as the OS user who ran
    them (committed with what they recorded)."""
    audit.record(db_session(), audit.cli_actor(), action, campaign=campaign, detail=detail[:400])
    db_session().commit()


@requests_cli.command("sent")
@click.argument("round_id", metavar="ROUND")
@click.argument("company")
@campaign_option
@click.option("--on", "on", required=True, help="The day it was sent (YYYY-MM-DD).")
@click.option("--channel", required=True, type=click.Choice([c.value for c in Channel]), help="How it was sent.")
@click.option("--received", help="The day the company received it, when known (YYYY-MM-DD); else assumed.")
@with_appcontext
def sent_command(round_id: str, company: str, campaign: str, on: str, channel: str, received: str | None) -> None:
    """Record that ROUND's request to COMPANY was sent."""
    _campaign(campaign)
    session = db_session()
    try:
        request = find_request(session, campaign, round_id, company)
        mark_sent(session, request, _day(on, "--on"), channel, received=_day(received, "--received"))  # type: ignore[arg-type]
    except (LookupError, RequestLogError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    _audit("requests-sent", campaign, f"{round_id} {company}: sent {on} by {channel}")
    how = "recorded" if request.received_recorded else f"assumed for {channel}"
    click.echo(
        f"{campaign} {round_id} to {company}: sent on {request.sent_on}, received on {request.received_on} ({how})"
    )


@requests_cli.command("event")
@click.argument("round_id", metavar="ROUND")
@click.argument("company")
@click.argument("kind", type=click.Choice([k.value for k in STAFF_EVENTS]))
@campaign_option
@click.option("--on", "on", required=True, help="The day it happened (YYYY-MM-DD).")
@click.option("--months", type=int, help="extension: the further months the company claimed.")
@click.option("--answer", type=click.Choice([a.value for a in AnswerKind]), help="answered: how it answered.")
@click.option("--note", help="A short note (no personal data).")
@with_appcontext
def event_command(
    round_id: str,
    company: str,
    kind: str,
    campaign: str,
    on: str,
    months: int | None,
    answer: str | None,
    note: str | None,
) -> None:
    """Record what happened to ROUND's request to COMPANY: acknowledged, extension (--months) or answered
    (--answer)."""
    loaded = _campaign(campaign)
    catalogued = loaded.companies.get(company)
    session = db_session()
    try:
        request = find_request(session, campaign, round_id, company)
        recorded = record_event(
            session,
            request,
            RequestEventKind(kind),
            _day(on, "--on"),  # type: ignore[arg-type]
            catalogued.country if catalogued else None,
            months=months,
            answer=answer,
            note=note,
        )
    except (LookupError, RequestLogError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    _audit("requests-event", campaign, f"{round_id} {company}: {kind} on {on}")
    click.echo(recorded.message)


@requests_cli.command("list")
@campaign_option
@click.option("--today", help="The day to count from (YYYY-MM-DD); default: today in the Netherlands.")
@with_appcontext
def list_command(campaign: str, today: str | None) -> None:
    """Each request of a campaign, by round and company: state, sent, received, due date, days left or overdue."""
    loaded = _campaign(campaign)
    day = _day(today, "--today") or today_in_nl()
    order = {round_.id: index for index, round_ in enumerate(data_request_of(loaded).rounds)}  # type: ignore[union-attr]
    countries = {slug: company.country for slug, company in loaded.companies.items()}
    found = statuses(db_session(), campaign, countries, day)
    if not found:
        click.echo(f"no requests of {campaign} yet: flask requests prepare ROUND --campaign {campaign} ...")
        return
    found.sort(key=lambda s: (order.get(s.request.round_id, len(order)), s.request.round_id, s.request.company))
    click.echo(f"{'round':<12} {'company':<12} {'state':<10} {'sent':<10} {'received':<10} {'due':<10} days")
    for status in found:
        request = status.request
        left = status.days_left(day)
        if status.state == "answered":
            days = f"answered {request.answered_on} ({request.answer_kind})"
        elif left is None:
            days = f"{request.participants} participant(s), not sent"
        elif left < 0:
            days = f"{-left} overdue"
        else:
            days = f"{left} left"
        if status.deadline is not None and status.deadline.claimed_months:
            days += f"; extension {status.deadline.claimed_months} month(s): {status.deadline.reason.value}"
        click.echo(
            f"{request.round_id:<12} {request.company:<12} {status.state:<10} {request.sent_on or '-'!s:<10} "
            f"{request.received_on or '-'!s:<10} {status.due or '-'!s:<10} {days}"
        )


@requests_cli.command("remind")
@click.option("--today", help="The day to remind for (YYYY-MM-DD); default: today in the Netherlands.")
@with_appcontext
def remind_command(today: str | None) -> None:
    """Daily: mail staff the requests due within 7 days and those overdue (once a day), and draft the complaint to
    the supervisory authority for each newly overdue one (in the instance folder's complaints/)."""
    day = _day(today, "--today") or today_in_nl()
    settings = site().settings
    authorities = current_catalogue(settings.campaigns_dir)[0].authorities
    for loaded in site().registry.snapshot.campaigns.values():
        if data_request_of(loaded) is None:
            continue
        done = remind(db_session(), loaded, authorities, settings.instance_dir, day)
        click.echo(
            f"{loaded.slug}: {len(done.due_soon)} due within 7 days, {len(done.overdue)} overdue; "
            + (
                f"mailed {len(done.mailed_to)} staff account(s)"
                if done.mailed_to
                else "no mail (none due, or mailed today)"
            )
        )
        for name in done.newly_overdue:
            click.echo(f"  {name}: overdue (recorded)")
        for path in done.complaints:
            click.echo(f"  complaint drafted: {path}")


@requests_cli.command("named")
@campaign_option
@private_key_option
@with_appcontext
def named_command(campaign: str, private_keys: tuple[Path, ...]) -> None:
    """The companies participants of a campaign named themselves that wait for review: each one's reference and the
    name typed (opened with the key file; each one listed is in the audit log)."""
    loaded = _campaign(campaign)
    keys = opening_keys(private_keys)
    db = db_session()
    try:
        named = named_companies.waiting(db, loaded.slug, keys, limit=1_000_000)
    except SealingError as exc:
        raise click.ClickException(f"{exc}: give every private key the data was sealed to") from None
    if not named:
        click.echo(f"{campaign}: no named company waits for review")
        return
    click.echo(f"{campaign}: {len(named)} named compan{'y' if len(named) == 1 else 'ies'} waiting for review")
    for entry in named:
        click.echo(f"  {entry.reference}  {entry.name or '(no name kept)'}")
        audit.record(
            db, audit.cli_actor(), "named-view", campaign=campaign, detail=f"named company of {entry.reference}"
        )
    db.commit()
    click.echo(
        f"Decide each: flask requests match REFERENCE COMPANY --campaign {campaign} (a slug of the catalogue: flask "
        f"companies list), or flask requests decline REFERENCE --campaign {campaign} --reason TEXT"
    )


def _named_entry(campaign: str, reference: str) -> tuple[LoadedCampaign, Signup]:
    loaded = _campaign(campaign)
    found = named_companies.entry_of(db_session(), loaded.slug, reference)
    if found is None:
        raise click.ClickException(
            f"no sign-up of {campaign} with reference '{reference}' named a company (the references are the 12 "
            f"characters flask requests named --campaign {campaign} prints)"
        )
    return loaded, found[0]


def _not_waiting(reference: str) -> click.ClickException:
    return click.ClickException(f"the company {reference} named is no longer waiting for review: nothing was changed")


@requests_cli.command("match", cls=TakesReferences)
@click.argument("reference")
@click.argument("company")
@campaign_option
@with_appcontext
def match_command(reference: str, company: str, campaign: str) -> None:
    """Match the company the participant REFERENCE named to COMPANY of the catalogue: the next round makes a
    request to it for them."""
    loaded, signup = _named_entry(campaign, reference)
    db = db_session()
    try:
        outcome = named_companies.match(db, loaded, signup, company, None, utcnow())
    except named_companies.ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    if outcome is named_companies.Outcome.NOT_WAITING:
        db.rollback()
        raise _not_waiting(reference)
    audit.record(db, audit.cli_actor(), "named-match", campaign=campaign, detail=f"sign-up {reference}: {company}")
    db.commit()
    click.echo(f"matched: {reference} is in the next round's request to {company} (no mail is sent)")


@requests_cli.command("decline", cls=TakesReferences)
@click.argument("reference")
@campaign_option
@click.option(
    "--reason",
    required=True,
    help=f"As the participant will read it, in their language (it ends a sentence), or a common one by code: "
    f"{', '.join(named_companies.REASONS)} (worded in their language).",
)
@with_appcontext
def decline_command(reference: str, campaign: str, reason: str) -> None:
    """Decline the company the participant REFERENCE named: they get a mail with the reason (their other companies
    are not affected)."""
    loaded, signup = _named_entry(campaign, reference)
    db = db_session()
    try:
        choice = reason if reason in named_companies.REASONS else named_companies.OTHER_REASON
        worded = named_companies.decline_reason(choice, reason, signup.language, loaded.campaign.address_form)
        outcome = named_companies.decline(db, loaded, signup, worded, None, utcnow())
    except named_companies.ReviewError as exc:
        raise click.ClickException(str(exc)) from None
    if outcome is named_companies.Outcome.NOT_WAITING:
        db.rollback()
        raise _not_waiting(reference)
    mailed = outcome is named_companies.Outcome.DECLINED_MAILED
    detail = f"sign-up {reference}{', mailed' if mailed else ', not mailed: no address kept'}"
    audit.record(db, audit.cli_actor(), "named-decline", campaign=campaign, detail=detail)
    db.commit()
    click.echo(
        f"declined: {reference} "
        + ("gets a mail with the reason" if mailed else "is not mailed: no address is kept for them")
    )


def init_app(app: Flask) -> None:
    """Add ``flask requests`` to the app's command line."""
    app.cli.add_command(requests_cli)
