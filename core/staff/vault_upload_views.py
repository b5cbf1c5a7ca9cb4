"""The console's upload into a participant's vault (issue 21): the page that finds a sign-up by its reference and
lets a staff member choose the company and the files, and the requests its script makes
(``static/vault_upload.js``): start an upload, send its pieces, finish or abort it. The protocol itself is
:mod:`core.staff.vault_uploads`. Registered on the console's blueprint (:data:`core.staff.views.bp`).

Who may upload: admins, and staff accounts with the ``support`` right, for sign-ups of the campaigns they see
(:attr:`~core.staff.roles.Permission.SUPPORT`, checked on the server for every request before anything is read):
putting a company's answer in front of its participant is the correspondence with companies and participants that
support staff handle. The server never sees the file: the page's script encrypts it first, to the public key the
start request answers with. Every request but the page's first is a POST that carries the CSRF token (a form field
on the page, a header on the script's requests), and every start, finish and abort is in the audit log, by
reference (never a file's name: it may say something about the person).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, g, jsonify, render_template, request, send_from_directory, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from core.data import vault_uploads
from core.data.db import db_session, utcnow
from core.data.models import Signup, VaultFile, VaultUpload
from core.site import site
from core.staff import audit, lookup, vault_upload
from core.staff.roles import Permission
from core.staff.vault_deposits import recipient_key
from core.staff.views import CAMPAIGN_APP_EXTENSION, bp, client_ip, require, seen_campaign
from core.vault.wrapped_keys import b64url_encode

PIECE_ENDPOINT = "staff.vault_upload_piece"  # its requests may carry a whole piece (allow_piece_bodies)


def allow_piece_bodies() -> None:
    """Let a piece's request carry a whole piece (the console's other requests stay within MAX_CONTENT_LENGTH).
    Runs before the CSRF check, which would otherwise refuse the body as too large before the view is reached."""
    if request.endpoint == PIECE_ENDPOINT:
        request.max_content_length = vault_upload.PIECE_SIZE


class FindReferenceForm(FlaskForm):
    reference = StringField(
        "Reference",
        validators=[
            DataRequired("Give the sign-up's reference, as the console and its exports show it."),
            Length(
                lookup.REFERENCE_LENGTH,
                lookup.REFERENCE_LENGTH,
                f"A reference is {lookup.REFERENCE_LENGTH} characters long.",
            ),
        ],
    )


class UploadForm(FlaskForm):
    """Only its CSRF token is posted as a form: the page's script sends the token with each of its requests."""


def _page(form: FindReferenceForm, signup: Signup | None = None, message: str | None = None, status: int = 200) -> Any:
    loaded = site().registry.snapshot.campaigns.get(signup.campaign) if signup else None
    companies = sorted(
        ((slug, company.name) for slug, company in (loaded.companies if loaded else {}).items()),
        key=lambda pair: pair[1].lower(),
    )
    recipient = recipient_key(db_session(), signup) if signup is not None else None
    return render_template(
        "staff/vault_upload.html",
        form=form,
        signup=signup,
        loaded=loaded,
        reference=signup.token[: lookup.REFERENCE_LENGTH] if signup else None,
        status_text=lookup.status(signup) if signup else None,
        recipient=recipient,
        companies=companies,
        upload_form=UploadForm(formdata=None),
        max_gb=vault_upload.MAX_PLAIN >> 30,
        message=message,
    ), status


@bp.route("/vault-upload", methods=["GET", "POST"])
def vault_upload_page() -> Any:
    """The page: a reference typed (POST: it never lands in a URL), and the sign-up it names with its vault."""
    require(Permission.SUPPORT)
    form = FindReferenceForm()
    if not form.validate_on_submit():
        return _page(form, status=400 if request.method == "POST" else 200)
    reference = (form.reference.data or "").strip()
    signup = lookup.by_reference(db_session(), reference, g.access.campaigns)
    g.audit_action = "vault-upload-find"
    g.audit_detail = f"sign-up {reference}: {'found' if signup else 'not found'}"
    if signup is None:
        message = "No sign-up of your campaigns has this reference (or it was erased): check it and try again."
        return _page(form, message=message, status=404)
    seen_campaign(signup.campaign)
    return _page(form, signup)


@bp.get("/vault-upload/vault_crypto.js")
def vault_crypto_script() -> Response:
    """The vault's browser library, the very file the participant's pages load (the default theme's), so that the
    console encrypts exactly as the format says (core/vault/FORMAT.md)."""
    return send_from_directory(site().settings.themes_dir / "default" / "static" / "js", "vault_crypto.js", max_age=0)


def _refused(error: vault_upload.UploadRefused) -> tuple[Response, int]:
    return jsonify(error=str(error)), error.status


