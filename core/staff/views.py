"""The console's pages: login and logout, the dashboard across campaigns and per campaign, the mail waiting for a
retry or given up, finding a sign-up by address (and mailing it a code or login link), campaign previews, exports,
the ID copies of a data request (opened with the private key file, accepted or rejected), the audit log (the Data
requests page of a campaign is in :mod:`core.staff.request_views`). Every page but the login page needs a live
staff session; every page shown is written to the audit log. Every page and action checks the account's access
(:mod:`core.staff.roles`) on the server before it reads or changes anything: outside it, the answer is 403,
whatever the page showed.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from werkzeug.test import run_wsgi_app
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Regexp

from core.campaigns import ConfigProblem, LoadedCampaign
from core.campaigns.addresses import ENVIRON_DEV_HOST
from core.campaigns.schedule import moment_for_staff, status_at, status_for_staff
from core.data import identity_proofs, vault_files
from core.data.db import db_session, utcnow
from core.data.faults import RETRY_AFTER_SECONDS, UNAVAILABLE, describe
from core.data.hashing import email_hash, ip_hash, network_hash
from core.data.models import AuditEntry, IdentityProof, ProofState, Signup, StaffExport, StaffMember
from core.data_requests import proof_review
from core.data_requests.settings import data_request_of
from core.sealing import OpeningKeys, SealingError
from core.signup.counters import public_counter_for
from core.site import site
from core.staff import (
    accounts,
    audit,
    chart,
    exports,
    figures,
    identity_copies,
    lookup,
    mail_queue,
    preview_links,
    sessions,
    vault_moves,
)
from core.staff.breach_check import breach_figures
from core.staff.roles import Access, Permission
from core.web.tenancy import ENVIRON_CAMPAIGN, ENVIRON_PREVIEW_STATUS

bp = Blueprint("staff", __name__)
SESSION_ENTRY = "staff_session"
PREVIEW_STATUSES = ("not-yet-open", "pre-registration", "open", "closed")  # core/campaigns/schedule.py
OPEN_PAGES = {"staff.login", "static", "staff.shared_preview", "staff.favicon"}
CHART_DAYS = 60
# app.extensions key of the campaign app whose pages the console previews (set by core.staff.create_staff_app).
CAMPAIGN_APP_EXTENSION = "claimsite.campaign_app"


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired("Give your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Give your password."), Length(max=200)])
    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired("Give the 6-digit code your authenticator app shows now."), Length(max=12)],
        render_kw={"inputmode": "numeric"},
    )


class LogoutForm(FlaskForm):
    pass


class ExportForm(FlaskForm):
    kind = RadioField("What to export", default="evidence", validators=[DataRequired("Choose what to export.")])
    private_keys = MultipleFileField(
        "The foundation's private key file (more than one for data sealed before a key rotation)"
    )


class VaultMoveForm(FlaskForm):
    private_keys = MultipleFileField(
        "The foundation's private key file (more than one for files held before a key rotation)"
    )


class OpenProofForm(FlaskForm):
    private_keys = MultipleFileField(
        "The foundation's private key file (more than one for a copy sealed before a key rotation)"
    )


class ProofDecisionForm(FlaskForm):
    """Accept, or reject with a reason (its own checks, with their messages: core.data_requests.proof_review)."""

    decision = HiddenField(validators=[AnyOf(["accept", "reject"])])
    reason = RadioField(
        "Why it cannot be accepted",
        choices=[
            *(SelectChoice(code, label) for code, label in proof_review.REASONS.items()),
            SelectChoice(proof_review.OTHER, "Another reason"),
        ],
        validate_choice=False,
    )
    other = TextAreaField("The reason, as the participant will read it")


class PreviewLinkForm(FlaskForm):
    status = RadioField("Show the campaign as", default="open", choices=list(PREVIEW_STATUSES))
    days = IntegerField(
        "Valid for (days)",
        default=preview_links.DEFAULT_DAYS,
        validators=[
            NumberRange(1, preview_links.MAX_DAYS, f"A link lasts 1 to {preview_links.MAX_DAYS} days."),
        ],
    )


class FindSignupForm(FlaskForm):
    email = EmailField(
        "E-mail address", validators=[DataRequired("Give the address the person signed up with."), Length(max=254)]
    )


class SupportForm(FlaskForm):
    """One button next to a found sign-up: the address typed (to check again), the sign-up, the mail to send."""

    email = HiddenField(validators=[DataRequired(), Length(max=254)])
    signup = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,12}$")])
    action = HiddenField(validators=[AnyOf([action.value for action in lookup.Action])])


MAX_KEY_FILE_BYTES = 4096


def _export_form() -> ExportForm:
    form = ExportForm()
    form.kind.choices = [(name, kind.label) for name, kind in exports.KINDS.items()]
    return form


def client_ip() -> str | None:
    return ip_hash(site().hash_key, request.remote_addr)


def _durations() -> tuple[dt.timedelta, dt.timedelta]:
    settings = site().settings
    return dt.timedelta(minutes=settings.staff_idle_minutes), dt.timedelta(hours=settings.staff_session_hours)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico on every host; the console's icon is a PNG in its static folder."""
    return redirect(url_for("static", filename="favicon.png"))


