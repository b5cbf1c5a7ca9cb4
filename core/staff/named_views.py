"""The console's Named companies page of a data-request campaign whose participants may name a company themselves
(``other_company``): the names waiting for review, opened with the private key file, each matched to a company of
the catalogue or declined with a reason mailed to the participant (:mod:`core.data_requests.named_companies`).
Registered on the console's blueprint (:data:`core.staff.views.bp`); linked from the Data requests page.

Only accounts with :attr:`~core.staff.roles.Permission.EXPORT` (admins) use it, checked before anything is read:
the names are in the participants' sealed answers, which only exports open. Without the key the page shows how
many wait; with it (a POST, as the ID copies page takes it: in memory for that request, never stored) it lists each
one's reference and the name typed, and every entry shown is an entry in the audit log (its reference, never the
name). A decision needs no key: the reference says whose, and the page comes back without the names.
"""

from __future__ import annotations

from typing import Any

from babel import Locale
from flask import abort, current_app, g, make_response, render_template
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectChoice, StringField, TextAreaField

from core.campaigns import LoadedCampaign
from core.data.db import db_session, utcnow
from core.data_requests import named_companies
from core.data_requests.settings import DataRequestSettings, data_request_of
from core.sealing import SealingError
from core.staff import audit
from core.staff.roles import Permission
from core.staff.views import CAMPAIGN_APP_EXTENSION, bp, client_ip, opening_keys_of, require, seen_campaign


class OpenNamedForm(FlaskForm):
    private_keys = MultipleFileField(
        "The foundation's private key file (more than one for data sealed before a key rotation)"
    )


class MatchForm(FlaskForm):
    # Checked by named_companies.match against the catalogue as it is now, with a message that says what to do.
    company = StringField("Request it from")


class DeclineForm(FlaskForm):
    reason = RadioField(
        "Why no request is sent",
        choices=[
            *(SelectChoice(code, label) for code, label in named_companies.REASONS.items()),
            SelectChoice(named_companies.OTHER_REASON, "Another reason"),
        ],
        validate_choice=False,
    )
    other = TextAreaField("The reason, as the participant will read it (in their language)")


def _named_campaign(slug: str) -> tuple[LoadedCampaign, DataRequestSettings]:
    """A campaign the account sees whose participants may name a company (404 otherwise), for an admin."""
    require(Permission.EXPORT)  # before anything is read, the upload of a key file too
    loaded = seen_campaign(slug)
    settings = data_request_of(loaded)
    if settings is None or not settings.other_company:
        abort(404)
    return loaded, settings


def _companies(loaded: LoadedCampaign, settings: DataRequestSettings) -> list[tuple[str, list[tuple[str, str]]]]:
    """The select's groups: the campaign's own companies first, then every company of the catalogue."""
    catalogue = named_companies.catalogue_of(loaded)
    offered = [(slug, f"{catalogue[slug].name} ({slug})") for slug in settings.companies if slug in catalogue]
    every = sorted(((slug, f"{company.name} ({slug})") for slug, company in catalogue.items()), key=lambda c: c[1])
    return [("Offered by this campaign", offered), ("The whole catalogue", every)]


