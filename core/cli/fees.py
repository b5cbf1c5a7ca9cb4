"""``flask fees settle`` and ``flask payments list``: for staff, what participants owe out of an award
(:mod:`core.money.settlement`) and where the payments stand.

Both show sign-ups by reference only (the first 12 characters of ``Signup.token``), never personal data. Both read
the database a batch at a time and print as they go, so a campaign with many participants needs little memory;
the columns of their tables are sized in advance for that reason. Money is integer cents throughout, as in
:mod:`core.money.fees`.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.data.models import Payment, PaymentState, Signup, Stage
from core.money import settlement
from core.money.fees import FeeModel, cents, euros
from core.money.settlement import BATCH, REFERENCE
from core.site import site


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: references may start with '-' (OWASP's CSV advice)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


CSV_COLUMNS = (
    "reference",
    "signed_at",
    "fee_model",
    "option",
    "award_eur",
    "fee_eur",
    "participant_eur",
    "one_time_paid_eur",
)


class Award(click.ParamType):
    """An amount in euros as staff type it (``500``, ``499.99``), converted exactly to integer cents."""

    name = "euros"
    _AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        found = self._AMOUNT.fullmatch(text)
        if found is None:
            hint = " (use a point for decimals)" if "," in text else ""
            self.fail(
                f"{text!r} is not an amount in euros{hint}: write it like 500 or 499.99, without a currency sign",
                param,
                ctx,
            )
        sign, whole, decimals = found.groups()
        decimals = decimals or ""
        if sign and (int(whole) or decimals.strip("0")):
            self.fail(f"{text!r} is negative: an award is 0 or more", param, ctx)
        if len(decimals) > 2:
            self.fail(f"{text!r} has more than 2 decimals: give the award to the cent, e.g. 499.99", param, ctx)
        return cents(Decimal(text))  # exact: never a float


def _session() -> Session:
    return current_app.extensions["claimsite.db"].sessions()


def _campaign(session: Session, slug: str) -> FeeModel | None:
    """Check that ``slug`` is a campaign (served now, or with sign-ups from before its file went); return its
    current fee model, if any."""
    try:
        return settlement.campaign_fee_model(session, slug, site().registry.snapshot.campaigns)
    except settlement.UnknownCampaign as exc:
        raise click.BadParameter(str(exc), param_hint="'CAMPAIGN'") from None


def _date(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).date().isoformat() if value else "-"


def _moment(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@contextmanager
def _csv_file(path: Path | None) -> Iterator[IO[str] | None]:
    """The CSV file to write to, written next to ``path`` and moved into place only once complete, so a
    failure never leaves half a settlement where the full one is expected."""
    if path is None:
        yield None
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as file:
            yield file
        os.replace(partial, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


# -- flask fees ----------------------------------------------------------------------------------------------
@click.group("fees")
def fees_group() -> None:
    """What participants owe under the fee terms they signed."""


@fees_group.command("settle")
@click.argument("campaign")
@click.option(
    "--award", required=True, type=Award(), help="What each participant is awarded, in euros (e.g. 500 or 499.99)."
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the rows to this CSV file (UTF-8).",
)
@with_appcontext
def settle(campaign: str, award: int, csv_path: Path | None) -> None:
    """For every confirmed participant of CAMPAIGN: the fee owed out of the award and what is left for them,
    under the terms they signed. Shows references only, no personal data."""
    with _session() as session, _csv_file(csv_path) as file:
        model = _campaign(session, campaign)
        writer = csv.writer(file) if file is not None else None
        if writer is not None:
            writer.writerow(CSV_COLUMNS)
        amount = len(str(euros(award)))
        layout = f"{{:<{REFERENCE}}}  {{:<10}}  {{:<6}}  {{:>{max(amount, 9)}}}  {{:>{max(amount, 20)}}}"
        click.echo(f"{campaign}: an award of EUR {euros(award)} per participant")
        click.echo(layout.format("REFERENCE", "SIGNED", "OPTION", "FEE (EUR)", "TO PARTICIPANT (EUR)"))

        def show(one: settlement.SettledSignup) -> None:
            click.echo(
                layout.format(
                    one.reference, _date(one.signed_at), one.option, str(euros(one.fee)), str(euros(one.left))
                )
            )
            if writer is not None:
                writer.writerow(
                    (
                        spreadsheet_safe(one.reference),
                        one.signed_at.isoformat() if one.signed_at else "",
                        one.fee_model or "",
                        one.option,
                        euros(one.award),
                        euros(one.fee),
                        euros(one.left),
                        euros(one.paid),
                    )
                )

        try:
            totals = settlement.settle(session, campaign, model, award, show)
        except settlement.SettlementError as exc:
            raise click.ClickException(str(exc)) from None
        count = totals.participants
        click.echo("")
        click.echo(
            f"{count} participant(s)"
            + (": " if count else "")
            + ", ".join(f"{n} {option}" for option, n in sorted(totals.options.items()))
        )
        click.echo(f"Total fees: EUR {euros(totals.total_fees)}")
        click.echo(f"Total to participants: EUR {euros(totals.total_left)}")
        click.echo(f"One-time payments received: EUR {euros(totals.total_paid)}")
        click.echo(totals.rule)
    if csv_path is not None:
        click.echo(f"CSV written to {csv_path.resolve()}")


# -- flask payments ------------------------------------------------------------------------------------------
@click.group("payments")
def payments_group() -> None:
    """Payment attempts of sign-ups whose fee model asks a payment."""


@payments_group.command("list")
@click.argument("campaign")
@click.option(
    "--state",
    type=click.Choice([state.value for state in PaymentState], case_sensitive=False),
    help="Only the attempts in this state.",
)
@with_appcontext
def list_payments(campaign: str, state: str | None) -> None:
    """Every payment attempt of CAMPAIGN, oldest first; then the attempts per state and how many sign-ups still
    wait for their payment. Shows references only, no personal data."""
    with _session() as session:
        _campaign(session, campaign)
        query = (
            select(
                Signup.token,
                Payment.attempt,
                Payment.provider,
                Payment.amount_cents,
                Payment.currency,
                Payment.state,
                Payment.created_at,
                Payment.paid_at,
                Payment.provider_ref,
            )
            .join(Signup, Signup.id == Payment.signup_id)
            .where(Payment.campaign == campaign)
            .order_by(Payment.created_at, Payment.id)
            .execution_options(yield_per=BATCH)
        )
        if state is not None:
            query = query.where(Payment.state == state)
        provider = max([len("PROVIDER"), *(len(p.identifier) for p in site().payment_providers)])
        layout = f"{{:<{REFERENCE}}}  {{:>7}}  {{:<{provider}}}  {{:>12}}  {{:<10}}  {{:<19}}  {{:<19}}  {{}}"
        click.echo(
            layout.format(
                "REFERENCE", "ATTEMPT", "PROVIDER", "AMOUNT", "STATE", "CREATED (UTC)", "PAID AT (UTC)", "PROVIDER REF"
            )
        )
        shown = 0
        with session.execute(query) as rows:
            for token, attempt, name, amount, currency, current, created_at, paid_at, ref in rows:
                shown += 1
                click.echo(
                    layout.format(
                        token[:REFERENCE],
                        attempt,
                        name,
                        f"{currency} {euros(amount)}",
                        current,
                        _moment(created_at),
                        _moment(paid_at),
                        ref or "-",
                    )
                )
        counts = dict(
            session.execute(
                select(Payment.state, func.count()).where(Payment.campaign == campaign).group_by(Payment.state)
            ).all()
        )
        waiting = session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(
                Signup.campaign == campaign,
                Signup.stage == Stage.SIGNED,
                Signup.payment_required.is_(True),
                Signup.paid_at.is_(None),
            )
        )
    click.echo("")
    click.echo(f"{shown} attempt(s) shown" + (f" (state {state})" if state else ""))
    click.echo(
        "Attempts per state: "
        + ", ".join(f"{s.value} {counts.pop(s.value, 0)}" for s in PaymentState)
        + "".join(f", {other} {n}" for other, n in sorted(counts.items()))
    )
    click.echo(f"Sign-ups waiting for payment (signed, not paid): {waiting}")


def init_app(app: Flask) -> None:
    """Add ``flask fees`` and ``flask payments`` to the app's command line."""
    app.cli.add_command(fees_group)
    app.cli.add_command(payments_group)