def init_app(app: Flask) -> None:
    @app.before_request
    def _staff_of_request() -> Response | None:
        idle, _lasts = _durations()
        g.staff = sessions.resume(db_session(), session.get(SESSION_ENTRY), idle)
        g.access = Access.of(g.staff) if g.staff is not None else None
        db_session().commit()
        if g.staff is None and request.endpoint is not None and request.endpoint not in OPEN_PAGES:
            session.pop(SESSION_ENTRY, None)
            if request.method == "GET":
                return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
            abort(401)
        return None

    @app.after_request
    def _audit_page(response: Response) -> Response:
        staff = g.get("staff")
        shown = response.mimetype == "text/html" or response.headers.get("Content-Disposition")
        if staff is not None and shown and request.endpoint not in (None, "static"):
            audit.record(
                db_session(),
                staff,
                g.get("audit_action", "view"),
                campaign=g.get("audit_campaign"),
                detail=g.get("audit_detail") or f"{request.method} {request.full_path.rstrip('?')}"[:400],
                ip_hash=client_ip(),
            )
            db_session().commit()
        response.headers.setdefault("Cache-Control", "private, no-store")
        return response

    def _database_away(error: Exception) -> tuple[str, int, dict[str, str]]:
        # As on the campaign sites (core.web.views.errors): a 503 that says to try again, never a 500; the log line
        # names the driver's error only.
        app.logger.error(
            "database unavailable on the staff console %s %s: %s", request.method, request.endpoint, describe(error)
        )
        g.pop("staff", None)  # nothing to audit: the audit log is in the same database
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
        page = render_template(
            "staff/message.html",
            title="The database is briefly unavailable",
            message="Nothing was changed. Try again in a minute.",
        )
        return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "private, no-store"}

    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, _database_away)

    @app.errorhandler(403)
    def _forbidden(error: Exception) -> tuple[str, int]:
        g.audit_action = "forbidden"  # tried: the audit log shows who reached for what they may not
        return render_template(
            "staff/message.html",
            title="Not for your account",
            message="Your account may not open this page or do this. An administrator decides what each account "
            "may see and do (flask staff access).",
        ), 403

    @app.errorhandler(CSRFError)
    def _expired(error: CSRFError) -> tuple[str, int]:
        return render_template(
            "staff/message.html",
            title="This page expired",
            message="The form was open too long, or cookies are blocked. Open it again and retry; nothing was changed.",
        ), 400

    @app.context_processor
    def _context() -> dict[str, Any]:
        return {
            "staff": g.get("staff"),
            "access": g.get("access"),
            "Permission": Permission,
            "logout_form": LogoutForm() if g.get("staff") else None,
        }


# A plain path on this host: printable ASCII (no spaces, no control characters such as a CR/LF that would break
# the Location header), one leading slash (two would name another host), no backslash (browsers read it as one).
_PLAIN_PATH = re.compile(r"/(?![/\\])[!-\[\]-~]*")


def _safe_next(target: str | None) -> str:
    """Where to go after login: ``target`` if it is a plain path on this host, else the dashboard."""
    if target and _PLAIN_PATH.fullmatch(target) and not urlsplit(target).netloc:
        return target
    return url_for("staff.overview")


def _network() -> str | None:
    """The requester's network (IPv4 address or IPv6 /64), hashed: what the login limits count."""
    return network_hash(site().hash_key, request.remote_addr)


