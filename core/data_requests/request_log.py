"""The log of a company's request after its package was made: marked sent, then each event staff record
(acknowledged, extension, answered), and the state and due date that follow from them.

The command line (``flask requests sent|event|list``) and the console call the same functions, so a rule holds
wherever a date is typed:

- no date in the future (today as it is in the Netherlands, where staff work), none before the request was sent,
  and each event on or after the one before it (the log reads as a timeline);
- one sending, one extension, one answer; nothing after the answer;
- an extension is recorded as the company claimed it, and :func:`core.data_requests.deadlines.deadline` decides
  what it counts for: claimed after the first month it does not move the deadline, and more than two months count
  as two. The outcome says so, for staff to tell the company.

The due date is never stored: it is computed from the recorded days each time (:func:`deadline_of`), with the
public holidays of the company's country (:func:`core.data_requests.deadlines.holidays_country_for`), so a
corrected receipt day moves it at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.data import identity_proofs
from core.data.models import (
    AnswerKind,
    CompanyRequest,
    RequestChoice,
    RequestEvent,
    RequestEventKind,
    RequestMember,
    Signup,
)
from core.data_requests.choices import OTHER
from core.data_requests.deadlines import (
    Channel,
    Deadline,
    DeadlineState,
    ExtensionOutcome,
    deadline,
    holidays_country_for,
    received_on,
    status_on,
)
from core.data_requests.rounds import FOUNDATION_TIMEZONE

#: The events staff record by hand; the others are recorded by the commands (prepared, sent, overdue, complaint).
STAFF_EVENTS = (RequestEventKind.ACKNOWLEDGED, RequestEventKind.EXTENSION, RequestEventKind.ANSWERED)
#: Events whose day is the company's or staff's, kept in order (prepared is the day the package was made, which
#: may come after the day staff record as sent when they record it late).
_TIMELINE = (
    RequestEventKind.SENT,
    RequestEventKind.ACKNOWLEDGED,
    RequestEventKind.EXTENSION,
    RequestEventKind.ANSWERED,
)

RequestState = DeadlineState | str  # "prepared" (not sent yet), or a DeadlineState


class RequestLogError(ValueError):
    """A date or event that cannot be recorded: says what, for which request, and what to do."""


class HasCountry(Protocol):
    country: str | None


def today_in_nl(now: dt.datetime | None = None) -> dt.date:
    """Today's date in the Netherlands (``now`` is UTC, the clock's by default)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(FOUNDATION_TIMEZONE).date()


def find_request(session: Session, campaign: str, round_id: str, company: str) -> CompanyRequest:
    """The request of ``round_id`` to ``company`` of ``campaign``. Raises LookupError saying how to make it."""
    found = session.scalars(
        select(CompanyRequest).where(
            CompanyRequest.campaign == campaign, CompanyRequest.round_id == round_id, CompanyRequest.company == company
        )
    ).first()
    if found is None:
        raise LookupError(
            f"no request of {campaign} {round_id} to {company}: prepare it first (flask requests prepare "
            f"{round_id} --campaign {campaign} --private-key FILE), or check the round and company (flask requests "
            f"list --campaign {campaign})"
        )
    return found


def add_event(
    session: Session,
    request: CompanyRequest,
    kind: RequestEventKind,
    on: dt.date,
    detail: Mapping[str, Any] | None = None,
    staff_id: int | None = None,
) -> RequestEvent:
    """Add one event to ``request``'s log (in the caller's transaction). ``detail`` holds no personal data."""
    event = RequestEvent(
        company_request_id=request.id,
        kind=kind.value,
        on=on,
        detail=json.dumps(dict(detail), ensure_ascii=False, sort_keys=True) if detail else None,
        staff_id=staff_id,
    )
    session.add(event)
    return event


def events_of(session: Session, request: CompanyRequest) -> Sequence[RequestEvent]:
    return session.scalars(
        select(RequestEvent).where(RequestEvent.company_request_id == request.id).order_by(RequestEvent.id)
    ).all()


def _name(request: CompanyRequest) -> str:
    return f"{request.campaign} {request.round_id} to {request.company}"


def _check_day(session: Session, request: CompanyRequest, on: dt.date, today: dt.date, what: str) -> None:
    if on > today:
        raise RequestLogError(
            f"{what} of {_name(request)} on {on.isoformat()}: that day has not come yet (today is "
            f"{today.isoformat()}); record it on the day it happened"
        )
    if request.sent_on is not None and on < request.sent_on:
        raise RequestLogError(
            f"{what} of {_name(request)} on {on.isoformat()}: before the request was sent "
            f"({request.sent_on.isoformat()}); check the day"
        )
    last = max(
        (event.on for event in events_of(session, request) if event.kind in {kind.value for kind in _TIMELINE}),
        default=None,
    )
    if last is not None and on < last:
        raise RequestLogError(
            f"{what} of {_name(request)} on {on.isoformat()}: before the last event recorded ({last.isoformat()});"
            " events are recorded in the order they happened"
        )


