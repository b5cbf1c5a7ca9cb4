"""Mail: composed from the campaign's templates in the visitor's language, queued with its cause, delivered over a
real SMTP server on loopback (aiosmtpd) or into the outbox, retried while the server is down."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import select

from core.data.db import utcnow
from core.data.models import Job, JobStatus
from core.jobs.mail import compose, queue_mail, queue_template_mail
from core.jobs.queue import BACKOFF, MASK, Worker
from tests.conftest import REPO, CampaignFolder, campaign_data, process_settings
from tests.smtp_server import SMTPServer, free_port

ADDRESS = "deelnemer.jansen@example.org"
PDF = b"%PDF-1.7\n% a mandate, for the test\n%%EOF\n"
VERIFICATION = {
    "code": "482913",
    "verify_url": "https://democlaim.example/verify/tok123",
    "minutes_valid": 15,
    "name": "Jan Jansen",
}


@pytest.fixture
def mail_app(
    make_app: Callable[..., Flask],
    migrated_database_url: str,
    campaign_folder: CampaignFolder,
) -> Iterator[Callable[..., Flask]]:
    """``mail_app(**settings)``: an app over the democlaim campaign with a migrated database (both databases)."""
    campaign_folder.write("democlaim", campaign_data())
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = make_app(database_url=migrated_database_url, campaigns_dir=campaign_folder.path, **overrides)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["claimsite.db"].engine.dispose()


def queue_verification(app: Flask, language: str = "nl", **changes: Any) -> int:
    """Compose the verification mail (with a PDF attached) and queue it in a committed transaction; the job's id."""
    with app.app_context():
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns["democlaim"]
        message = compose(
            loaded=loaded,
            language=language,
            to=ADDRESS,
            template="verification",
            context={**VERIFICATION, **changes},
            attachments=[("mandaat.pdf", "application/pdf", PDF)],
        )
        with app.extensions["claimsite.db"].sessions() as session:
            job_id = queue_mail(session, message, campaign="democlaim", kind="verification")
            session.commit()
            return job_id


def stored_job(app: Flask, job_id: int) -> Job:
    with app.extensions["claimsite.db"].sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def assert_no_address_logged(caplog: pytest.LogCaptureFixture) -> None:
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("core.")]  # not the test server's
    assert ours and all(ADDRESS not in line and "example.org" not in line for line in ours)


def parts(message: EmailMessage) -> tuple[str, str, list[tuple[str | None, str, bytes]]]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in message.iter_attachments()]
    return text.get_content(), html.get_content(), files


def test_queued_mail_is_delivered_over_smtp(mail_app: Callable[..., Flask], smtp_server: SMTPServer) -> None:
    app = mail_app(mail_url=smtp_server.url)
    job_id = queue_verification(app)
    assert smtp_server.messages == []  # nothing is sent from the request
    assert Worker(app).run_once() == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == [ADDRESS] and received.mail_from == "campaign@somi.nl"
    message = received.message
    assert message["To"] == ADDRESS
    assert message["Subject"] == "482913 is je verificatiecode voor de actie ‘Democlaim’"
    assert parseaddr(message["From"]) == ("Democlaim", "campaign@somi.nl")
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"].endswith("@somi.nl>")
    assert message["Content-Language"] == "nl" and message["Reply-To"] is None
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_payload()[0].get_content_type() == "multipart/alternative"
    text, html, files = parts(message)
    assert "Hallo Jan Jansen," in text and "482913" in text and VERIFICATION["verify_url"] in text
    assert "De code en de link zijn 15 minuten geldig." in text and "<" not in text
    assert '<html lang="nl">' in html and "482913" in html and f'href="{VERIFICATION["verify_url"]}"' in html
    assert "Bevestig mijn e-mailadres" in html and "Democlaim: een actie van SOMI." in html
    assert files == [("mandaat.pdf", "application/pdf", PDF)]
    job = stored_job(app, job_id)
    assert (job.status, job.attempts, job.kind, job.campaign) == (JobStatus.DONE, 1, "mail", "democlaim")
    assert ADDRESS not in job.payload  # a sent mail leaves no address behind in the jobs table


def test_mail_is_in_the_visitors_language_and_escapes_what_they_typed(
    mail_app: Callable[..., Flask], smtp_server: SMTPServer
) -> None:
    app = mail_app(mail_url=smtp_server.url, mail_from="noreply@mail.somi.nl")
    queue_verification(app, language="en", name="<b>Jan</b> & co", minutes_valid=1)
    Worker(app).run_once()
    [received] = smtp_server.wait_for(1)
    message = received.message
    assert message["Subject"] == "482913 is your verification code for the ‘Demo claim’ campaign"
    assert parseaddr(message["From"]) == ("Demo claim", "noreply@mail.somi.nl")
    assert parseaddr(message["Reply-To"]) == ("SOMI", "campaign@somi.nl")  # replies reach the organisation
    assert received.mail_from == "noreply@mail.somi.nl"
    text, html, _ = parts(message)
    assert "Hello <b>Jan</b> & co," in text and "valid for 1 minute." in text
    assert "Hello &lt;b&gt;Jan&lt;/b&gt; &amp; co," in html and "<b>Jan</b>" not in html


