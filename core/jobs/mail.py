"""Composing and delivering mail: rendered from the campaign's templates, queued as a job, sent by the worker.

A view composes the message and queues it on its own session, so it is sent only if the sign-up commits::

    message = compose(loaded=loaded, language=g.lang, to=address, template="verification",
                      context={"code": code, "verify_url": url, "minutes_valid": 30, "name": name})
    queue_mail(db_session(), message, campaign=loaded.slug, kind="verification")
    db_session().commit()

Templates are ``mail/<template>.subject.txt`` (one line), ``mail/<template>.txt`` and ``mail/<template>.html``,
looked up campaign folder -> theme -> ``themes/default``. Delivery follows ``CLAIMSITE_MAIL_URL``: SMTP
(``smtp://`` with optional ``?starttls=1``, or ``smtps://``), or, when it is empty (never in production), a file in
``instance/outbox/`` and one line on the console with the subject (never the recipient's address).

The worker learns to deliver ``mail`` jobs from this module, registered as the built-in plugin ``core_mail``.
"""

from __future__ import annotations

import email
import email.policy
import secrets
import smtplib
import ssl
import sys
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.data.db import utcnow
from core.i18n import addressing
from core.jobs.queue import Handler, PermanentJobError, current_job, enqueue, mask
from core.plugins import hookimpl
from core.settings import Settings

SMTP_TIMEOUT = 10  # seconds; a server that does not answer in time means "retry later"
MAIL_JOB = "mail"


