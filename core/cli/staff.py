"""``flask staff ...``: staff accounts of the console are made and changed here only, never on the web."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from core.data.db import db_session, utcnow
from core.data.models import StaffMember
from core.site import site
from core.staff import accounts, audit, roles, sessions


@click.group("staff")
def staff_cli() -> None:
    """Accounts of the staff console: add, list, access, unlock, disable, new password, new authenticator."""


def _account(email: str) -> StaffMember:
    staff = accounts.find(db_session(), email)
    if staff is None:
        raise click.ClickException(
            f"there is no staff account for {accounts.normalise_login(email)} (see: flask staff list)"
        )
    return staff


def _record(staff: StaffMember, action: str, change: str | None = None) -> None:
    """Write the command to the audit log (as the OS user who ran it), with the change it made."""
    detail = f"account {staff.email}" + (f": {change}" if change else "")
    audit.record(db_session(), audit.cli_actor(), action, detail=detail)
    db_session().commit()


# The options that give an account its access, shared by `add` and `access`.
_ROLE = click.option(
    "--role",
    type=click.Choice([role.value for role in roles.Role]),
    required=True,
    help="admin: everything (exports, identity documents, the audit log); staff: only --campaigns, with --rights.",
)
_CAMPAIGNS = click.option(
    "--campaigns",
    metavar="SLUGS|all",
    help="For staff: the campaigns the account sees, as slugs separated by commas, or 'all'.",
)
_RIGHTS = click.option(
    "--rights",
    type=click.Choice([rights.value for rights in roles.Rights]),
    default=roles.Rights.VIEW.value,
    show_default=True,
    help="For staff: view (figures, mail, finding a sign-up), or support (also mail a new code or a login link, "
    "and upload to a participant's vault).",
)


def _access(role: str, campaigns: str | None, rights: str) -> tuple[roles.Role, list[str] | None, roles.Rights]:
    """The access the options give, checked against the campaigns this site serves."""
    chosen, right = roles.Role(role), roles.Rights(rights)
    if chosen is roles.Role.STAFF and campaigns is None:
        raise click.UsageError("a staff account needs --campaigns: slugs separated by commas, or 'all'")
    try:
        slugs = roles.parse_campaigns(campaigns) if campaigns is not None else None
        roles.check_campaigns(chosen, slugs, site().registry.snapshot.campaigns)
    except roles.AccessError as exc:
        raise click.UsageError(str(exc)) from None
    if chosen is roles.Role.ADMIN and right is not roles.Rights.VIEW:
        raise click.UsageError("an admin may do everything: leave --rights out, or make the account staff")
    return chosen, slugs, right


def _give_access(staff: StaffMember, access: tuple[roles.Role, list[str] | None, roles.Rights]) -> str:
    role, slugs, rights = access
    roles.set_access(staff, role, slugs, rights, known=site().registry.snapshot.campaigns)
    return roles.Access.of(staff).describe()


def _show_totp(staff: StaffMember, secret: str) -> None:
    click.echo(
        "Set up the authenticator app (e.g. FreeOTP, Aegis, Google Authenticator) with this key; a login "
        "asks for its current code:"
    )
    click.echo(f"  key:  {secret}")
    click.echo(f"  link: {accounts.provisioning_uri(staff, secret)}")
    click.echo("Keep the key secret: with the password it opens the console. It is not shown again.")


def _password_prompt() -> str:
    return click.prompt("Password (at least 12 characters)", hide_input=True, confirmation_prompt=True)


@staff_cli.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The staff member's name, as shown in the console and the audit log.")
@_ROLE
@_CAMPAIGNS
@_RIGHTS
@with_appcontext
def add_command(email: str, name: str, role: str, campaigns: str | None, rights: str) -> None:
    """Make a console account for EMAIL: asks for a password, prints the authenticator key."""
    access = _access(role, campaigns, rights)
    db = db_session()
    try:
        staff, secret = accounts.add(db, site().working_box, email, name, _password_prompt())
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    described = _give_access(staff, access)
    _record(staff, "staff-add", described)
    click.echo(f"staff account {staff.email} made: {described}")
    _show_totp(staff, secret)


@staff_cli.command("list")
@with_appcontext
def list_command() -> None:
    """Every account: e-mail, name, access, last login, and whether it is locked or disabled."""
    rows = [("E-MAIL", "NAME", "ACCESS", "LAST LOGIN (UTC)", "STATE")]
    now = utcnow()
    for staff in db_session().scalars(select(StaffMember).order_by(StaffMember.email)):
        locked = staff.locked_until is not None and staff.locked_until > now  # a lock that ended is no lock
        state = (
            "disabled"
            if staff.disabled_at
            else (f"locked until {staff.locked_until:%H:%M} UTC" if locked else "active")
        )
        last = staff.last_login_at.strftime("%Y-%m-%d %H:%M") if staff.last_login_at else "never"
        rows.append((staff.email, staff.name, roles.Access.of(staff).describe(), last, state))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@staff_cli.command("access")
@click.argument("email")
@_ROLE
@_CAMPAIGNS
@_RIGHTS
@with_appcontext
def access_command(email: str, role: str, campaigns: str | None, rights: str) -> None:
    """Change what EMAIL may see and do; it applies from the account's next page on."""
    access = _access(role, campaigns, rights)
    staff = _account(email)
    described = _give_access(staff, access)
    _record(staff, "staff-access", described)
    click.echo(f"{staff.email}: {described}")


@staff_cli.command("unlock")
@click.argument("email")
@with_appcontext
def unlock_command(email: str) -> None:
    """Lift the lock after too many failed logins."""
    staff = _account(email)
    staff.locked_until, staff.failed_logins = None, 0
    _record(staff, "staff-unlock")
    click.echo(f"{staff.email} unlocked")


@staff_cli.command("disable")
@click.argument("email")
@with_appcontext
def disable_command(email: str) -> None:
    """Stop an account from logging in, and end its sessions now."""
    staff = _account(email)
    staff.disabled_at = staff.disabled_at or utcnow()
    ended = sessions.end_all(db_session(), staff)
    _record(staff, "staff-disable")
    click.echo(f"{staff.email} disabled; {ended} session(s) ended")


@staff_cli.command("enable")
@click.argument("email")
@with_appcontext
def enable_command(email: str) -> None:
    """Let a disabled account log in again."""
    staff = _account(email)
    staff.disabled_at = None
    _record(staff, "staff-enable")
    click.echo(f"{staff.email} enabled")


@staff_cli.command("password")
@click.argument("email")
@with_appcontext
def password_command(email: str) -> None:
    """Give an account a new password (its sessions end)."""
    staff = _account(email)
    try:
        staff.password_hash = accounts.hash_password(_password_prompt())
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    ended = sessions.end_all(db_session(), staff)
    _record(staff, "staff-password")
    click.echo(f"new password set for {staff.email}; {ended} session(s) ended")


@staff_cli.command("new-authenticator")
@click.argument("email")
@with_appcontext
def new_authenticator_command(email: str) -> None:
    """Give an account a new authenticator key (a lost phone); the old one stops working, its sessions end."""
    staff = _account(email)
    secret = accounts.new_totp_secret(staff, site().working_box)
    sessions.end_all(db_session(), staff)
    _record(staff, "staff-new-authenticator")
    _show_totp(staff, secret)


def init_app(app: Flask) -> None:
    """Add ``flask staff`` to the app's command line."""
    app.cli.add_command(staff_cli)