def test_confirmation_mail_with_next_steps_and_fees(mail_app: Callable[..., Flask]) -> None:
    app = mail_app()
    with app.app_context():
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns["democlaim"]
        context = {
            "name": "Jan",
            "mandate_url": "https://democlaim.example/mandate/tok.pdf",
            "next_steps": "1. We **collect** the claims.\n2. We go to court.",
            "fee_summary": "You paid €5.00.",
        }
        message = compose(
            loaded=loaded,
            language="nl",
            to=ADDRESS,
            template="confirmation",
            context=context,
            attachments=[("machtiging.pdf", "application/pdf", PDF)],
        )
        plain = compose(
            loaded=loaded,
            language="en",
            to=ADDRESS,
            template="confirmation",
            context={**context, "next_steps": "", "fee_summary": ""},
        )
    assert message["Subject"] == "Je doet mee aan de actie ‘Democlaim’"
    text, html, files = parts(message)
    assert "Je doet mee aan de actie ‘Democlaim’: bedankt!" in text and context["mandate_url"] in text
    assert "Je ondertekende volmacht zit als pdf bij deze e-mail." in text
    assert "Wat er nu gebeurt" in text and "We **collect** the claims." in text and "You paid €5.00." in text
    assert "<strong>collect</strong>" in html and "<ol>" in html and "Kosten" in html
    assert files == [("machtiging.pdf", "application/pdf", PDF)]
    assert plain["Subject"] == "You have joined the ‘Demo claim’ campaign"
    text, html, files = parts(plain)
    assert "You have joined the ‘Demo claim’ campaign: thank you!" in text and "What happens next" not in text
    assert "Costs" not in html and files == []


def test_a_campaign_can_override_a_mail_template(
    mail_app: Callable[..., Flask], campaign_folder: CampaignFolder
) -> None:
    override = campaign_folder.path / "democlaim" / "templates" / "mail"
    override.mkdir(parents=True)
    (override / "verification.subject.txt").write_text("Code {{ code }} for {{ campaign.name | t }} ({{ lang }})\n")
    app = mail_app()
    with app.app_context():
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns["democlaim"]
        message = compose(loaded=loaded, language="en", to=ADDRESS, template="verification", context=VERIFICATION)
    assert message["Subject"] == "Code 482913 for Demo claim (en)"
    assert "482913" in parts(message)[0]  # the body still comes from the default theme


def test_without_a_mail_server_mail_goes_to_the_outbox(
    mail_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = mail_app()
    job_id = queue_verification(app)
    assert Worker(app).run_once() == 1
    outbox = Path(app.instance_path) / "outbox"
    [written] = list(outbox.iterdir())
    assert re.fullmatch(rf"\d{{8}}T\d{{12}}Z-{job_id}\.eml", written.name)
    from email import message_from_bytes, policy

    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == ADDRESS and message["Subject"] == "482913 is je verificatiecode voor de actie ‘Democlaim’"
    assert parts(message)[2] == [("mandaat.pdf", "application/pdf", PDF)]  # type: ignore[arg-type]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "482913 is je verificatiecode voor de actie ‘Democlaim’" in lines[0] and written.name in lines[0]
    assert ADDRESS not in lines[0] and "example.org" not in lines[0]
    assert stored_job(app, job_id).status == JobStatus.DONE


def test_server_down_means_retry_with_backoff_then_failed(
    mail_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = mail_app(mail_url=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    job_id = queue_verification(app)
    worker = Worker(app)
    now = utcnow()
    for attempt, wait in enumerate(BACKOFF, start=1):
        assert worker.run_once(now=now) == 1
        job = stored_job(app, job_id)
        assert (job.status, job.attempts) == (JobStatus.PENDING, attempt)
        assert job.run_after == now + wait
        assert job.last_error is not None and job.last_error.startswith("ConnectionRefusedError")
        now = job.run_after
    assert worker.run_once(now=now) == 1
    job = stored_job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 7)
    assert_no_address_logged(caplog)
    listing = app.test_cli_runner().invoke(args=["jobs", "--failed"])
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if line.startswith(str(job_id)))
    assert row.split()[:4] == [str(job_id), "mail", "democlaim", "7"] and "ConnectionRefusedError" in row
    assert ADDRESS not in listing.output


def test_a_recipient_refused_for_now_is_retried_and_listed_masked(
    mail_app: Callable[..., Flask], smtp_server: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    smtp_server.refuse[ADDRESS] = f"450 4.2.0 <{ADDRESS}>: Recipient address rejected: mailbox busy"
    app = mail_app(mail_url=smtp_server.url)
    job_id = queue_verification(app)
    worker = Worker(app)
    now = utcnow()
    for _ in range(len(BACKOFF) + 1):
        worker.run_once(now=now)
        now += dt.timedelta(days=1)
    job = stored_job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 7)
    assert job.last_error is not None and "SMTPRecipientsRefused" in job.last_error
    assert f"<{MASK}>: Recipient address rejected" in job.last_error and ADDRESS not in job.last_error
    assert_no_address_logged(caplog)
    listing = app.test_cli_runner().invoke(args=["jobs", "--failed"]).output
    assert MASK in listing and "Recipient address rejected" in listing and ADDRESS not in listing
    assert smtp_server.messages == []


def test_a_recipient_refused_for_good_fails_at_once(mail_app: Callable[..., Flask], smtp_server: SMTPServer) -> None:
    smtp_server.refuse[ADDRESS] = f"550 5.1.1 <{ADDRESS}>: Recipient address rejected: no such user"
    app = mail_app(mail_url=smtp_server.url)
    job_id = queue_verification(app)
    assert Worker(app).run_once() == 1
    job = stored_job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.last_error == "PermanentJobError: the mail server refused the recipient (550)"


def test_delivery_succeeds_on_retry_once_the_server_is_back(mail_app: Callable[..., Flask]) -> None:
    server = SMTPServer()  # not started yet: the mail server is down
    app = mail_app(mail_url=server.url)
    job_id = queue_verification(app)
    worker = Worker(app)
    now = utcnow()
    assert worker.run_once(now=now) == 1
    job = stored_job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    with server:
        assert worker.run_once(now=now + dt.timedelta(seconds=29)) == 0  # the backoff is respected
        assert server.messages == []
        assert worker.run_once(now=now + BACKOFF[0]) == 1
        [received] = server.wait_for(1)
    assert received.rcpt_tos == [ADDRESS] and "482913" in received.message["Subject"]
    job = stored_job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)