def mark_sent(
    session: Session,
    request: CompanyRequest,
    on: dt.date,
    channel: Channel | str,
    *,
    received: dt.date | None = None,
    staff_id: int | None = None,
    today: dt.date | None = None,
) -> CompanyRequest:
    """Record that ``request`` went out on ``on`` by ``channel``, received on ``received`` when staff know it
    (else assumed from the channel: :func:`core.data_requests.deadlines.received_on`). Raises
    :class:`RequestLogError` for a request sent already, a day in the future, or a receipt before the sending."""
    today = today or today_in_nl()
    if request.sent_on is not None:
        raise RequestLogError(
            f"{_name(request)} was marked sent on {request.sent_on.isoformat()} already: a request is sent once"
        )
    try:
        channel = Channel(channel)
    except ValueError:
        raise RequestLogError(f"channel '{channel}': use one of {', '.join(c.value for c in Channel)}") from None
    _check_day(session, request, on, today, "the sending")
    if received is not None and received > today:
        raise RequestLogError(
            f"the receipt of {_name(request)} on {received.isoformat()}: that day has not come yet; record it once "
            "the company has it"
        )
    try:
        request.received_on = received_on(on, channel, recorded=received)
    except ValueError as exc:
        raise RequestLogError(str(exc)) from None
    request.sent_on, request.channel, request.received_recorded = on, channel.value, received is not None
    detail: dict[str, Any] = {"channel": channel.value}
    if received is not None:
        detail["received"] = received.isoformat()
    add_event(session, request, RequestEventKind.SENT, on, detail, staff_id)
    return request


@dataclass(frozen=True)
class Recorded:
    """What an event recorded, and what staff should know about it (an extension that did not count)."""

    event: RequestEvent
    message: str


def record_event(
    session: Session,
    request: CompanyRequest,
    kind: RequestEventKind | str,
    on: dt.date,
    company_country: str | None,
    *,
    months: int | None = None,
    answer: AnswerKind | str | None = None,
    note: str | None = None,
    staff_id: int | None = None,
    today: dt.date | None = None,
) -> Recorded:
    """Record an event staff saw (:data:`STAFF_EVENTS`): ``acknowledged``; ``extension`` with the further
    ``months`` claimed; ``answered`` with the ``answer`` (full, part, refused). ``note`` goes into the event's
    detail and must hold no personal data. ``company_country`` gives the holidays an extension is judged by.

    Raises :class:`RequestLogError` for a request not sent yet, a second extension or answer, anything after the
    answer, a day in the future, before the sending or before the last event, and missing months or answer."""
    today = today or today_in_nl()
    try:
        kind = RequestEventKind(kind)
    except ValueError:
        kind = None  # type: ignore[assignment]
    if kind not in STAFF_EVENTS:
        raise RequestLogError(f"event kind: use one of {', '.join(k.value for k in STAFF_EVENTS)}")
    if request.sent_on is None or request.received_on is None:
        raise RequestLogError(
            f"{_name(request)} is not marked sent yet: record the sending first (flask requests sent)"
        )
    if request.answered_on is not None:
        raise RequestLogError(
            f"{_name(request)} was answered on {request.answered_on.isoformat()}: nothing is recorded after the answer"
        )
    _check_day(session, request, on, today, f"the event '{kind.value}'")
    detail: dict[str, Any] = {}
    message = f"{kind.value} recorded for {_name(request)} on {on.isoformat()}"
    if kind is RequestEventKind.EXTENSION:
        message = _extension(request, on, months, company_country, detail)
    elif months is not None:
        raise RequestLogError("--months goes only with an extension")
    if kind is RequestEventKind.ANSWERED:
        try:
            answer = AnswerKind(answer) if answer is not None else None
        except ValueError:
            answer = None
        if answer is None:
            raise RequestLogError(f"an answer needs its kind: one of {', '.join(a.value for a in AnswerKind)}")
        request.answered_on, request.answer_kind = on, answer.value
        detail["answer"] = answer.value
        message += f" ({answer.value})"
        erased = erase_proofs_no_longer_needed(session, request, dt.datetime.now(dt.UTC))
        if erased:
            message += f"; {erased} ID cop(ies) erased: every company their owner chose has answered"
    elif answer is not None:
        raise RequestLogError("--answer goes only with the event 'answered'")
    if note:
        detail["note"] = note[:500]
    event = add_event(session, request, kind, on, detail, staff_id)
    return Recorded(event, message)


