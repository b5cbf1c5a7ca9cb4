"""The participant's vault on ``/my/vault`` (issue 21): set it up, unlock it, change its passphrase.

The keys are made, wrapped and unwrapped in the browser (js/vault_page.js over js/vault_crypto.js): the server gets
only the public key and the private key wrapped with the passphrase and with the recovery code, never either secret.
The page needs JavaScript for that, by design; without it, it says so and posts nothing. The wrapped keys come back
to the page as data- attributes (useless without the passphrase), never in a URL or a cookie.

The two POSTs take JSON (the page's) or form fields, with the CSRF token in the ``X-CSRFToken`` header or a
``csrf_token`` field, and answer JSON: ``{"ok": true}`` or ``{"error": "..."}`` with 400, 401 or 409.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response as BaseResponse
from wtforms import ValidationError

from core.data import vault_files, vault_keys, vault_retention
from core.data.db import db_session, utcnow
from core.site import current_campaign, site
from core.vault.store import COPY_BLOCK, MissingFile
from core.vault.wrapped_keys import WrappedKeyError, b64url_encode, public_key_from, to_json, wrapped_key_from
from core.web.byte_ranges import UnsatisfiableRange, requested_range
from core.web.participant_session import logged_in
from core.web.rendering import render_page
from core.web.requests import limit_per_ip
from core.web.vault_listing import listed
from core.web.views.localized import localized_blueprint, localized_route

bp = localized_blueprint("vault", __name__)

MIN_PASSPHRASE = 12  # characters; the page checks it (the server never sees the passphrase)
# A browser that cannot run the saving service worker (js/vault_save_worker.js) decrypts a file into memory (a Blob)
# before saving it, holding it whole, twice for a moment: beyond this it says it cannot open that file.
MAX_OPEN_MB = 500
SAVE_WORKER = "js/vault_save_worker.js"


@bp.after_request
def _never_stored(response: Response) -> Response:
    # The wrapped keys and what the participant joined: no browser or proxy cache may keep them.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _fields() -> dict[str, Any]:
    """What was posted: the JSON object, or the form's fields."""
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def _csrf_ok(fields: dict[str, Any]) -> bool:
    token = request.headers.get("X-CSRFToken") or fields.get("csrf_token")
    try:
        validate_csrf(token if isinstance(token, str) else None)
    except ValidationError:
        return False
    return True


def _error(status: int, message: str) -> BaseResponse:
    return jsonify(error=message), status  # type: ignore[return-value]


def _checked_post() -> tuple[str | None, dict[str, Any], BaseResponse | None]:
    """The logged-in address hash and the posted fields, or the answer that refuses the request."""
    limit_per_ip("vault-ip")
    fields = _fields()
    hashed = logged_in()
    if hashed is None:
        return None, fields, _error(401, _("Please log in again: a login lasts an hour. Your vault was not changed."))
    if not _csrf_ok(fields):
        return None, fields, _error(400, _("The page was open too long; please reload it and try again."))
    return hashed, fields, None


def _refused(error: WrappedKeyError) -> BaseResponse:
    # The browser's own code made what was posted: a refusal means a broken or altered page, not a typing mistake.
    return _error(
        400,
        _(
            "Your browser sent a vault key we cannot accept (%(reason)s). Reload the page and try again.",
            reason=str(error),
        ),
    )


@localized_route(bp, "/my/vault")
def page() -> BaseResponse:
    """Without a vault: what it is and the form that sets it up. With one: unlock, recover, change passphrase."""
    hashed = logged_in()
    if hashed is None:
        flash(_("Please log in to open your vault: a login lasts an hour."), "error")
        return redirect(url_for("participant.page"))
    vault = vault_keys.vault_key_of(db_session(), hashed)
    return render_page(
        "participant/vault.html",
        cache=False,
        vault=vault,
        held=vault_files.held_count(db_session(), hashed),
        public_b64=b64url_encode(vault.public_raw) if vault else None,
        min_passphrase=MIN_PASSPHRASE,
        max_open_mb=MAX_OPEN_MB,
    )


@localized_route(bp, "/my/vault/setup", methods=["POST"])
def setup() -> BaseResponse:
    """Keep a new vault's public key and wrapped private key (``public_raw``, ``wrapped_by_passphrase``,
    ``wrapped_by_recovery``); 409 when this address has a vault already."""
    hashed, fields, refusal = _checked_post()
    if refusal is not None or hashed is None:
        return refusal  # type: ignore[return-value]
    try:
        public_raw = public_key_from(fields.get("public_raw"))
        by_passphrase = wrapped_key_from(fields.get("wrapped_by_passphrase"), "the key wrapped with the passphrase")
        by_recovery = wrapped_key_from(fields.get("wrapped_by_recovery"), "the key wrapped with the recovery code")
    except WrappedKeyError as error:
        return _refused(error)
    result = vault_keys.set_up(db_session(), hashed, public_raw, to_json(by_passphrase), to_json(by_recovery), utcnow())
    if result is vault_keys.SetUp.EXISTS:
        return _error(409, _("You already have a vault (set up in another window?). Reload the page to open it."))
    return jsonify(ok=True)


