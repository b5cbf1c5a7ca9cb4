"""The audit log: one row per staff action (who, what, when), written in the same transaction as the action.

Console pages are logged by the console itself (:mod:`core.staff.views`, after each request); login attempts by
the login view; staff commands (``flask staff``, ``flask export``) through :func:`cli_actor`. Entries hold no
personal data of participants: the page, the campaign, a count, a reference at most.
"""

from __future__ import annotations

import getpass

from sqlalchemy.orm import Session

from core.data.models import AuditEntry, StaffMember


def record(
    session: Session,
    actor: StaffMember | str,
    action: str,
    *,
    campaign: str | None = None,
    detail: str | None = None,
    ip_hash: str | None = None,
) -> None:
    """Add an audit entry to ``session`` (the caller commits). ``actor`` is the staff member, or a text such as
    :func:`cli_actor` or the address a failed login was tried with."""
    if isinstance(actor, StaffMember):
        name, staff_id = actor.email, actor.id
    else:
        name, staff_id = actor, None
    session.add(
        AuditEntry(
            actor=name[:300],
            staff_id=staff_id,
            action=action,
            campaign=campaign,
            detail=detail[:400] if detail else None,
            ip_hash=ip_hash,
        )
    )


def cli_actor() -> str:
    """Who runs a staff command: the operating-system user (commands run on a staff machine, not the web)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