def erase_proofs_no_longer_needed(session: Session, request: CompanyRequest, now: dt.datetime) -> int:
    """Erase the ID copies of ``request``'s members for whom every company they chose (of the catalogue) has now
    answered the request they were in: no request will need the copy again. Returns how many participants'."""
    session.flush()
    members = session.scalars(
        select(RequestMember.signup_id).where(RequestMember.company_request_id == request.id)
    ).all()
    erased = 0
    for signup_id in members:
        chosen = set(
            session.scalars(
                select(RequestChoice.company).where(
                    RequestChoice.signup_id == signup_id, RequestChoice.company != OTHER
                )
            )
        )
        answered = set(
            session.scalars(
                select(CompanyRequest.company)
                .join(RequestMember, RequestMember.company_request_id == CompanyRequest.id)
                .where(RequestMember.signup_id == signup_id, CompanyRequest.answered_on.is_not(None))
            )
        )
        signup = session.get(Signup, signup_id)
        if signup is not None and chosen <= answered:
            proof = identity_proofs.latest(session, signup)
            if proof is not None and proof.sealed_image is not None:
                identity_proofs.erase_all(session, signup, identity_proofs.ANSWERED, now)
                erased += 1
    return erased


def _extension(
    request: CompanyRequest, on: dt.date, months: int | None, company_country: str | None, detail: dict[str, Any]
) -> str:
    if request.extension_claimed_on is not None:
        raise RequestLogError(
            f"{_name(request)}: an extension was recorded already (claimed on "
            f"{request.extension_claimed_on.isoformat()}); Art. 12(3) GDPR allows one"
        )
    if months is None or months < 1:
        raise RequestLogError("an extension needs the further months the company claimed: --months 1 or 2")
    assert request.received_on is not None
    judged = deadline(
        request.received_on,
        holidays_country_for(company_country),
        extension_claimed_on=on,
        extension_months=months,
    )
    request.extension_claimed_on, request.extension_months = on, months
    detail.update(months=months, outcome=judged.reason.value, due=judged.due.isoformat())
    said = f"extension of {months} month(s) claimed on {on.isoformat()} recorded for {_name(request)}"
    if judged.reason is ExtensionOutcome.CLAIMED_LATE:
        return (
            f"{said}; it was claimed after the first month ended ({judged.first_month_due.isoformat()}), so it does "
            f"NOT move the deadline: still due {judged.due.isoformat()}"
        )
    if judged.reason is ExtensionOutcome.CAPPED:
        return f"{said}; Art. 12(3) GDPR allows two further months at most: now due {judged.due.isoformat()}"
    return f"{said}: now due {judged.due.isoformat()}"


def deadline_of(request: CompanyRequest, company_country: str | None) -> Deadline | None:
    """The deadline of a sent request (None before it was sent)."""
    if request.received_on is None:
        return None
    return deadline(
        request.received_on,
        holidays_country_for(company_country),
        extension_claimed_on=request.extension_claimed_on,
        extension_months=request.extension_months if request.extension_claimed_on else 0,
    )


@dataclass(frozen=True)
class RequestStatus:
    """A request as the list, the console and the reminder show it on a day."""

    request: CompanyRequest
    state: RequestState  # "prepared", or open / due_soon / overdue / answered
    deadline: Deadline | None

    @property
    def due(self) -> dt.date | None:
        return self.deadline.due if self.deadline else None

    def days_left(self, today: dt.date) -> int | None:
        """Days until the due day (negative: days overdue); None before sending or once answered."""
        if self.due is None or self.state == "answered":
            return None
        return (self.due - today).days


def status_of(request: CompanyRequest, company_country: str | None, today: dt.date) -> RequestStatus:
    found = deadline_of(request, company_country)
    if found is None:
        return RequestStatus(request, "prepared", None)
    return RequestStatus(request, status_on(today, found.due, request.answered_on), found)


def statuses(
    session: Session, campaign: str, countries: Mapping[str, str | None], today: dt.date
) -> list[RequestStatus]:
    """Every request of ``campaign`` on ``today``, by round (as recorded) and company; ``countries`` maps a
    company's slug to its country (an unknown one counts the foundation's holidays)."""
    requests = session.scalars(
        select(CompanyRequest)
        .where(CompanyRequest.campaign == campaign)
        .order_by(CompanyRequest.round_id, CompanyRequest.company)
    ).all()
    return [status_of(request, countries.get(request.company), today) for request in requests]