def _page(
    loaded: LoadedCampaign,
    settings: DataRequestSettings,
    *,
    named: list[named_companies.Named] | None = None,
    languages: dict[int, str] | None = None,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The page; ``named``: the entries opened with the key (never cached: the names are in the page)."""
    page = render_template(
        "staff/named_companies.html",
        loaded=loaded,
        c=loaded.campaign,
        waiting=named_companies.waiting_count(db_session(), loaded.slug),
        named=named,
        languages=languages or {},
        companies=_companies(loaded, settings),
        reasons=named_companies.REASONS,
        other_reason=named_companies.OTHER_REASON,
        max_reason=named_companies.MAX_REASON,
        open_form=OpenNamedForm(formdata=None),
        decision_form=FlaskForm(formdata=None),
        message=message,
        error=error,
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/campaigns/<slug>/named")
def named_companies_page(slug: str) -> Response:
    """How many named companies wait for review, and the form that opens them with the key file."""
    return _page(*_named_campaign(slug))


@bp.post("/campaigns/<slug>/named")
def open_named_companies(slug: str) -> Response:
    """The waiting entries with the names typed, opened with the key file sent with this request; each entry shown
    is in the audit log."""
    loaded, settings = _named_campaign(slug)
    form = OpenNamedForm()
    if not form.validate_on_submit():
        abort(400)
    db = db_session()
    try:
        keys = opening_keys_of(form)  # type: ignore[arg-type]
        named = named_companies.waiting(db, slug, keys)
    except SealingError as exc:
        db.rollback()
        return _page(loaded, settings, error=f"The names were not opened: {str(exc).rstrip('.')}.", status=400)
    for entry in named:
        detail = f"named company of sign-up {entry.reference}"  # the reference, never the name
        audit.record(db, g.staff, "named-view", campaign=slug, detail=detail, ip_hash=client_ip())
    db.commit()  # the openings are recorded before the names go out
    languages = {}
    for entry in named:
        found = named_companies.entry_of(db, slug, entry.reference)
        if found is not None:
            languages[entry.signup_id] = Locale.parse(found[0].language).get_display_name("en")
    return _page(loaded, settings, named=named, languages=languages)


def _entry(slug: str, reference: str) -> Any:
    found = named_companies.entry_of(db_session(), slug, reference)
    if found is None:
        abort(404)
    return found


NOT_WAITING = "Nothing was changed: the company {reference} named is no longer waiting for review (someone decided it)."


@bp.post("/campaigns/<slug>/named/<reference>/match")
def match_named_company(slug: str, reference: str) -> Response:
    """Match the company ``reference`` named to one of the catalogue: the next round requests it for them."""
    loaded, settings = _named_campaign(slug)
    signup, _choice = _entry(slug, reference)
    form = MatchForm()
    if not form.validate_on_submit():
        abort(400)
    db = db_session()
    company = (form.company.data or "").strip()
    try:
        outcome = named_companies.match(db, loaded, signup, company, g.staff.id, utcnow())
    except named_companies.ReviewError as exc:
        db.rollback()
        return _page(loaded, settings, error=f"Nothing was matched: {exc}.", status=400)
    if outcome is named_companies.Outcome.NOT_WAITING:
        db.rollback()
        return _page(loaded, settings, error=NOT_WAITING.format(reference=reference), status=409)
    audit.record(
        db, g.staff, "named-match", campaign=slug, detail=f"sign-up {reference}: {company}", ip_hash=client_ip()
    )
    db.commit()  # the match, the choice it adds and the audit entry together
    g.audit_action, g.audit_detail = "view", f"GET /campaigns/{slug}/named"
    message = f"Matched: {reference} is in the next round's request to {company}. No mail is sent."
    return _page(loaded, settings, message=message)


DECLINED = {
    named_companies.Outcome.DECLINED_MAILED: "Declined: {reference} gets a mail with the reason (the worker sends it "
    "within a minute); the other companies they chose are not affected.",
    named_companies.Outcome.DECLINED_NOT_MAILED: "Declined, but no mail was sent: no address is kept for {reference} "
    "(withdrawn, erased, or signed before the site kept addresses).",
}


@bp.post("/campaigns/<slug>/named/<reference>/decline")
def decline_named_company(slug: str, reference: str) -> Response:
    """Decline the company ``reference`` named, with a reason mailed to them (one decision counts, the first)."""
    loaded, settings = _named_campaign(slug)
    signup, _choice = _entry(slug, reference)
    form = DeclineForm()
    if not form.validate_on_submit():
        abort(400)
    db = db_session()
    try:
        # Worded in the participant's language by the campaign app, which has the UI catalogs.
        with current_app.extensions[CAMPAIGN_APP_EXTENSION].app_context():
            reason = named_companies.decline_reason(
                form.reason.data or "", form.other.data or "", signup.language, loaded.campaign.address_form
            )
        outcome = named_companies.decline(db, loaded, signup, reason, g.staff.id, utcnow())
    except named_companies.ReviewError as exc:
        db.rollback()
        return _page(loaded, settings, error=f"Nothing was declined: {exc}", status=400)
    if outcome is named_companies.Outcome.NOT_WAITING:
        db.rollback()
        return _page(loaded, settings, error=NOT_WAITING.format(reference=reference), status=409)
    mailed = ", mailed" if outcome is named_companies.Outcome.DECLINED_MAILED else ", not mailed: no address kept"
    audit.record(
        db, g.staff, "named-decline", campaign=slug, detail=f"sign-up {reference}{mailed}", ip_hash=client_ip()
    )  # never the reason: it may be free text
    db.commit()  # the decision, its mail and its audit entry together
    g.audit_action, g.audit_detail = "view", f"GET /campaigns/{slug}/named"
    return _page(loaded, settings, message=DECLINED[outcome].format(reference=reference))