@localized_route(bp, "/my/vault/passphrase", methods=["POST"])
def passphrase() -> BaseResponse:
    """Replace the key wrapped with the passphrase (``wrapped_by_passphrase``): a new passphrase, chosen after
    unlocking with the old one or with the recovery code. The recovery code's copy and the public key stay."""
    hashed, fields, refusal = _checked_post()
    if refusal is not None or hashed is None:
        return refusal  # type: ignore[return-value]
    try:
        by_passphrase = wrapped_key_from(fields.get("wrapped_by_passphrase"), "the key wrapped with the passphrase")
    except WrappedKeyError as error:
        return _refused(error)
    db = db_session()
    if not vault_keys.rewrap(db, hashed, vault_keys.Wrapping.PASSPHRASE, to_json(by_passphrase), utcnow()):
        return _error(409, _("You have no vault yet. Reload the page to set one up."))
    db.commit()
    return jsonify(ok=True)


@localized_route(bp, "/my/vault/files")
def files() -> BaseResponse:
    """The logged-in address's vault files, as the page lists them after unlocking (JSON; no name of a file leaves
    the server to anyone else: the hash of the login picks the rows)."""
    hashed = logged_in()
    if hashed is None:
        return _error(401, _("Please log in again: a login lasts an hour."))
    db = db_session()
    found = vault_files.files_of(db, hashed)
    kept_until = vault_retention.kept_until(db, hashed, found, site().registry.snapshot.campaigns)
    return jsonify(files=[listed(file, kept_until[file.id]) for file in found])


@localized_route(bp, "/my/vault/files/<int:file_id>")
def download(file_id: int) -> BaseResponse:
    """One vault file's CIPHERTEXT, streamed from the store as stored: the server cannot decrypt it; the page does,
    with the participant's unlocked key."""
    limit_per_ip("vault-download-ip")
    hashed = logged_in()
    if hashed is None:
        return _error(401, _("Please log in again: a login lasts an hour."))
    file = vault_files.get(db_session(), hashed, file_id)
    if file is None:
        return _error(404, _("This file is not in your vault (any more). Reload the page to see what is."))
    etag = f'"{file.sha256_cipher}"'
    if_range = request.headers.get("If-Range")
    try:
        wanted = requested_range(request.headers.get("Range"), file.size_cipher)
    except UnsatisfiableRange:
        return Response(status=416, headers={"Content-Range": f"bytes */{file.size_cipher}", "ETag": etag})
    if wanted is not None and if_range is not None and if_range != etag:
        wanted = None  # the file changed since the page's first range: HTTP says send it whole, the page refuses it
    try:
        if wanted is None:
            stored = site().vault_store.open(file.store_key)
        else:
            stored = site().vault_store.open_range(file.store_key, *wanted)
    except MissingFile:
        return _error(404, _("This file cannot be found in the vault's storage. Please tell us, quoting its date."))

    def blocks() -> Iterator[bytes]:
        with stored:
            while block := stored.read(COPY_BLOCK):
                yield block

    headers = {"Content-Disposition": "attachment", "Accept-Ranges": "bytes", "ETag": etag}
    if wanted is None:
        headers["Content-Length"] = str(file.size_cipher)
        status = 200
    else:
        start, length = wanted
        headers["Content-Length"] = str(length)
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{file.size_cipher}"
        status = 206
    return Response(stream_with_context(blocks()), status=status, mimetype="application/octet-stream", headers=headers)


@localized_route(bp, "/my/vault/save/worker.js")
def save_worker() -> BaseResponse:
    """The service worker that saves a decrypted file to disk as the page decrypts it (js/vault_save_worker.js).
    Served here, not under /assets, so that its scope, the folder it is in, is this page's ``save/`` and nothing
    else of the site; never cached (``_never_stored``), so a browser always checks it for a newer version."""
    path = site().assets.find(current_campaign(), SAVE_WORKER)
    if path is None:
        abort(404)
    return Response(path.read_bytes(), mimetype="text/javascript")


@localized_route(bp, "/my/vault/save/<token>")
def save_missed(token: str) -> BaseResponse:
    """What a browser gets for a save link when no service worker answered it (a browser that hands downloads
    past its service worker): nothing, and no navigation. The page notices that its worker never saw the request
    and opens the file in memory instead. The token is a random name the page made; it opens nothing."""
    return Response(status=204)