def _account_key(email: str) -> str:
    """The key of the limit per account and network: the typed address (known or not: the same work for both)."""
    return f"{email_hash(site().hash_key, accounts.normalise_login(email))}:{_network() or '-'}"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if g.get("staff") is not None:
        return redirect(url_for("staff.overview"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        if not site().limits.hit("staff-login-ip", _network()):
            error, status = "Too many login attempts from this network. Wait an hour and try again.", 429
        else:
            error, status = _attempt_login(form)
            if error is None:
                return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    form.password.data = form.code.data = ""  # never sent back into the page
    return render_template("staff/login.html", form=form, error=error), status


# The one answer to every refused login, whatever the reason (unknown address, wrong password or code, locked,
# blocked, disabled), so that it tells an attacker nothing; the audit log records the reason.
REFUSED = (
    "The e-mail address, the password or the code is wrong (a code works once). After five failed attempts, "
    "wait fifteen minutes before you try again, or ask an administrator to run: flask staff unlock EMAIL"
)


def _attempt_login(form: LoginForm) -> tuple[str | None, int]:
    db = db_session()
    limits, key = site().limits, _account_key(form.email.data or "")
    # Counted before anything is compared (an atomic count in the limit's storage), so at most five attempts per
    # account and network are ever checked in a row, whatever the concurrency.
    may_try = limits.hit("staff-login-account-network", key)
    attempt = accounts.check_login(
        db,
        site().working_box,
        form.email.data or "",
        form.password.data or "",
        form.code.data or "",
        blocked=not may_try,
    )
    actor: StaffMember | str = attempt.staff or f"unknown:{accounts.normalise_login(form.email.data or '')[:250]}"
    if attempt.outcome is accounts.Outcome.OK:
        assert attempt.staff is not None
        limits.clear("staff-login-account-network", key)  # failures "in a row" start again
        _idle, lasts = _durations()
        session.clear()  # a new session: nothing from before the login carries over
        session[SESSION_ENTRY] = sessions.start(db, attempt.staff, lasts)
        audit.record(db, actor, "login", ip_hash=client_ip())
        db.commit()
        return None, 200
    action = {
        accounts.Outcome.LOCKED: "login-locked",
        accounts.Outcome.BLOCKED: "login-blocked",
        accounts.Outcome.DISABLED: "login-disabled",
    }.get(attempt.outcome, "login-failed")
    locked = (
        f"fifth wrong code in a row: account locked until {attempt.locked_until:%Y-%m-%d %H:%M} UTC"
        if attempt.locked_until
        else None
    )
    audit.record(db, actor, action, detail=locked, ip_hash=client_ip())
    db.commit()
    return REFUSED, 401


@bp.post("/logout")
def logout() -> Any:
    if LogoutForm().validate_on_submit():
        db = db_session()
        sessions.end(db, session.pop(SESSION_ENTRY, None))
        audit.record(db, g.staff, "logout", ip_hash=client_ip())
        db.commit()
        g.staff = None
        session.clear()
    return redirect(url_for("staff.login"))


# -- access ------------------------------------------------------------------------------------------------------
def _access() -> Access:
    access: Access = g.access
    return access


def require(permission: Permission) -> None:
    """403 unless the account may do this (checked before anything is read or changed)."""
    if not _access().may(permission):
        abort(403)


def seen_campaign(slug: str) -> LoadedCampaign:
    """A campaign the account sees: 403 for any other (whether or not it exists, so nothing is told), else 404 when
    no campaign has this slug."""
    g.audit_campaign = slug[:40]
    if not _access().sees(slug):
        abort(403)
    loaded = site().registry.snapshot.campaigns.get(slug)
    if loaded is None:
        abort(404)
    return loaded


# -- dashboard ---------------------------------------------------------------------------------------------------
def public_counter(loaded: LoadedCampaign, participants: int) -> dict[str, Any] | None:
    """What the campaign's public counter shows now, or None when the campaign has no counter."""
    counter = public_counter_for(site().plugins, loaded)
    if counter is None:
        return None
    return {
        "baseline": counter.baseline,
        "since": counter.since,
        "shown": counter.shown(site().counters.participants(loaded.slug)),
        "visible": counter.visible(site().counters.participants(loaded.slug)),
        "hide_below": counter.hide_below,
        "live": participants,
    }


@bp.get("/")
def overview() -> str:
    db = db_session()
    access = _access()
    funnels = figures.funnels(db, campaigns=access.campaigns)
    campaigns = site().registry.snapshot.campaigns
    now = utcnow()
    rows = [
        (slug, campaigns[slug], funnels.get(slug, figures.Funnel()), status_at(campaigns[slug].campaign, now))
        for slug in access.visible(campaigns)
    ]
    # Sign-ups of a campaign whose file was removed: only an account that sees every campaign sees them.
    unknown = sorted(set(funnels) - set(campaigns)) if access.campaigns is None else []
    days = figures.per_day(db, None, CHART_DAYS, campaigns=access.campaigns)
    which = "all campaigns" if access.campaigns is None else "your campaigns"
    return render_template(
        "staff/overview.html",
        rows=rows,
        unknown=[(slug, funnels[slug]) for slug in unknown],
        days=days,
        which=which,
        chart=chart.sign_ups_per_day(days, f"Sign-ups per day, {which}"),
        problems=_file_problems(None if access.campaigns is None else set(access.campaigns)),
    )


@bp.get("/campaigns/<slug>")
def campaign(
    slug: str,
    form: ExportForm | None = None,
    export_error: str | None = None,
    link_form: PreviewLinkForm | None = None,
    preview_link: str | None = None,
    vault_form: VaultMoveForm | None = None,
    vault_error: str | None = None,
) -> str:
    loaded = seen_campaign(slug)
    db = db_session()
    found = figures.campaign_figures(db, slug, CHART_DAYS)
    title = f"Sign-ups per day, {loaded.campaign.text(loaded.campaign.name, 'en')}"
    now = utcnow()
    exports.remove_expired(current_app, db)
    db.commit()
    recent = (
        db.scalars(
            select(StaffExport).where(StaffExport.campaign == slug).order_by(StaffExport.id.desc()).limit(10)
        ).all()
        if _access().may(Permission.EXPORT)
        else []
    )
    shows_identity = _access().may(Permission.IDENTITY_DOCUMENTS) and identity_copies.asks_identity(loaded)
    return render_template(
        "staff/campaign.html",
        loaded=loaded,
        c=loaded.campaign,
        status_now=status_at(loaded.campaign, now),
        status_text=status_for_staff(loaded.campaign, now),
        opens=moment_for_staff(loaded.campaign, loaded.campaign.opens),
        closes=moment_for_staff(loaded.campaign, loaded.campaign.closes, closing=True),
        figures=found,
        breach=breach_figures(db, loaded, CHART_DAYS, now.date()),
        counter=public_counter(loaded, found.funnel.participants),
        chart=chart.sign_ups_per_day(found.days, title),
        statuses=PREVIEW_STATUSES,
        export_form=form or _export_form(),
        export_error=export_error,
        exports=recent,
        kinds=exports.ALL_KINDS,
        problems=_file_problems({slug}),
        link_form=link_form or PreviewLinkForm(),
        preview_link=preview_link,
        identity_counts=identity_copies.counts(db, slug) if shows_identity else None,
        files_requests=data_request_of(loaded) is not None,
        vault_form=vault_form or VaultMoveForm(formdata=None),
        vault_error=vault_error,
        vault_counts=vault_files.to_move(db, slug) if _access().may(Permission.EXPORT) else None,
    )


def opening_keys_of(form: ExportForm | OpenProofForm | VaultMoveForm) -> OpeningKeys:
    """The private keys uploaded with the form (in memory only); raises SealingError with what is wrong."""
    files = [file for file in form.private_keys.data or [] if file and file.filename]
    if not files:
        raise SealingError("Choose the private key file (private-....key, from flask keys generate).")
    texts = []
    for file in files:
        data = file.read(MAX_KEY_FILE_BYTES + 1)
        if len(data) > MAX_KEY_FILE_BYTES:
            raise SealingError(f"{file.filename} is too large to be a private key file")
        texts.append((file.filename, data.decode("utf-8", errors="replace")))
    keys = OpeningKeys.from_texts(texts)
    current = site().sealing_key.id
    if current not in keys.ids:
        raise SealingError(
            f"none of these is the private key of key {current.hex()}, which this site seals personal data to"
        )
    return keys


@bp.post("/campaigns/<slug>/exports")
def start_export(slug: str) -> Any:
    require(Permission.EXPORT)  # before the upload is read
    loaded = seen_campaign(slug)
    form = _export_form()
    if not form.validate_on_submit():
        return campaign(slug, form, "Choose what to export, and the private key file."), 400
    try:
        keys = opening_keys_of(form)
    except SealingError as exc:
        return campaign(slug, form, str(exc)), 400
    db = db_session()
    export = exports.start(
        current_app._get_current_object(),
        db,
        g.staff,
        loaded,  # type: ignore[attr-defined]
        form.kind.data,
        keys,
    )
    g.audit_action = "export-start"
    audit.record(
        db, g.staff, "export-start", campaign=slug, detail=f"{export.kind} export {export.id}", ip_hash=client_ip()
    )
    db.commit()
    return redirect(url_for("staff.export", token=export.token))


@bp.post("/campaigns/<slug>/vault-move")
def start_vault_move(slug: str) -> Any:
    """Move the campaign's held files and mandates into the vaults, in the background as an export (the key file is
    held in memory by its thread only); the export's page shows the progress and gives the report."""
    require(Permission.EXPORT)  # before the upload is read
    loaded = seen_campaign(slug)
    form = VaultMoveForm()
    if not form.validate_on_submit():
        return campaign(slug, vault_form=form, vault_error="Choose the private key file."), 400
    try:
        keys = opening_keys_of(form)
    except SealingError as exc:
        return campaign(slug, vault_form=form, vault_error=str(exc)), 400
    db = db_session()
    held, movable, mandates = vault_files.to_move(db, slug)
    export = exports.start(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        db,
        g.staff,
        loaded,
        exports.VAULT_MOVE,
        keys,
        write=vault_moves.console_writer(current_app.extensions[CAMPAIGN_APP_EXTENSION], f"staff:{g.staff.id}"),
        total=movable + mandates,
    )
    g.audit_action = "vault-move-start"
    audit.record(
        db,
        g.staff,
        "vault-move-start",
        campaign=slug,
        detail=f"move {export.id}: {movable} of {held} held file(s) and {mandates} mandate(s) to move",
        ip_hash=client_ip(),
    )
    db.commit()
    return redirect(url_for("staff.export", token=export.token))


def _own_export(token: str) -> StaffExport:
    """An export, to the staff member who started it only (they gave the key), while they may export."""
    require(Permission.EXPORT)
    export = db_session().scalar(select(StaffExport).where(StaffExport.token == token))
    if export is None or export.staff_id != g.staff.id:
        abort(404)
    g.audit_campaign = export.campaign
    return export


@bp.get("/exports/<token>")
def export(token: str) -> str:
    exports.remove_expired(current_app, db_session())
    db_session().commit()
    found = _own_export(token)
    return render_template(
        "staff/export.html",
        export=found,
        kind=exports.ALL_KINDS[found.kind],
        available=exports.path_of(current_app, found) is not None,
        kept_until=found.finished_at + exports.KEPT_FOR if found.finished_at else None,
    )


@bp.get("/exports/<token>/download")
def download_export(token: str) -> Response:
    found = _own_export(token)
    path = exports.path_of(current_app, found)
    if path is None:
        abort(410)
    g.audit_action = "export-download"
    g.audit_detail = f"{found.kind} export {found.id}: {found.done} participant(s), sha256 {found.sha256}"
    kind = exports.ALL_KINDS[found.kind]
    day = (found.finished_at or found.created_at).astimezone(figures.ZONE).date().isoformat()
    return send_file(
        path,
        mimetype=kind.mimetype,
        as_attachment=True,
        download_name=f"{found.campaign}-{found.kind}-{day}{kind.suffix}",
        max_age=0,
    )


# -- ID copies ------------------------------------------------------------------------------------------------------
def _identity_campaign(slug: str) -> LoadedCampaign:
    """A campaign whose data request asks for ID copies, for an account that may see identity documents."""
    require(Permission.IDENTITY_DOCUMENTS)  # before anything is read, the upload of a key file too
    loaded = seen_campaign(slug)
    if not identity_copies.asks_identity(loaded):
        abort(404)
    return loaded


def _identity_proof(slug: str, proof_id: int) -> tuple[LoadedCampaign, IdentityProof, Signup]:
    loaded = _identity_campaign(slug)
    found = identity_copies.proof_of(db_session(), slug, proof_id)
    if found is None:
        abort(404)
    return loaded, *found


def _identity_list(loaded: LoadedCampaign, message: str | None = None, status: int = 200) -> tuple[str, int]:
    db = db_session()
    return render_template(
        "staff/identity_copies.html",
        loaded=loaded,
        c=loaded.campaign,
        waiting=identity_copies.waiting(db, loaded.slug),
        counts=identity_copies.counts(db, loaded.slug),
        message=message,
    ), status


@bp.get("/campaigns/<slug>/identity")
def identity_copies_page(slug: str) -> tuple[str, int]:
    """The campaign's ID copies waiting for a decision (oldest first), and how many were decided or erased."""
    return _identity_list(_identity_campaign(slug))


def _proof_page(
    loaded: LoadedCampaign,
    proof: IdentityProof,
    signup: Signup,
    *,
    image: str | None = None,
    name: str | None = None,
    decision_form: ProofDecisionForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """One copy: what is known of it without the key, the form that opens it, and (opened, or a decision refused)
    the image and the decision's forms. Never cached: the image is in the page itself."""
    reviewer = db_session().get(StaffMember, proof.reviewed_by) if proof.reviewed_by else None
    page = render_template(
        "staff/identity_proof.html",
        loaded=loaded,
        c=loaded.campaign,
        proof=proof,
        waiting=proof.state == ProofState.RECEIVED,
        reference=signup.token[:12],
        language=Locale.parse(signup.language).get_display_name("en"),
        reviewer=reviewer,
        reasons=proof_review.REASONS,
        max_reason=proof_review.MAX_REASON,
        open_form=OpenProofForm(formdata=None),
        decision_form=decision_form,
        image=image,
        name=name,
        error=error,
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/campaigns/<slug>/identity/<int:proof_id>")
def identity_proof(slug: str, proof_id: int) -> Response:
    return _proof_page(*_identity_proof(slug, proof_id))


@bp.post("/campaigns/<slug>/identity/<int:proof_id>")
def open_identity_proof(slug: str, proof_id: int) -> Response:
    """The image, opened with the private key file sent with this request (held in memory for it, never stored);
    each opening is an entry in the audit log."""
    loaded, proof, signup = _identity_proof(slug, proof_id)
    form = OpenProofForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        keys = opening_keys_of(form)
        image = identity_proofs.open_image(proof, keys)
    except SealingError as exc:
        return _proof_page(
            loaded, proof, signup, error=f"The image was not opened: {str(exc).rstrip('.')}.", status=400
        )
    if image is None:
        return _proof_page(loaded, proof, signup, error="There is no image to open: it was erased.", status=410)
    # The page shown is the opening: the console writes its audit entry (and commits it) before the page goes out.
    g.audit_action = "identity-view"
    g.audit_detail = f"ID copy {proof.id} of sign-up {signup.token[:12]}"
    return _proof_page(
        loaded,
        proof,
        signup,
        image=identity_copies.data_url(image, proof.media_type),
        name=identity_copies.signed_name(db_session(), signup, keys),
        decision_form=ProofDecisionForm(formdata=None),
    )


DECIDED = {
    proof_review.Outcome.ACCEPTED: "Accepted: the copy of {reference} counts as proof of identity. No mail is sent.",
    proof_review.Outcome.REJECTED_MAILED: "Rejected: {reference} gets a mail with the reason and a link to their "
    "page, where they upload a new copy (the worker sends it within a minute).",
    proof_review.Outcome.REJECTED_NOT_MAILED: "Rejected, but no mail was sent: no address is kept for {reference} "
    "(withdrawn, erased, or signed before the site kept addresses), so the participant cannot be told by mail.",
}


@bp.post("/campaigns/<slug>/identity/<int:proof_id>/decision")
def decide_identity_proof(slug: str, proof_id: int) -> Any:
    """Accept the copy, or reject it with a reason (mailed to the participant); one decision counts, the first."""
    loaded, proof, signup = _identity_proof(slug, proof_id)
    form = ProofDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    reference = signup.token[:12]
    try:
        if form.decision.data == "accept":
            decision = proof_review.ACCEPT
        else:
            # Worded in the participant's language by the campaign app, which has the UI catalogs (the console's
            # own pages are in English only).
            with current_app.extensions[CAMPAIGN_APP_EXTENSION].app_context():
                decision = proof_review.rejection(
                    form.reason.data or "", form.other.data or "", signup.language, loaded.campaign.address_form
                )
    except proof_review.ReasonError as exc:
        error = f"Nothing was decided. {exc}"
        return _proof_page(loaded, proof, signup, decision_form=form, error=error, status=400)
    db = db_session()
    outcome = proof_review.decide(db, loaded, proof, signup, decision, g.staff.id, utcnow())
    if outcome is proof_review.Outcome.NOT_WAITING:  # review() read the copy again: the page shows where it stands
        error = "Your decision was not recorded: this copy is no longer waiting for one (see below)."
        return _proof_page(loaded, proof, signup, error=error, status=409)
    action = "identity-accept" if decision.accepted else "identity-reject"
    mailed = {
        proof_review.Outcome.REJECTED_MAILED: ", mailed",
        proof_review.Outcome.REJECTED_NOT_MAILED: ", not mailed: no address kept",
    }
    detail = f"ID copy {proof.id} of sign-up {reference}{mailed.get(outcome, '')}"  # the reference, never the reason
    audit.record(db, g.staff, action, campaign=slug, detail=detail, ip_hash=client_ip())
    db.commit()  # the decision, its mail and its audit entry together
    g.audit_action, g.audit_detail = "view", f"GET /campaigns/{slug}/identity"
    return _identity_list(loaded, DECIDED[outcome].format(reference=reference))


@bp.get("/audit")
def audit_log() -> str:
    require(Permission.AUDIT_LOG)
    before = request.args.get("before", type=int)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(100)
    if before:
        query = query.where(AuditEntry.id < before)
    entries = db_session().scalars(query).all()
    return render_template("staff/audit.html", entries=entries)


# -- mail ----------------------------------------------------------------------------------------------------------
@bp.get("/mail")
def mail() -> str:
    """Mail and other jobs of the account's campaigns that wait for another attempt, and those that gave up."""
    db = db_session()
    campaigns = _access().campaigns
    return render_template(
        "staff/mail.html",
        retrying=mail_queue.retrying(db, campaigns),
        failed=mail_queue.gave_up(db, campaigns),
        counts=mail_queue.counts(db, campaigns),
        shown=mail_queue.SHOWN,
    )


# -- finding a sign-up by address ----------------------------------------------------------------------------------
def _found_page(address: str, message: str | None = None, status: int = 200) -> tuple[str, int]:
    """The sign-ups of ``address`` the account sees, with a button for each mail that can help them."""
    access = _access()
    found = lookup.find(db_session(), site().hash_key, address, access.campaigns)
    g.audit_action = g.get("audit_action", "signup-find")
    g.audit_detail = g.get("audit_detail") or f"{len(found)} sign-up(s) found by address"  # never the address
    campaigns = site().registry.snapshot.campaigns
    rows = [
        {
            "signup": signup,
            "loaded": campaigns.get(signup.campaign),
            "status": lookup.status(signup),
            "actions": [
                action
                for action in lookup.Action
                if access.may(Permission.SUPPORT) and lookup.may_get(signup, action) and signup.campaign in campaigns
            ],
        }
        for signup in found
    ]
    form = FindSignupForm(formdata=None, data={"email": address})
    return render_template(
        "staff/signups.html", form=form, address=address, rows=rows, message=message, searched=True
    ), status


@bp.route("/signups", methods=["GET", "POST"])
def find_signups() -> Any:
    """A form (POST: the address never lands in a URL, a log line or the audit log) and the sign-ups it finds."""
    form = FindSignupForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("staff/signups.html", form=form, rows=[], searched=False), status
    if not site().limits.hit("staff-find-account", str(g.staff.id)):
        g.audit_action = "signup-find-limited"
        return render_template(
            "staff/signups.html",
            form=form,
            rows=[],
            searched=False,
            message="You looked up many addresses this hour: wait a while and try again.",
        ), 429
    return _found_page((form.email.data or "").strip())


SENT_MESSAGES = {
    (lookup.Action.CODE, lookup.Sent.SENT): "A new verification code is on its way to this address (the worker "
    "mails it within a minute). The previous code stops working.",
    (lookup.Action.LOGIN_LINK, lookup.Sent.SENT): "A login link to the participant's page is on its way to this "
    "address. It works once, for 30 minutes; the participant fetches the mandate there.",
}
SENT_STATUS = {lookup.Sent.SENT: 200, lookup.Sent.WAIT: 429, lookup.Sent.LIMITED: 429, lookup.Sent.NOT_NOW: 409}
NOT_SENT = {
    lookup.Sent.WAIT: "Not sent: a code went out less than a minute ago. Wait a minute, then try again.",
    lookup.Sent.LIMITED: "Not sent: too many mails to this address, or from your account, for now. Try again later.",
    lookup.Sent.NOT_NOW: "Not sent: this sign-up cannot use this mail now (it changed meanwhile). Look it up again.",
}


@bp.post("/signups/send")
def send_to_signup() -> Any:
    """Mail a found sign-up a new code or a login link: support rights, a campaign the account sees, and the typed
    address must still be the sign-up's (its hash is checked again here)."""
    require(Permission.SUPPORT)
    form = SupportForm()
    if not form.validate_on_submit():
        abort(400)
    address = (form.email.data or "").strip()
    signup = db_session().get(Signup, int(form.signup.data or 0))
    if signup is None:
        abort(404)
    loaded = seen_campaign(signup.campaign)
    if signup.email_hash not in lookup.address_hashes(site().hash_key, address):
        abort(404)
    action = lookup.Action(form.action.data)
    db = db_session()
    sent = lookup.send(
        db,
        site().limits,
        action=action,
        signup=signup,
        loaded=loaded,
        address=address,
        hash_key=site().hash_key,
        staff_key=str(g.staff.id),
        network=_network(),
        now=utcnow(),
    )
    detail = f"sign-up {signup.token[:12]}: {sent.value}"  # the reference, never the address
    audit.record(db, g.staff, f"signup-{action.value}", campaign=signup.campaign, detail=detail, ip_hash=client_ip())
    db.commit()  # the mail (or the job that makes it) and its audit entry together
    message = SENT_MESSAGES.get((action, sent)) or NOT_SENT[sent]
    return _found_page(address, message, SENT_STATUS[sent])


# -- previews ----------------------------------------------------------------------------------------------------
@bp.get("/preview/<slug>/<status>/", defaults={"rest": ""})
@bp.get("/preview/<slug>/<status>/<path:rest>")
def preview(slug: str, status: str, rest: str) -> Response:
    """The campaign's own pages, rendered by the campaign app as if the campaign had ``status``, under this prefix
    of the admin host, so a campaign can be checked in every language and status before it goes live. Read only:
    only GET reaches the campaign app, so nothing can be signed or sent from a preview."""
    seen_campaign(slug)
    if status not in PREVIEW_STATUSES:
        abort(404)
    g.audit_action = "preview"
    return _campaign_pages(slug, status, rest, f"/preview/{slug}/{status}")


@bp.post("/campaigns/<slug>/preview-link")
def make_preview_link(slug: str) -> str | tuple[str, int]:
    """A signed link to the campaign's pages, for a colleague without an account (core.staff.preview_links)."""
    seen_campaign(slug)
    form = PreviewLinkForm()
    if not form.validate():
        return campaign(slug, link_form=form), 400
    link = preview_links.PreviewLink(slug, form.status.data, form.days.data, g.staff.id)
    token = preview_links.make_token(current_app.secret_key, link)  # type: ignore[arg-type]
    url = url_for("staff.shared_preview", token=token, rest="", _external=True)
    db = db_session()
    audit.record(
        db,
        g.staff,
        "preview-link",
        campaign=slug,
        detail=f"as {link.status}, for {link.days} day(s)",
        ip_hash=client_ip(),
    )
    db.commit()
    g.audit_action, g.audit_detail = "view", f"GET /campaigns/{slug}"
    return campaign(slug, preview_link=url)


@bp.get("/shared/<token>/", defaults={"rest": ""})
@bp.get("/shared/<token>/<path:rest>")
def shared_preview(token: str, rest: str) -> Response | tuple[str, int]:
    """A preview link's pages: no account needed; 404 once it expired or when it is not one of ours."""
    link = preview_links.read_token(current_app.secret_key, token)  # type: ignore[arg-type]
    if link is None or link.slug not in site().registry.snapshot.campaigns or link.status not in PREVIEW_STATUSES:
        title = "This preview link does not work"
        message = "It has expired, or it was changed on the way. Ask whoever sent it for a new one."
        return render_template("staff/message.html", title=title, message=message, public=True), 404
    response = _campaign_pages(link.slug, link.status, rest, f"/shared/{token}")
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _campaign_pages(slug: str, status: str, rest: str, prefix: str) -> Response:
    """GET ``rest`` of the campaign app for ``slug`` as if it had ``status``, mounted at ``prefix`` of this host."""
    # As a new visitor sees it: without the staff cookie, and setting none on the admin host.
    environ = {
        key: value for key, value in request.environ.items() if not key.startswith("werkzeug.") and key != "HTTP_COOKIE"
    }
    environ.update(
        {
            "SCRIPT_NAME": f"{request.script_root}{prefix}",
            "PATH_INFO": f"/{rest}",
            ENVIRON_CAMPAIGN: slug,
            ENVIRON_PREVIEW_STATUS: status,
            ENVIRON_DEV_HOST: False,
        }
    )
    campaign_app: Flask = current_app.extensions[CAMPAIGN_APP_EXTENSION]
    body, status_line, headers = run_wsgi_app(lambda e, s: Flask.wsgi_app(campaign_app, e, s), environ, buffered=True)
    response = Response(
        body,
        status=status_line,
        headers=[(name, value) for name, value in headers.items() if name.lower() not in ("set-cookie", "etag")],
    )
    response.headers["Cache-Control"] = "private, no-store"  # a preview (a draft, perhaps) is never kept anywhere
    return response


def _file_problems(slugs: set[str] | None) -> list[tuple[str, ConfigProblem]]:
    """The errors and warnings of the campaign files whose name is in ``slugs`` (None: every file), errors first:
    a file with errors is not served, or serves its last good version."""
    snapshot = site().registry.snapshot
    found = [("error", p) for p in snapshot.errors] + [("warning", p) for p in snapshot.warnings]
    return [(kind, p) for kind, p in found if slugs is None or Path(p.file).stem in slugs]


@bp.app_template_filter("when")
def when_filter(value: dt.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(figures.ZONE).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("euros")
def euros_filter(cents: int) -> str:
    return f"€ {cents / 100:,.2f}"
