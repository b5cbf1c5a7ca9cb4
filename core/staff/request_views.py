"""The console's Data requests page of a data-request campaign (issue 20): each round's timeline per company
(:mod:`core.staff.request_rounds`), preparing a round with the private key file, and recording that a request was
sent and what the company did. Registered on the console's blueprint (:data:`core.staff.views.bp`).

Who may do what, checked on the server before anything is read or changed (403 otherwise, however the request was
made; the page leaves out the forms only to be clear):

- every account that sees the campaign sees the page: it shows days, counts and checksums, no personal data;
- preparing a round needs :attr:`~core.staff.roles.Permission.EXPORT` (admins): it opens every member's personal
  data and ID copy with the key file, as an export does, and runs as one (:mod:`core.staff.exports`);
- recording the sending and the company's events needs :attr:`~core.staff.roles.Permission.SUPPORT` (admins, and
  staff accounts with the ``support`` right): it opens nothing, and it is the correspondence with the companies
  that support staff handle, as they handle the participants' mail; ``view`` accounts change nothing anywhere.

Dates and rules are those of :mod:`core.data_requests.request_log`, the same the command line applies; a refusal is
shown at the form it came from, with what was typed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, current_app, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.campaigns import LoadedCampaign
from core.data.db import db_session
from core.data.models import AnswerKind, CompanyRequest, RequestEventKind
from core.data_requests.deadlines import Channel
from core.data_requests.request_log import STAFF_EVENTS, RequestLogError, mark_sent, record_event, today_in_nl
from core.data_requests.rounds import round_of
from core.data_requests.settings import DataRequestSettings, Round, data_request_of
from core.exports.round_requests import round_companies
from core.sealing import SealingError
from core.staff import audit, exports, request_rounds
from core.staff.roles import Permission
from core.staff.views import CAMPAIGN_APP_EXTENSION, bp, client_ip, opening_keys_of, require, seen_campaign

DATE_MESSAGE = "Give the day as YYYY-MM-DD (your browser's date field does this)."


class PrepareForm(FlaskForm):
    companies = SelectMultipleField("Only these companies (none ticked: every company)", validate_choice=True)
    private_keys = MultipleFileField(
        "The foundation's private key file (more than one for data sealed before a key rotation)"
    )


class SentForm(FlaskForm):
    on = DateField("Sent on", validators=[DataRequired(DATE_MESSAGE)])
    channel = SelectField(
        "By", choices=[SelectChoice(channel.value, channel.value) for channel in Channel]
    )  # no DataRequired: it marks a select "required", which HTML allows only with an empty first option
    received = DateField("Received on (when known; else assumed)", validators=[Optional()])


class EventForm(FlaskForm):
    kind = SelectField(
        "What happened", choices=[SelectChoice(kind.value, kind.value) for kind in STAFF_EVENTS]
    )  # as for the channel: the field itself refuses a value that is not a choice
    on = DateField("On", validators=[DataRequired(DATE_MESSAGE)])
    months = IntegerField(
        "Further months (extension)",
        validators=[Optional(), NumberRange(1, 12, "An extension claims 1 or 2 further months.")],
    )
    answer = SelectField(
        "Answer (answered)",
        choices=[SelectChoice("", "-"), *(SelectChoice(kind.value, kind.value) for kind in AnswerKind)],
        default="",
    )
    note = StringField("Note (about the company; no personal data)", validators=[Length(max=500)])


def _requests_campaign(slug: str) -> tuple[LoadedCampaign, DataRequestSettings]:
    """A campaign the account sees (403 otherwise) that files data requests (404 otherwise)."""
    loaded = seen_campaign(slug)
    settings = data_request_of(loaded)
    if settings is None:
        abort(404)
    return loaded, settings


def _round(settings: DataRequestSettings, round_id: str) -> Round:
    try:
        return round_of(settings, round_id)
    except LookupError:
        abort(404)


def _request(slug: str, round_id: str, company: str) -> CompanyRequest:
    found = db_session().scalar(
        select(CompanyRequest).where(
            CompanyRequest.campaign == slug, CompanyRequest.round_id == round_id, CompanyRequest.company == company
        )
    )
    if found is None:
        abort(404)
    return found


def _company_choices(loaded: LoadedCampaign, settings: DataRequestSettings) -> list[SelectChoice]:
    """The companies a round prepares: those offered, and those a participant's named company was matched to."""
    return [SelectChoice(slug, slug) for slug in round_companies(db_session(), loaded, settings)]