def compose(
    *,
    loaded: LoadedCampaign,
    language: str,
    to: str,
    template: str,
    context: dict[str, Any],
    attachments: Sequence[tuple[str, str, bytes]] = (),
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative (text + HTML) message rendered in ``language``, with ``(filename, mimetype,
    bytes)`` attachments. ``message_id`` is the part of the Message-ID before the ``@`` (see
    :func:`new_message_id`); a new one if not given. Needs an app context (a request's, a CLI command's or a
    job's)."""
    app = current_app
    services = app.extensions["claimsite"]
    settings: Settings = services.settings
    c = loaded.campaign
    values: dict[str, Any] = dict(context)
    values.update(
        campaign=c,
        loaded=loaded,
        lang=language,
        colours=services.themes.colours(c.theme, dict(c.theme_overrides.colours)),
    )
    app.update_template_context(values)
    base = f"campaign:{loaded.slug}/mail/{template}"
    with force_locale(language), addressing(c.address_form):
        subject = " ".join(app.jinja_env.get_template(f"{base}.subject.txt").render(values).split())
        text = app.jinja_env.get_template(f"{base}.txt").render(values)
        html = app.jinja_env.get_template(f"{base}.html").render(values)

    sender = parseaddr(settings.mail_from)[1] if settings.mail_from else str(c.organisation.email)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((c.name.get_text(language, c.default_language), sender))
    if sender.lower() != str(c.organisation.email).lower():
        message["Reply-To"] = formataddr((c.organisation.name, str(c.organisation.email)))
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2] or None
    message["Message-ID"] = f"<{message_id}@{domain or 'localhost'}>" if message_id else make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    # quoted-printable keeps the stored message ASCII and every server happy (no 8BITMIME needed).
    message.set_content(_with_final_newline(text), cte="quoted-printable")
    message.add_alternative(_with_final_newline(html), subtype="html", cte="quoted-printable")
    for filename, mimetype, data in attachments:
        maintype, _, subtype = mimetype.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    message["Content-Language"] = language  # after the parts: making a multipart moves Content-* headers down
    return message


def _with_final_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def queue_mail(session: Session, message: EmailMessage, *, campaign: str, kind: str) -> int:
    """Queue ``message`` for delivery by the worker; it is sent once the caller commits ``session``."""
    return enqueue(session, MAIL_JOB, {"mail": kind, "message": message.as_string()}, campaign=campaign)


def queue_template_mail(
    session: Session,
    *,
    loaded: LoadedCampaign,
    language: str,
    to: str,
    template: str,
    context: dict[str, Any],
    kind: str,
) -> int:
    """Queue a mail that the worker composes from ``template`` and ``context`` (JSON values) and then sends.

    Composing is most of the cost of a mail, so the request that needs one only queues this (the payload, which
    may hold an address or a code, is emptied once the mail is sent)."""
    return enqueue(
        session,
        MAIL_JOB,
        template_mail_payload(language=language, to=to, template=template, context=context, kind=kind),
        campaign=loaded.slug,
    )


def template_mail_payload(
    *, language: str, to: str, template: str, context: dict[str, Any], kind: str
) -> dict[str, Any]:
    """The payload of a ``mail`` job that the worker composes from ``template`` (see :func:`queue_template_mail`).

    Its Message-ID is chosen now and kept in the job: a worker that dies after the mail server took the message
    (before the job is marked done) sends it again, and the copy then has the same Message-ID, which mail
    clients show once. A message composed before queueing (:func:`queue_mail`) keeps its own the same way."""
    return {
        "mail": kind,
        "template": template,
        "language": language,
        "to": to,
        "context": context,
        "message_id": new_message_id(),
    }


def new_message_id() -> str:
    """The random part of a Message-ID (before the ``@``): unique, and telling nothing about the mail."""
    return secrets.token_hex(16)


def deliver(app: Flask, payload: dict[str, Any]) -> None:
    """The ``mail`` job: compose it if it was queued as a template, then send it over SMTP, or write it to the
    outbox when no mail server is set."""
    if "message" in payload:
        message = email.message_from_string(payload["message"], policy=email.policy.default)
    else:
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns.get(current_job().campaign)  # type: ignore[union-attr]
        if loaded is None:
            raise RuntimeError("the campaign of this mail is not loaded")
        # A job queued before Message-IDs were chosen at queueing has none: it gets a new one each time.
        message = compose(
            loaded=loaded,
            language=payload["language"],
            to=payload["to"],
            template=payload["template"],
            context=payload["context"],
            message_id=payload.get("message_id"),
        )
    assert isinstance(message, EmailMessage)
    settings: Settings = app.extensions["claimsite"].settings
    if settings.mail_url:
        send_smtp(settings.mail_url, message)
    else:
        write_outbox(settings.instance_dir / "outbox", message)


@hookimpl
def claimsite_job_handlers() -> dict[str, Handler]:
    # This module is the built-in plugin ``core_mail`` (pyproject.toml): the worker finds mail as it finds any job.
    return {MAIL_JOB: deliver}


def write_outbox(folder: Path, message: EmailMessage) -> Path:
    """Write ``message`` to ``folder/<UTC timestamp>-<job id>.eml`` and say so in one console line."""
    folder.mkdir(parents=True, exist_ok=True)
    job = current_job()
    name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{job.id if job else secrets.token_hex(4)}.eml"
    path = folder / name
    path.write_bytes(message.as_bytes())
    subject = mask(" ".join(str(message.get("Subject", "")).split()))
    print(f'outbox: "{subject}" written to {path}', file=sys.stderr, flush=True)
    return path


def send_smtp(url: str, message: EmailMessage) -> None:
    """Send over the server of ``url``; a refused connection, a timeout or a 4xx answer raises (retry later)."""
    parts = urlsplit(url)
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    host = parts.hostname or ""
    client: smtplib.SMTP
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, parts.port or 465, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, parts.port or (587 if starttls else 25), timeout=SMTP_TIMEOUT)
    with client:
        if starttls:
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            if all(500 <= code < 600 for code in codes):
                # A permanent refusal (no such mailbox): retrying would only bother the server.
                raise PermanentJobError(
                    f"the mail server refused the recipient ({', '.join(map(str, codes))})"
                ) from None
            raise
