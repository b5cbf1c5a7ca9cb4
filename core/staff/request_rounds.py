"""The console's page of a data-request campaign's rounds: per round of the campaign file, the timeline of each
company's request (prepared, sent, received, each event, the due day and the state on a day), who waits for a
request, and the writer that prepares a round as a console export.

The timeline is read from what :mod:`core.data_requests.request_log` recorded, and its state and due day come from
the same functions the command line and the daily reminder use (:func:`core.data_requests.request_log.status_of`),
so the console never tells staff another date than the reminder mail does. Nothing here opens personal data: the
page shows counts, days and checksums; only the writer, run in an export's thread with the key file, opens it.

A round is prepared as **one** export whose file is a ZIP of the company packages (stored, not compressed again),
not as one download per company: the export machinery (:mod:`core.staff.exports`) keeps one file per export, with
its progress, its hour on the server and its one download, and a round prepared at once is sent at once. Each
package inside is the one ``flask requests prepare`` writes, verified by its own manifest, whose SHA-256 the page
shows (to be sent apart from the package).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.models import CompanyRequest, RequestEventKind
from core.data_requests import rounds
from core.data_requests.request_log import RequestStatus, events_of, status_of
from core.data_requests.settings import DataRequestSettings, Round
from core.exports.round_package import RoundPackageError
from core.exports.round_requests import PrepareError, company_of, prepare_round, round_companies
from core.sealing import OpeningKeys
from core.staff.exports import ExportRefused, Write, Written

#: The state of a company's request as the page words it (the state is also a CSS class: ``state-<state>``).
STATE_TEXT = {
    "not-prepared": "Not prepared",
    "prepared": "Prepared, not sent",
    "open": "Sent, open",
    "due_soon": "Due soon",
    "overdue": "OVERDUE",
    "answered": "Answered",
}
_EXTENSION_TEXT = {
    "counted": "counted: the deadline moved",
    "capped": "capped at the two further months the GDPR allows",
    "claimed-late": "claimed after the first month: does NOT move the deadline",
}


@dataclass(frozen=True)
class Step:
    """One line of a request's timeline: what happened, on which day, and what goes with it."""

    kind: str  # a RequestEventKind value, or "received"
    on: dt.date
    text: str = ""
    note: str | None = None


@dataclass(frozen=True)
class CompanyTimeline:
    slug: str
    name: str
    request: CompanyRequest | None  # None: not prepared
    status: RequestStatus | None
    steps: tuple[Step, ...]
    days_left: int | None  # until the due day; negative: days overdue; None before sending and once answered
    waiting: int  # participants a preparation now would take (see :func:`waiting_for`)

    @property
    def state(self) -> str:
        return "not-prepared" if self.status is None else str(self.status.state)

    @property
    def state_text(self) -> str:
        return STATE_TEXT[self.state]

    @property
    def days_text(self) -> str:
        """``12 days left``, ``due today``, ``3 days overdue``; empty when there is no due day to count to."""
        if self.days_left is None:
            return ""
        if self.days_left == 0:
            return "due today"
        if self.days_left > 0:
            return f"{self.days_left} day(s) left"
        return f"{-self.days_left} day(s) overdue"


@dataclass(frozen=True)
class RoundTimeline:
    round: Round
    companies: tuple[CompanyTimeline, ...]
    others_waiting: int  # participants who named another company: their names wait for staff to review them

    @property
    def sent(self) -> bool:
        """Whether any request of the round was marked sent (it is then not prepared again)."""
        return any(company.request is not None and company.request.sent_on for company in self.companies)


def _detail(text: str | None) -> dict[str, object]:
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def steps_of(session: Session, request: CompanyRequest) -> tuple[Step, ...]:
    """The request's events in the order they were recorded, with its receipt after the sending."""
    steps: list[Step] = []
    for event in events_of(session, request):
        detail = _detail(event.detail)
        note = str(detail["note"]) if detail.get("note") else None
        kind = event.kind
        if kind == RequestEventKind.PREPARED:
            again = " (made again)" if detail.get("remade") else ""
            text = f"{detail.get('participants', '?')} participant(s){again}"
        elif kind == RequestEventKind.SENT:
            text = f"by {detail.get('channel', request.channel)}"
        elif kind == RequestEventKind.EXTENSION:
            outcome = _EXTENSION_TEXT.get(str(detail.get("outcome")), str(detail.get("outcome", "")))
            text = f"{detail.get('months')} further month(s) claimed; {outcome}"
        elif kind == RequestEventKind.ANSWERED:
            text = f"answer: {detail.get('answer', request.answer_kind)}"
        elif kind == RequestEventKind.OVERDUE:
            text = "recorded by the daily reminder"
        elif kind == RequestEventKind.COMPLAINT_PREPARED:
            files = detail.get("files") or [detail.get("file", "")]
            text = "complaint(s) to the participants' supervisory authorities drafted: " + ", ".join(
                str(name) for name in files if name
            )
        else:
            text = ""
        steps.append(Step(kind, event.on, text, note))
        if kind == RequestEventKind.SENT and request.received_on is not None:
            how = "recorded" if request.received_recorded else f"assumed for {request.channel}"
            steps.append(Step("received", request.received_on, how))
    return tuple(steps)


