"""Receiving a copy of an ID document, for the join flow's identity step and the participant's page alike: the
upload read in bounded memory, checked and cleaned by its content (:func:`core.data_requests.id_images.
clean_id_image`), sealed on arrival (:mod:`core.data.identity_proofs`), and the message for a refused one in the
visitor's language.

The page lets the visitor black out the photo, the citizen service number, the document number and the
machine-readable zone before the image leaves their browser (``identity/_blackout.html``); what arrives is
re-encoded from its pixels, so nothing of the original file (its metadata, a hidden layer) is kept.
"""

from __future__ import annotations

from flask import Response, flash, request
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from core.data import identity_proofs
from core.data.db import utcnow
from core.data.models import Signup
from core.data_requests.id_images import MAX_BYTES, IdImageProblem, IdImageRefused, clean_id_image, refusal_message
from core.signup import flow
from core.web.rendering import render_page
from core.web.requests import csrf_ok, current_visit

MAX_UPLOAD = 12 * 1024 * 1024  # a phone's photo, or the blacked-out canvas at full resolution, with room to spare
FIELD = "document"


def read_upload() -> str | None:
    """Read this request's form with room for an image (the app's usual limit is for forms of text); the message
    for a request too large to read, else None. Call it before anything reads the form."""
    request.max_content_length = MAX_UPLOAD
    try:
        request.files  # noqa: B018 (reading it parses the whole body, within the limit)
    except RequestEntityTooLarge:
        return str(refusal_message(IdImageProblem.TOO_LARGE))
    return None


def take_upload(session: Session, signup: Signup) -> str | None:
    """The POST of an identity page: keep the uploaded copy as ``signup``'s proof, sealed, with the step in its
    evidence, committed, and a thank-you for the next page; or the message for a request too large, an expired page
    or a refused file (nothing kept)."""
    error = read_upload()
    if error is None and not csrf_ok():
        error = _("The page was open too long; please choose the file again and send it.")
    error = error or _receive(session, signup)
    if error is None:
        flow.record(session, signup, "identity-uploaded", current_visit())
        session.commit()
        flash(_("Thank you. We received your ID copy and will check it before the requests go out."), "ok")
    return error


def identity_page(session: Session, signup: Signup, error: str | None, action: str, kept_days: int) -> Response:
    """The identity page: where ``signup``'s copy stands, the upload with its blackout canvas posting to ``action``,
    and ``error`` (a refused upload) at the field."""
    return render_page(
        "signup/identity.html",
        cache=False,
        status=422 if error else 200,
        error=error,
        proof=identity_proofs.latest(session, signup),
        action=action,
        kept_days=kept_days,
    )


def _receive(session: Session, signup: Signup) -> str | None:
    upload = request.files.get(FIELD)
    data = upload.stream.read(MAX_BYTES + 1) if upload is not None else b""
    if not data:
        return _("Please choose a photo or scan of your ID document.")
    try:
        clean = clean_id_image(data)
    except IdImageRefused as refused:
        return str(refusal_message(refused.reason))
    identity_proofs.store(session, signup, clean.data, clean.media_type, utcnow())
    return None