@bp.post("/vault-uploads")
def vault_upload_start() -> Any:
    """Start the upload of one file: ``{"signup": id, "company", "name", "size", "type"}``; the answer names the key
    to encrypt to, the chunk and piece sizes, and where to send the pieces (or says the file is there already)."""
    require(Permission.SUPPORT)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    try:
        signup_id, size = int(data.get("signup")), int(data.get("size"))
    except (TypeError, ValueError):
        return jsonify(error="The request lacks the sign-up or the file's size: reload the page."), 400
    db = db_session()
    signup = db.get(Signup, signup_id) if 0 < signup_id < 2**31 else None
    if signup is None:
        abort(404)
    seen_campaign(signup.campaign)
    try:
        started = vault_upload.start(
            db,
            site().vault_store,
            g.staff,
            signup,
            company=str(data.get("company") or ""),
            name=str(data.get("name") or ""),
            size_plain=size,
            media_type=str(data.get("type") or ""),
            now=utcnow(),
        )
    except vault_upload.UploadRefused as error:
        return _refused(error)
    if isinstance(started, VaultFile):
        return jsonify(done=True, already=True)
    audit.record(
        db,
        g.staff,
        "vault-upload-start",
        campaign=signup.campaign,
        detail=f"upload {started.id} for sign-up {signup.token[: lookup.REFERENCE_LENGTH]}: {started.size_plain} bytes",
        ip_hash=client_ip(),
    )
    db.commit()
    return jsonify(
        upload=started.token,
        public_key=b64url_encode(started.public_raw),
        chunk_size=started.chunk_size,
        piece_size=started.piece_size,
        size_cipher=started.size_cipher,
        pieces=vault_upload.pieces_of(started),
        # The script adds each piece's number to this (a URL of piece 0 without its number).
        pieces_url=url_for(PIECE_ENDPOINT, token=started.token, number=0).removesuffix("0"),
        finish_url=url_for("staff.vault_upload_finish", token=started.token),
        abort_url=url_for("staff.vault_upload_abort", token=started.token),
    )


def _own_upload(token: str) -> VaultUpload:
    """An upload, to the staff member who started it only, while they may upload and see its campaign."""
    require(Permission.SUPPORT)
    upload = vault_uploads.by_token(db_session(), token)
    if upload is None or upload.staff_id != g.staff.id:
        abort(404)
    seen_campaign(upload.campaign)
    return upload


@bp.post("/vault-uploads/<token>/pieces/<int:number>")
def vault_upload_piece(token: str, number: int) -> Any:
    """One piece of ciphertext, the request's whole body (``application/octet-stream``), read as a stream into
    the store: the body is never parsed as a form, so never spooled to a temporary file."""
    upload = _own_upload(token)
    try:
        received = vault_upload.put_piece(
            db_session(), site().vault_store, upload, number, request.stream, request.content_length
        )
    except vault_upload.UploadRefused as error:
        return _refused(error)
    return jsonify(received=received, pieces=vault_upload.pieces_of(upload))


@bp.post("/vault-uploads/<token>/finish")
def vault_upload_finish(token: str) -> Any:
    """Every piece arrived: check the file and record it in the vault."""
    upload = _own_upload(token)
    db = db_session()
    upload_id, campaign = upload.id, upload.campaign
    signup = db.get(Signup, upload.signup_id)
    reference = signup.token[: lookup.REFERENCE_LENGTH] if signup else "(erased)"
    try:
        finished = vault_upload.finish(db, site().vault_store, upload, deposited_by=f"console:{g.staff.id}")
    except vault_upload.UploadRefused as error:
        detail = f"upload {upload_id} for sign-up {reference}: {error}"
        audit.record(db, g.staff, "vault-upload-refused", campaign=campaign, detail=detail, ip_hash=client_ip())
        db.commit()
        return _refused(error)
    detail = f"upload {upload_id}: file {finished.file.id} for sign-up {reference}"
    if finished.already:
        detail += ", deposited before"
    audit.record(db, g.staff, "vault-upload", campaign=campaign, detail=detail, ip_hash=client_ip())
    db.commit()
    return jsonify(done=True, already=finished.already)


@bp.post("/vault-uploads/notify")
def vault_upload_notify() -> Any:
    """The staff member's last file is in: one arrival mail for the new files of ``{"signup": id}``'s vault."""
    require(Permission.SUPPORT)
    data = request.get_json(silent=True)
    try:
        signup_id = int(data.get("signup")) if isinstance(data, dict) else None
    except (TypeError, ValueError):
        signup_id = None
    db = db_session()
    signup = db.get(Signup, signup_id) if signup_id is not None and 0 < signup_id < 2**31 else None
    if signup is None:
        abort(404)
    seen_campaign(signup.campaign)
    # Written in the participant's language, with a link to their page, by the campaign app, which has the UI
    # catalogs and the campaign sites' URLs (the console's own pages are in English only).
    with current_app.extensions[CAMPAIGN_APP_EXTENSION].app_context():
        mailed = vault_upload.notify(db, signup)
    if mailed:
        detail = f"arrival mail for sign-up {signup.token[: lookup.REFERENCE_LENGTH]}"
        audit.record(db, g.staff, "vault-upload-mail", campaign=signup.campaign, detail=detail, ip_hash=client_ip())
        db.commit()
    return jsonify(mailed=mailed)


@bp.post("/vault-uploads/<token>/abort")
def vault_upload_abort(token: str) -> Any:
    """Stop an upload: what arrived of it is thrown away (a finished one stays in the vault)."""
    upload = _own_upload(token)
    db = db_session()
    upload_id, campaign = upload.id, upload.campaign
    vault_upload.abort(db, site().vault_store, upload)
    audit.record(
        db, g.staff, "vault-upload-abort", campaign=campaign, detail=f"upload {upload_id}", ip_hash=client_ip()
    )
    db.commit()
    return jsonify(aborted=True)
