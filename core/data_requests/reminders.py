"""The daily reminder (``flask requests remind``): one mail to staff per campaign listing the requests due within
:data:`core.data_requests.deadlines.DUE_SOON_DAYS` days and those overdue, and, for each request newly overdue, its
``overdue`` event and the draft of its complaint (:mod:`core.data_requests.complaints`) with a
``complaint-prepared`` event.

Run twice on a day, it does everything once: a request listed in a mail carries the day (``reminded_on``), and a
mail goes only when a request to list was not listed that day yet; the events are recorded once per request, and a
complaint drafted once (staff edit the draft: it is never written over).

The mail goes to the accounts that see the campaign (:func:`core.phones.alerts.staff_to_alert`: every admin, and
the staff accounts given it), queued in the same transaction as the events, so a crash between the two never
sends a mail about events that were not recorded, or the other way round.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.companies import Authority
from core.data.models import CompanyRequest, RequestEvent, RequestEventKind
from core.data_requests.complaints import addressees, complaint_text, write_complaint
from core.data_requests.request_log import RequestStatus, add_event, statuses
from core.jobs.mail import queue_template_mail
from core.phones.alerts import staff_to_alert

REMINDER_TEMPLATE = "requests_reminder"
REMINDER_MAIL = "requests-reminder"


@dataclass
class Reminded:
    """What the reminder did for one campaign."""

    campaign: str
    due_soon: list[RequestStatus] = field(default_factory=list)
    overdue: list[RequestStatus] = field(default_factory=list)
    mailed_to: list[str] = field(default_factory=list)  # empty: no mail (nothing to say, or said today already)
    newly_overdue: list[str] = field(default_factory=list)  # "<round> <company>"
    complaints: list[Path] = field(default_factory=list)


def _has_event(session: Session, request_id: int, kind: RequestEventKind) -> bool:
    query = select(RequestEvent.id).where(
        RequestEvent.company_request_id == request_id, RequestEvent.kind == kind.value
    )
    return session.scalars(query.limit(1)).first() is not None


def remind(
    session: Session,
    loaded: LoadedCampaign,
    authorities: Mapping[str, Authority],
    instance_dir: Path,
    today: dt.date,
) -> Reminded:
    """Do the day's reminding for ``loaded``'s requests (see the module) and commit; a complaint is drafted to the
    authority of each country its members live in (``authorities``: campaigns/_shared/authorities.yaml)."""
    countries = {slug: company.country for slug, company in loaded.companies.items()}
    done = Reminded(loaded.slug)
    for status in statuses(session, loaded.slug, countries, today):
        if status.state == "due_soon":
            done.due_soon.append(status)
        elif status.state == "overdue":
            done.overdue.append(status)
            _overdue(session, loaded, authorities, instance_dir, today, status, done)
    listed = done.due_soon + done.overdue
    if any(status.request.reminded_on != today for status in listed):
        done.mailed_to = staff_to_alert(session, loaded.slug)
        context = {"today": today.isoformat(), "requests": [_row(status, today) for status in listed]}
        for address in done.mailed_to:
            queue_template_mail(
                session,
                loaded=loaded,
                language=loaded.campaign.default_language,
                to=address,
                template=REMINDER_TEMPLATE,
                context=context,
                kind=REMINDER_MAIL,
            )
        for status in listed:
            status.request.reminded_on = today
    session.commit()
    return done


def _overdue(
    session: Session,
    loaded: LoadedCampaign,
    authorities: Mapping[str, Authority],
    instance_dir: Path,
    today: dt.date,
    status: RequestStatus,
    done: Reminded,
) -> None:
    request = status.request
    if not _has_event(session, request.id, RequestEventKind.OVERDUE):
        add_event(
            session, request, RequestEventKind.OVERDUE, today, {"due": status.due.isoformat() if status.due else ""}
        )
        done.newly_overdue.append(f"{request.round_id} {request.company}")
    company = loaded.companies.get(request.company)
    if (
        company is None
        or status.deadline is None
        or _has_event(session, request.id, RequestEventKind.COMPLAINT_PREPARED)
    ):
        return
    organisation = loaded.campaign.organisation
    files = []
    for addressee in addressees(_residence(session, request), authorities):
        dutch = addressee.authority is not None and addressee.country == "NL"
        language = loaded.campaign.default_language if dutch else "en"
        text = complaint_text(
            request, status.deadline, company, addressee, organisation.name, str(organisation.email), language, today
        )
        path = write_complaint(instance_dir, request, addressee, text)
        files.append(path.relative_to(instance_dir).as_posix())
        done.complaints.append(path)
    add_event(session, request, RequestEventKind.COMPLAINT_PREPARED, today, {"files": files})


def _residence(session: Session, request: CompanyRequest) -> dict[str, int]:
    """The members' countries of residence as the request's latest preparation counted them (a request prepared
    before they were counted: all of them where the form did not ask)."""
    detail = session.scalars(
        select(RequestEvent.detail)
        .where(RequestEvent.company_request_id == request.id, RequestEvent.kind == RequestEventKind.PREPARED.value)
        .order_by(RequestEvent.id.desc())
        .limit(1)
    ).first()
    counted = json.loads(detail).get("residence") if detail else None
    return {str(k): int(v) for k, v in counted.items()} if isinstance(counted, dict) else {"": request.participants}


def _row(status: RequestStatus, today: dt.date) -> dict[str, object]:
    request = status.request
    return {
        "round": request.round_id,
        "company": request.company,
        "state": status.state,
        "sent": request.sent_on.isoformat() if request.sent_on else "",
        "due": status.due.isoformat() if status.due else "",
        "days": status.days_left(today),
        "participants": request.participants,
    }
