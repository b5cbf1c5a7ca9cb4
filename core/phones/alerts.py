"""Tripped SMS limits: counted per campaign, day and kind for the console's figures, and told to staff once a day.

A pumping attack trips limits thousands of times; staff need to hear of it once, not once per refused SMS. The
count of a (campaign, day, kind) is raised in one atomic upsert that returns the new count, so exactly one request
(the one that made it 1) queues the alert, however many trip at the same moment, on SQLite and PostgreSQL alike.

The alert goes to every staff account that may see the campaign and can log in: admins, and staff accounts given
all campaigns or this one (the same reading as :class:`core.staff.roles.Access`, which sits above this layer).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.db import dialect_insert
from core.data.models import SmsLimitTrip, StaffCampaign, StaffMember
from core.jobs.mail import queue_template_mail
from core.phones.limits import ALERTED, LimitKind

ALERT_TEMPLATE = "sms_limit_alert"
ALERT_MAIL = "sms-limit-alert"


def count_trip(session: Session, campaign: str, kind: LimitKind, now: dt.datetime) -> int:
    """Add one trip of ``kind`` to ``campaign``'s count of the day (UTC) of ``now``; returns the new count."""
    table = SmsLimitTrip.__table__
    statement = dialect_insert(session.get_bind().dialect.name, table).values(
        campaign=campaign, day=now.date(), kind=kind.value, trips=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["campaign", "day", "kind"], set_={"trips": table.c.trips + 1}
    ).returning(table.c.trips)
    return int(session.execute(statement).scalar_one())


def staff_to_alert(session: Session, campaign: str) -> list[str]:
    """The login addresses of the accounts that see ``campaign`` and are not disabled, sorted."""
    sees = or_(
        StaffMember.role == "admin",
        StaffMember.all_campaigns.is_(True),
        StaffMember.id.in_(select(StaffCampaign.staff_id).where(StaffCampaign.campaign == campaign)),
    )
    query = select(StaffMember.email).where(StaffMember.disabled_at.is_(None), sees).order_by(StaffMember.email)
    return list(session.scalars(query))


def record_trip(session: Session, loaded: LoadedCampaign, kind: LimitKind, now: dt.datetime) -> None:
    """Count a trip of ``kind``, and on the day's first trip of a kind that :data:`ALERTED` names, queue the alert
    mail to :func:`staff_to_alert` in the caller's transaction (sent once the caller commits)."""
    if count_trip(session, loaded.slug, kind, now) != 1 or kind not in ALERTED:
        return
    language = loaded.campaign.default_language
    context = {"kind": kind.value, "day": now.date().isoformat()}
    for address in staff_to_alert(session, loaded.slug):
        queue_template_mail(
            session,
            loaded=loaded,
            language=language,
            to=address,
            template=ALERT_TEMPLATE,
            context=context,
            kind=ALERT_MAIL,
        )
    session.execute(
        update(SmsLimitTrip)
        .where(SmsLimitTrip.campaign == loaded.slug, SmsLimitTrip.day == now.date(), SmsLimitTrip.kind == kind.value)
        .values(alerted_at=now)
        .execution_options(synchronize_session=False)
    )


def trips_on(session: Session, campaign: str, day: dt.date) -> dict[str, int]:
    """The trips of ``campaign`` on ``day``, by kind (for the console's figures)."""
    rows = session.execute(
        select(SmsLimitTrip.kind, SmsLimitTrip.trips).where(SmsLimitTrip.campaign == campaign, SmsLimitTrip.day == day)
    )
    return {kind: trips for kind, trips in rows}