def waiting_for(
    session: Session, loaded: LoadedCampaign, settings: DataRequestSettings, round_: Round
) -> dict[str, int]:
    """Per company of the round (:func:`~core.exports.round_requests.round_companies`): the participants who chose
    it (or were matched to it), signed by the round's day and are in no request to it yet (with an accepted ID copy,
    where the campaign asks one): whom preparing the round now would add."""
    return {
        company: rounds.member_count(session, rounds.in_round(loaded.slug, settings, round_, company))
        for company in round_companies(session, loaded, settings)
    }


def timelines(
    session: Session, loaded: LoadedCampaign, settings: DataRequestSettings, today: dt.date
) -> list[RoundTimeline]:
    """Each round of the campaign file, in its order, with each company it offers and each one a participant's
    named company was matched to, on ``today``."""
    recorded = {
        (request.round_id, request.company): request
        for request in session.scalars(select(CompanyRequest).where(CompanyRequest.campaign == loaded.slug))
    }
    found = []
    for round_ in settings.rounds:
        waiting = waiting_for(session, loaded, settings, round_)
        companies = []
        for slug in waiting:
            company = company_of(loaded, slug)
            country = company.country
            request = recorded.get((round_.id, slug))
            status = status_of(request, country, today) if request is not None else None
            companies.append(
                CompanyTimeline(
                    slug=slug,
                    name=company.name,
                    request=request,
                    status=status,
                    steps=steps_of(session, request) if request is not None else (),
                    days_left=status.days_left(today) if status is not None else None,
                    waiting=waiting[slug],
                )
            )
        found.append(RoundTimeline(round_, tuple(companies), rounds.others_waiting(session, loaded.slug, round_)))
    return found


def sent_already(session: Session, campaign: str, round_id: str, companies: Sequence[str]) -> list[CompanyRequest]:
    """The requests of ``round_id`` to ``companies`` that were marked sent: they are not prepared again."""
    return list(
        session.scalars(
            select(CompanyRequest)
            .where(
                CompanyRequest.campaign == campaign,
                CompanyRequest.round_id == round_id,
                CompanyRequest.company.in_(companies),
                CompanyRequest.sent_on.is_not(None),
            )
            .order_by(CompanyRequest.company)
        )
    )


def to_prepare(
    session: Session, loaded: LoadedCampaign, settings: DataRequestSettings, round_: Round, companies: Sequence[str]
) -> int:
    """How many participants preparing ``round_`` for ``companies`` will put in packages (the export's total)."""
    total = 0
    for company in companies:
        existing = session.scalar(
            select(CompanyRequest.id).where(
                CompanyRequest.campaign == loaded.slug,
                CompanyRequest.round_id == round_.id,
                CompanyRequest.company == company,
            )
        )
        total += rounds.member_count(session, rounds.in_round(loaded.slug, settings, round_, company, existing))
    return total


def writer(campaign_app: Flask, round_id: str, companies: Sequence[str]) -> Write:
    """The export writer that prepares ``round_id`` (for ``companies``; empty: all) and bundles the packages.

    It runs in the export's thread, in an app context of the campaign app: the letters and READMEs are rendered
    with its templates and UI catalogs, as ``flask requests prepare`` renders them."""

    def write(loaded: LoadedCampaign, keys: OpeningKeys, path: Path, progress: Callable[[int], None]) -> Written:
        done = 0

        def step(_company: str, rows: int) -> None:
            nonlocal done
            done += rows
            progress(done)

        # Beside the export's file, in the exports folder only the server's user may read.
        workdir = Path(tempfile.mkdtemp(prefix=f"{path.name}-", dir=path.parent))
        try:
            with campaign_app.app_context():
                try:
                    prepared = prepare_round(loaded, round_id, keys, workdir, companies=companies, progress=step)
                except PrepareError as exc:
                    raise ExportRefused(str(exc)) from None
                except RoundPackageError as exc:
                    raise ExportRefused(f"{exc} (the round changed while it was read: prepare it again)") from None
            made = [company for company in prepared.companies if company.path is not None]
            if not made:
                raise ExportRefused(
                    f"nobody is in {round_id}'s requests: no participant chose these companies and signed by the "
                    "round's day (with an accepted ID copy, where one is asked); no package was made"
                )
            # Stored: the packages are compressed already, and each one's bytes stay what its manifest names.
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:
                for company in made:
                    assert company.path is not None
                    bundle.write(company.path, company.path.name)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        notes = [
            f"{company.company}: no participants, no package" for company in prepared.companies if not company.path
        ]
        if prepared.others_waiting:
            notes.append(
                f"{prepared.others_waiting} participant(s) named another company: their requests wait for a review "
                "of the names (in no package here)"
            )
        return Written(sum(company.participants for company in made), "; ".join(notes) or None)

    return write