def test_a_mail_queued_in_a_rolled_back_transaction_is_never_sent(
    mail_app: Callable[..., Flask], smtp_server: SMTPServer
) -> None:
    app = mail_app(mail_url=smtp_server.url)
    with app.app_context():
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns["democlaim"]
        message = compose(loaded=loaded, language="nl", to=ADDRESS, template="verification", context=VERIFICATION)
        with app.extensions["claimsite.db"].sessions() as session:
            queue_mail(session, message, campaign="democlaim", kind="verification")
            session.flush()
            session.rollback()
    assert Worker(app).run_once() == 0
    with app.extensions["claimsite.db"].sessions() as session:
        assert session.scalars(select(Job)).all() == []
    assert smtp_server.messages == []


def test_every_string_of_the_plain_text_mails_is_translated() -> None:
    """babel.cfg extracts the .html templates; each .txt mail template must use only strings found there."""
    with (REPO / "translations" / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    found = []
    for path in sorted((REPO / "themes").glob("*/templates/mail/*.txt")):
        for _, message, _, _ in extract_from_file("jinja2", str(path)):
            msgid = message[0] if isinstance(message, tuple) else message
            found.append(msgid)
            entry = catalog.get(msgid)
            assert entry is not None and entry.string and all(entry.string) and not entry.fuzzy, (path.name, msgid)
    assert len(found) >= 10


def worker_process(app: Flask, *args: str) -> subprocess.Popen[bytes]:
    """``flask worker`` in a process of its own, over ``app``'s settings (as production runs it beside gunicorn)."""
    env = {**os.environ, "FLASK_APP": "wsgi", **process_settings(app)}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "worker", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_mail_sent_again_after_the_worker_was_killed_keeps_its_message_id(
    mail_app: Callable[..., Flask], smtp_server: SMTPServer
) -> None:
    """At-least-once delivery: a worker killed after the mail server kept a message, before the job was marked
    done, sends it again. Both copies carry the same Message-ID, so mail clients show one."""
    app = mail_app(mail_url=smtp_server.url)
    with app.app_context():
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns["democlaim"]
        with app.extensions["claimsite.db"].sessions() as session:
            # composed by the worker from the template (as the code mail of every sign-up is)
            job_id = queue_template_mail(
                session,
                loaded=loaded,
                language="nl",
                to=ADDRESS,
                template="verification",
                context=VERIFICATION,
                kind="verification",
            )
            session.commit()
    first = worker_process(app, "--poll", "0.2")
    smtp_server.on_message = lambda received: os.kill(first.pid, signal.SIGKILL)
    try:
        assert first.wait(timeout=60) == -signal.SIGKILL  # killed while it waited for the server's answer
    finally:
        if first.poll() is None:
            first.kill()
    smtp_server.on_message = None
    assert stored_job(app, job_id).status == JobStatus.PENDING  # its transaction died with it: the job runs again
    for _ in range(20):  # PostgreSQL may hold the dead worker's row lock for a moment
        assert worker_process(app, "--once").wait(timeout=60) == 0
        if len(smtp_server.messages) >= 2:
            break
        time.sleep(0.2)
    first_copy, second_copy = (received.message for received in smtp_server.wait_for(2))
    assert first_copy["Subject"] == second_copy["Subject"]  # the same mail
    assert first_copy["Message-ID"] == second_copy["Message-ID"]
    assert re.fullmatch(r"<[^@<>\s]+@somi\.nl>", first_copy["Message-ID"])
    assert stored_job(app, job_id).status == JobStatus.DONE