def _prepare_form(loaded: LoadedCampaign, settings: DataRequestSettings) -> PrepareForm:
    form = PrepareForm()
    form.companies.choices = _company_choices(loaded, settings)
    return form


def _page(
    loaded: LoadedCampaign,
    settings: DataRequestSettings,
    *,
    message: str | None = None,
    failed: tuple[str, str, str] | None = None,
    form: FlaskForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The page; ``failed`` = (round, company or "", "prepare" | "sent" | "event") names the form ``form`` that
    was refused with ``error``, shown there with what was typed."""
    db = db_session()
    today = today_in_nl()
    choices = _company_choices(loaded, settings)

    def form_for(round_id: str, company: str, which: str) -> FlaskForm:
        if failed == (round_id, company, which) and form is not None:
            return form
        if which == "sent":
            return SentForm(formdata=None, data={"on": today, "channel": Channel.EMAIL.value})
        if which == "event":
            return EventForm(formdata=None, data={"on": today, "kind": RequestEventKind.ACKNOWLEDGED.value})
        blank = PrepareForm(formdata=None)
        blank.companies.choices = choices
        return blank

    return render_template(
        "staff/requests.html",
        loaded=loaded,
        c=loaded.campaign,
        rounds=request_rounds.timelines(db, loaded, settings, today),
        today=today,
        form_for=form_for,
        failed=failed,
        error=error,
        message=message,
        may_prepare=g.access.may(Permission.EXPORT),
        may_record=g.access.may(Permission.SUPPORT),
        may_review_named=settings.other_company and g.access.may(Permission.EXPORT),
        asks_id=settings.identity_proof,
    ), status


@bp.get("/campaigns/<slug>/requests")
def data_requests(slug: str) -> tuple[str, int]:
    """Each round's requests per company, their timelines and states today."""
    return _page(*_requests_campaign(slug))


@bp.post("/campaigns/<slug>/requests/<round_id>/prepare")
def prepare_requests(slug: str, round_id: str) -> Any:
    """Prepare a round (or some of its companies) as a console export, with the key file sent with this form (held
    in memory by the export's thread only); the export's page shows its progress and gives the ZIP once."""
    require(Permission.EXPORT)  # before the upload is read
    loaded, settings = _requests_campaign(slug)
    round_ = _round(settings, round_id)
    form = _prepare_form(loaded, settings)
    failed = (round_id, "", "prepare")
    if not form.validate_on_submit():
        error = "Choose the private key file (and, if you want, some of the companies)."
        return _page(loaded, settings, failed=failed, form=form, error=error, status=400)
    companies = list(form.companies.data or []) or [choice.value for choice in form.companies.choices or []]
    db = db_session()
    sent = request_rounds.sent_already(db, slug, round_id, companies)
    if sent:
        named = ", ".join(f"{request.company} (sent {request.sent_on})" for request in sent)
        error = (
            f"Nothing was prepared: the request to {named} was marked sent, so it is what the company received and is "
            "not made again. Tick only the companies not sent yet."
        )
        return _page(loaded, settings, failed=failed, form=form, error=error, status=409)
    try:
        keys = opening_keys_of(form)  # type: ignore[arg-type]
    except SealingError as exc:
        return _page(loaded, settings, failed=failed, form=form, error=f"Nothing was prepared: {exc}", status=400)
    export = exports.start(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        db,
        g.staff,
        loaded,
        exports.ROUND_REQUESTS,
        keys,
        write=request_rounds.writer(current_app.extensions[CAMPAIGN_APP_EXTENSION], round_id, companies),
        total=request_rounds.to_prepare(db, loaded, settings, round_, companies),
    )
    detail = f"{round_id}: export {export.id}, {', '.join(companies)}"
    audit.record(db, g.staff, "requests-prepare", campaign=slug, detail=detail, ip_hash=client_ip())
    db.commit()
    return redirect(url_for("staff.export", token=export.token))


@bp.post("/campaigns/<slug>/requests/<round_id>/<company>/sent")
def mark_request_sent(slug: str, round_id: str, company: str) -> tuple[str, int]:
    """Record that a prepared request went out (day, channel, and the day of receipt when known)."""
    require(Permission.SUPPORT)
    loaded, settings = _requests_campaign(slug)
    request = _request(slug, round_id, company)
    form = SentForm()
    failed = (round_id, company, "sent")
    if not form.validate_on_submit():
        error = _form_errors(form) or "Give the day it was sent and how."
        return _page(loaded, settings, failed=failed, form=form, error=error, status=400)
    db = db_session()
    on: dt.date = form.on.data  # type: ignore[assignment]
    try:
        mark_sent(db, request, on, form.channel.data or "", received=form.received.data, staff_id=g.staff.id)
    except RequestLogError as exc:
        db.rollback()
        return _page(loaded, settings, failed=failed, form=form, error=f"Not recorded: {exc}.", status=400)
    detail = f"{round_id} {company}: sent {on.isoformat()} by {request.channel}"
    audit.record(db, g.staff, "requests-sent", campaign=slug, detail=detail, ip_hash=client_ip())
    db.commit()  # the sending and its audit entry together
    how = "recorded" if request.received_recorded else f"assumed for {request.channel}"
    message = f"Recorded: {round_id} to {company} sent on {request.sent_on}, received on {request.received_on} ({how})."
    g.audit_action, g.audit_detail = "view", f"GET /campaigns/{slug}/requests"
    return _page(loaded, settings, message=message)


@bp.post("/campaigns/<slug>/requests/<round_id>/<company>/event")
def record_request_event(slug: str, round_id: str, company: str) -> tuple[str, int]:
    """Record what the company did: acknowledged, claimed an extension (months), or answered (how)."""
    require(Permission.SUPPORT)
    loaded, settings = _requests_campaign(slug)
    request = _request(slug, round_id, company)
    form = EventForm()
    failed = (round_id, company, "event")
    if not form.validate_on_submit():
        error = _form_errors(form) or "Give what happened and on which day."
        return _page(loaded, settings, failed=failed, form=form, error=error, status=400)
    db = db_session()
    on: dt.date = form.on.data  # type: ignore[assignment]
    catalogued = loaded.companies.get(company)
    kind = form.kind.data or ""
    # Months and the answer go only with their kind: a value left in the other field is not sent along.
    months = form.months.data if kind == RequestEventKind.EXTENSION else None
    answer = (form.answer.data or None) if kind == RequestEventKind.ANSWERED else None
    try:
        recorded = record_event(
            db,
            request,
            kind,
            on,
            catalogued.country if catalogued else None,
            months=months,
            answer=answer,
            note=(form.note.data or "").strip() or None,
            staff_id=g.staff.id,
        )
    except RequestLogError as exc:
        db.rollback()
        return _page(loaded, settings, failed=failed, form=form, error=f"Not recorded: {exc}.", status=400)
    detail = f"{round_id} {company}: {kind} on {on.isoformat()}"  # never the note: it is free text
    audit.record(db, g.staff, "requests-event", campaign=slug, detail=detail, ip_hash=client_ip())
    db.commit()  # the event (and any ID copies it erased) and its audit entry together
    g.audit_action, g.audit_detail = "view", f"GET /campaigns/{slug}/requests"
    return _page(loaded, settings, message=f"Recorded: {recorded.message}.")


def _form_errors(form: FlaskForm) -> str:
    """The fields' own messages (a day that is no day, months out of range), in one line."""
    return " ".join(
        f"{getattr(form, name).label.text}: {' '.join(str(e) for e in errors)}"
        for name, errors in form.errors.items()
        if name != "csrf_token"
    )
