"""Staff support on the console (issue 16, item 9): roles set with ``flask staff``, every limit enforced on the
server (a direct request outside the account's access gets 403), mail still being retried shown with its next
attempt, and a sign-up found by its address and mailed a new code or a login link over a real SMTP server. On
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from core.data.db import db_session, utcnow
from core.data.hashing import email_hash
from core.data.models import AuditEntry, Job, Signup, SignupEvent, StaffCampaign, StaffExport, StaffMember, Stage
from core.jobs.queue import Worker, encode_payload
from core.staff import accounts
from core.staff.figures import ZONE, today_local
from core.staff.roles import Access, Permission, Rights, Role
from tests.conftest import HASH_KEY
from tests.test_signup import TIKTOK, code_of, pay_in_test_mode, post_code, post_form, sign_form
from tests.test_staff_console import ADMIN, PASSWORD, add_staff, audit_actions, csrf, log_in, post

TIKTOK_ONLY = ("--role", "staff", "--campaigns", "tiktokclaim")


@pytest.fixture
def staff_app(make_app: Any, migrated_database_url: str) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


@pytest.fixture
def smtp_staff_app(make_app: Any, migrated_database_url: str, smtp_server: Any) -> Iterator[Flask]:
    """A console whose mail goes to the real SMTP server on loopback."""
    app = make_app(database_url=migrated_database_url, admin_host="staff.example", mail_url=smtp_server.url)
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def console(app: Flask, email: str, *access: str) -> FlaskClient:
    """A browser logged in to the console as a new account ``email`` with ``access`` (options of flask staff add)."""
    secret = add_staff(app, email, PASSWORD, *access)
    client = app.test_client()
    assert log_in(client, secret, email=email).status_code == 302
    return client


def run_worker(app: Flask) -> None:
    while Worker(app).run_once():
        pass


def form_sent(app: Flask, smtp_server: Any) -> FlaskClient:
    """A visitor who sent the join form, whose code mail the SMTP server received."""
    visitor = app.test_client()
    assert post_form(visitor, "en").status_code == 302
    run_worker(app)
    assert len(smtp_server.wait_for(1)) == 1
    return visitor


def in_app(app: Flask, work: Any) -> Any:
    with app.app_context():
        return work(db_session())


def add_signup(app: Flask, campaign: str, address: str, **values: Any) -> int:
    """A sign-up row of ``address`` (only its keyed hash is kept), made directly; returns its id."""

    def made(db: Any) -> int:
        signup = Signup(
            token=secrets.token_urlsafe(32),
            campaign=campaign,
            email_hash=email_hash(HASH_KEY, address),
            language="nl",
            stage=values.pop("stage", Stage.STARTED),
            created_at=utcnow(),
            **values,
        )
        db.add(signup)
        db.commit()
        return signup.id

    return int(in_app(app, made))


def find(client: FlaskClient, address: str) -> Any:
    return post(client, "/signups", {"csrf_token": csrf(client, "/signups"), "email": address})


def press(client: FlaskClient, address: str, signup_id: int, action: str) -> Any:
    """A button next to a found sign-up, or the same request made directly."""
    data = {"csrf_token": csrf(client, "/signups"), "email": address, "signup": str(signup_id), "action": action}
    return post(client, "/signups/send", data)


def jobs_of(app: Flask, kind: str) -> int:
    return int(in_app(app, lambda db: db.scalar(select(func.count()).select_from(Job).where(Job.kind == kind))))


# -- who may do what ------------------------------------------------------------------------------------------------
def test_what_each_role_and_right_may_do() -> None:
    admin = Access(Role.ADMIN, Rights.SUPPORT, None)
    viewer = Access(Role.STAFF, Rights.VIEW, frozenset({"tiktokclaim"}))
    helper = Access(Role.STAFF, Rights.SUPPORT, None)
    assert all(admin.may(permission) for permission in Permission)
    assert not any(viewer.may(permission) for permission in Permission)
    assert [permission for permission in Permission if helper.may(permission)] == [Permission.SUPPORT]
    assert viewer.sees("tiktokclaim") and not viewer.sees("zoomclaim") and not viewer.sees(None)
    assert helper.sees("zoomclaim") and helper.sees(None) and admin.sees(None)
    assert viewer.visible(["zoomclaim", "tiktokclaim", "alledata"]) == ["tiktokclaim"]
    assert (admin.describe(), viewer.describe(), helper.describe()) == (
        "admin",
        "staff (view): tiktokclaim",
        "staff (support): all campaigns",
    )


def test_flask_staff_gives_and_changes_roles_and_lists_them(staff_app: Flask) -> None:
    runner = staff_app.test_cli_runner()

    def staff_cli(*args: str) -> Any:
        return runner.invoke(args=["staff", *args], input=f"{PASSWORD}\n{PASSWORD}\n")

    assert staff_cli("add", "mira@somi.nl", "--name", "Mira").exit_code == 2  # a role is a decision: no default
    needs = staff_cli("add", "kim@somi.nl", "--name", "Kim", "--role", "staff")
    assert needs.exit_code == 2 and "needs --campaigns" in needs.output
    typo = staff_cli("add", "kim@somi.nl", "--name", "Kim", "--role", "staff", "--campaigns", "tiktok")
    assert typo.exit_code == 2 and "no campaign is called tiktok" in typo.output and "tiktokclaim" in typo.output
    admin_list = staff_cli("add", "mira@somi.nl", "--name", "Mira", "--role", "admin", "--campaigns", "zoomclaim")
    assert admin_list.exit_code == 2 and "an admin sees every campaign" in admin_list.output
    with staff_app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffMember)) == 0  # nothing half made

    assert staff_cli("add", "mira@somi.nl", "--name", "Mira", "--role", "admin").exit_code == 0
    made = staff_cli("add", "kim@somi.nl", "--name", "Kim", "--role", "staff", "--campaigns", "zoomclaim, tiktokclaim")
    assert made.exit_code == 0 and "staff (view): tiktokclaim, zoomclaim" in made.output
    listing = runner.invoke(args=["staff", "list"]).output
    assert re.search(r"kim@somi.nl\s+Kim\s+staff \(view\): tiktokclaim, zoomclaim\s+never\s+active", listing)
    assert re.search(r"mira@somi.nl\s+Mira\s+admin\s+never\s+active", listing)

    changed = runner.invoke(args=["staff", "access", "kim@somi.nl", "--role", "staff", "--campaigns", "all"])
    assert changed.exit_code == 0, changed.output
    changed = runner.invoke(
        args=["staff", "access", "KIM@somi.nl", "--role", "staff", "--campaigns", "alledata", "--rights", "support"]
    )
    assert changed.exit_code == 0 and "kim@somi.nl: staff (support): alledata" in changed.output
    with staff_app.app_context():
        kim = accounts.find(db_session(), "kim@somi.nl")
        assert kim is not None and (kim.role, kim.rights, kim.all_campaigns) == ("staff", "support", False)
        assert db_session().scalars(select(StaffCampaign.campaign)).all() == ["alledata"]  # the others removed
    assert runner.invoke(args=["staff", "access", "kim@somi.nl", "--role", "admin"]).exit_code == 0
    with staff_app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffCampaign)) == 0
        details = db_session().scalars(select(AuditEntry.detail).where(AuditEntry.action == "staff-access")).all()
    assert details == [
        "account kim@somi.nl: staff (view): all campaigns",
        "account kim@somi.nl: staff (support): alledata",
        "account kim@somi.nl: admin",
    ]


# -- every limit, on the server -------------------------------------------------------------------------------------
def test_a_limited_account_sees_only_its_campaigns_and_direct_requests_elsewhere_get_403(staff_app: Flask) -> None:
    for n in range(3):
        add_signup(staff_app, "zoomclaim", f"zoom{n}@example.org")
    add_signup(staff_app, "tiktokclaim", "tik@example.org")
    add_signup(staff_app, "removedclaim", "gone@example.org")  # a campaign whose file was removed
    admin = console(staff_app, "mira@somi.nl")
    export_token = "an-admins-export"
    with staff_app.app_context():
        mira = accounts.find(db_session(), "mira@somi.nl")
        db_session().add(StaffExport(token=export_token, staff_id=mira.id, campaign="tiktokclaim", kind="evidence"))  # type: ignore[union-attr]
        db_session().commit()
    kim = console(staff_app, "kim@somi.nl", *TIKTOK_ONLY)

    today = today_local().isoformat()
    overview = kim.get("/", base_url=ADMIN).get_data(as_text=True)
    assert re.findall(r'<a href="/campaigns/([a-z]+)">', overview) == ["tiktokclaim"]
    assert "removedclaim" not in overview and "Sign-ups per day, your campaigns" in overview
    assert f'<td>{today}</td><td class="n">1</td>' in overview  # its one sign-up today, not all five
    everything = admin.get("/", base_url=ADMIN).get_data(as_text=True)
    assert "zoomclaim" in everything and "removedclaim" in everything
    assert f'<td>{today}</td><td class="n">5</td>' in everything

    page = kim.get("/campaigns/tiktokclaim", base_url=ADMIN)
    assert page.status_code == 200
    assert "Start the export" not in page.get_data(as_text=True) and 'id="exports"' not in page.get_data(as_text=True)
    assert ">Audit log<" not in page.get_data(as_text=True)

    def status(response: Any) -> int:
        with response:
            return int(response.status_code)

    for path in ("/campaigns/zoomclaim", "/campaigns/nosuchclaim", "/preview/zoomclaim/open/", "/audit"):
        assert status(kim.get(path, base_url=ADMIN)) == 403, path
    assert status(kim.get(f"/exports/{export_token}", base_url=ADMIN)) == 403
    assert status(kim.get(f"/exports/{export_token}/download", base_url=ADMIN)) == 403
    key = staff_app.extensions["claimsite"].settings.development_key_pair()[0].read_bytes()
    for slug in ("tiktokclaim", "zoomclaim"):
        export = kim.post(
            f"/campaigns/{slug}/exports",
            base_url=ADMIN,
            content_type="multipart/form-data",
            headers={"Referer": f"{ADMIN}/"},
            data={"csrf_token": csrf(kim, "/"), "kind": "participants", "private_keys": (io.BytesIO(key), "k.key")},
        )
        assert export.status_code == 403 and "Not for your account" in export.get_data(as_text=True)
    with staff_app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffExport)) == 1  # the admin's only
    assert status(admin.get("/campaigns/zoomclaim", base_url=ADMIN)) == 200
    assert status(admin.get("/audit", base_url=ADMIN)) == 200
    forbidden = [action for actor, action in audit_actions(staff_app) if actor == "kim@somi.nl"]
    assert forbidden.count("forbidden") == 8

    # A change of access applies from the next request on, in both directions.
    runner = staff_app.test_cli_runner()
    assert runner.invoke(args=["staff", "access", "kim@somi.nl", "--role", "admin"]).exit_code == 0
    assert status(kim.get("/campaigns/zoomclaim", base_url=ADMIN)) == 200
    assert (
        runner.invoke(args=["staff", "access", "mira@somi.nl", *TIKTOK_ONLY[:2], "--campaigns", "alledata"]).exit_code
        == 0
    )
    assert status(admin.get("/campaigns/tiktokclaim", base_url=ADMIN)) == 403
    assert status(admin.get(f"/exports/{export_token}", base_url=ADMIN)) == 403  # her own, but no longer an admin


# -- mail still being retried --------------------------------------------------------------------------------------
def test_mail_being_retried_is_shown_with_its_next_attempt_and_no_address(
    make_app: Any, migrated_database_url: str, smtp_server: Any
) -> None:
    smtp_server.refuse["anna@example.org"] = "450 4.2.1 Mailbox busy, try again later"
    app = make_app(database_url=migrated_database_url, admin_host="staff.example", mail_url=smtp_server.url)
    try:
        assert post_form(app.test_client(), "en").status_code == 302
        assert Worker(app).run_once() == 1  # the mail server put it off: it waits for its next attempt
        job = in_app(app, lambda db: db.scalars(select(Job).where(Job.kind == "mail")).one())
        assert (job.status, job.attempts) == ("pending", 1) and job.run_after > utcnow()
        with app.app_context():  # and one that gave up, from before errors were masked
            db_session().add(
                Job(
                    kind="mail",
                    campaign="zoomclaim",
                    payload=encode_payload({"mail": "confirmation", "to": "bob@example.org"}),
                    status="failed",
                    attempts=7,
                    finished_at=utcnow(),
                    last_error="SMTPRecipientsRefused: {'bob@example.org': (550, b'no such user')}",
                )
            )
            db_session().commit()
        admin = console(app, "mira@somi.nl")
        page = admin.get("/mail", base_url=ADMIN).get_data(as_text=True)
        waiting = page[page.index('id="retrying"') : page.index('id="failed"')]
        next_try = job.run_after.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
        assert f"<td>{job.id}</td><td>mail: verification</td><td>tiktokclaim</td>" in waiting
        assert '<td class="n">1</td>' in waiting and "450" in waiting and "[e-mail address]" in waiting
        assert f"<td>{next_try}</td>" in waiting  # its next attempt
        gave_up = page[page.index('id="failed"') :]
        assert "mail: confirmation" in gave_up and "zoomclaim" in gave_up and "(550" in gave_up
        assert "anna@example.org" not in page and "bob@example.org" not in page
        campaign = admin.get("/campaigns/tiktokclaim", base_url=ADMIN).get_data(as_text=True)
        assert "Mail and jobs waiting for another attempt" in campaign and "1 mail." in campaign
        assert "mail: verification" in campaign

        zoom_only = console(app, "kim@somi.nl", "--role", "staff", "--campaigns", "zoomclaim")
        theirs = zoom_only.get("/mail", base_url=ADMIN).get_data(as_text=True)
        assert "None: no mail is waiting for a retry." in theirs and "mail: confirmation" in theirs
        assert "tiktokclaim" not in theirs
    finally:
        app.extensions["claimsite.db"].engine.dispose()


# -- finding a sign-up by address, and mailing it -------------------------------------------------------------------
def test_found_by_address_a_sign_up_gets_a_new_code_that_arrives_and_works(
    smtp_staff_app: Flask, smtp_server: Any
) -> None:
    app = smtp_staff_app
    visitor = form_sent(app, smtp_server)  # say the first code never reached the visitor's eyes
    helper = console(app, "kim@somi.nl", *TIKTOK_ONLY, "--rights", "support")

    found = find(helper, "  Anna@Example.org ")  # as typed: matched in its normalised form, through the hash
    page = found.get_data(as_text=True)
    [signup] = in_app(app, lambda db: db.scalars(select(Signup)).all())
    assert found.status_code == 200 and signup.token[:12] in page
    assert "waiting for the code" in page and "Send a new verification code" in page
    assert "Send a login link" not in page  # not signed: a login link would show nothing to do

    too_soon = press(helper, "anna@example.org", signup.id, "code")
    assert too_soon.status_code == 429 and "less than a minute ago" in too_soon.get_data(as_text=True)
    with app.app_context():  # a minute went by
        db_session().execute(update(Signup).values(code_sent_at=utcnow() - dt.timedelta(minutes=2)))
        db_session().commit()
    sent = press(helper, "anna@example.org", signup.id, "code")
    assert sent.status_code == 200 and "A new verification code is on its way" in sent.get_data(as_text=True)
    run_worker(app)
    received = smtp_server.wait_for(2)
    assert len(received) == 2 and received[1].rcpt_tos == ["anna@example.org"]
    new_code = code_of(received[1].message)
    assert new_code != code_of(received[0].message)
    assert post_code(visitor, new_code, "en").status_code == 302  # the new code verifies the address

    events = in_app(app, lambda db: db.scalars(select(SignupEvent).order_by(SignupEvent.id)).all())
    assert [e.detail for e in events if e.step == "code-sent"] == [None, "asked by staff"]
    entries = in_app(app, lambda db: db.scalars(select(AuditEntry).where(AuditEntry.actor == "kim@somi.nl")).all())
    actions = [(entry.action, entry.detail) for entry in entries]
    assert ("signup-code", f"sign-up {signup.token[:12]}: sent") in actions
    assert ("signup-code", f"sign-up {signup.token[:12]}: wait") in actions
    assert ("signup-find", "1 sign-up(s) found by address") in actions
    assert not any("anna" in f"{entry.detail}".lower() for entry in entries)  # never the address

    verified = press(helper, "anna@example.org", signup.id, "code")  # verified now: no code can help
    assert verified.status_code == 409 and jobs_of(app, "signup-new-code") == 1


def test_a_participant_found_by_address_gets_a_login_link_not_the_mandate(
    smtp_staff_app: Flask, smtp_server: Any
) -> None:
    app = smtp_staff_app
    visitor = form_sent(app, smtp_server)
    assert post_code(visitor, code_of(smtp_server.messages[0].message), "en").status_code == 302
    signed = visitor.post("/en/join/sign", data=sign_form(visitor, "en"), base_url=TIKTOK)
    pay_in_test_mode(visitor, signed.location)
    run_worker(app)  # the mandate and the confirmation
    before = len(smtp_server.wait_for(2))
    helper = console(app, "kim@somi.nl", *TIKTOK_ONLY, "--rights", "support")

    page = find(helper, "anna@example.org").get_data(as_text=True)
    assert "participant" in page and "Send a login link to the participant's page" in page
    assert "Send a new verification code" not in page
    [signup] = in_app(app, lambda db: db.scalars(select(Signup)).all())
    assert press(helper, "anna@example.org", signup.id, "login-link").status_code == 200
    run_worker(app)
    received = smtp_server.wait_for(before + 1)
    assert len(received) == before + 1
    mail = received[-1]
    assert mail.rcpt_tos == ["anna@example.org"] and not list(mail.message.iter_attachments())
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://tiktokclaim\.org(/en/my/login/\S+)", text).group(1)  # type: ignore[union-attr]
    assert visitor.get(link, base_url=TIKTOK).status_code == 200  # the link opens the participant's page
    assert press(helper, "anna@example.org", signup.id, "code").status_code == 409  # signed: no code


def test_search_and_sending_keep_to_the_accounts_campaigns_and_rights(staff_app: Flask) -> None:
    tiktok = add_signup(staff_app, "tiktokclaim", "anna@example.org")
    zoom = add_signup(staff_app, "zoomclaim", "anna@example.org", stage=Stage.SIGNED, signed_at=utcnow())
    add_signup(staff_app, "tiktokclaim", "bob@example.org")
    admin = console(staff_app, "mira@somi.nl")
    helper = console(staff_app, "kim@somi.nl", *TIKTOK_ONLY, "--rights", "support")
    viewer = console(staff_app, "noor@somi.nl", "--role", "staff", "--campaigns", "all")

    everything = find(admin, "anna@example.org").get_data(as_text=True)
    assert everything.count("<code>") == 2
    mine = find(helper, "anna@example.org").get_data(as_text=True)
    assert mine.count("<code>") == 1 and "zoomclaim" not in mine and "Zoom" not in mine
    assert "No sign-up of your campaigns has this address." in find(helper, "carl@example.org").get_data(as_text=True)
    looked = find(viewer, "anna@example.org").get_data(as_text=True)
    assert looked.count("<code>") == 2 and "Send a" not in looked and "may look, not send" in looked

    assert press(helper, "anna@example.org", zoom, "login-link").status_code == 403  # not one of its campaigns
    assert press(viewer, "anna@example.org", tiktok, "code").status_code == 403  # view rights only
    assert press(helper, "bob@example.org", tiktok, "code").status_code == 404  # not this address's sign-up
    assert press(helper, "anna@example.org", 10**9, "code").status_code == 404
    assert press(helper, "anna@example.org", tiktok, "mandate").status_code == 400  # no such mail
    assert jobs_of(staff_app, "signup-new-code") == jobs_of(staff_app, "participant-login") == 0
    unsent = post(helper, "/signups/send", {"email": "anna@example.org", "signup": str(tiktok), "action": "code"})
    assert unsent.status_code == 400  # no CSRF token
    assert jobs_of(staff_app, "signup-new-code") == 0
    assert press(helper, "anna@example.org", tiktok, "code").status_code == 200
    assert jobs_of(staff_app, "signup-new-code") == 1


def test_login_links_from_the_console_count_against_the_address_like_the_visitors_own(staff_app: Flask) -> None:
    signup = add_signup(staff_app, "tiktokclaim", "anna@example.org", stage=Stage.SIGNED, signed_at=utcnow())
    helper = console(staff_app, "kim@somi.nl", *TIKTOK_ONLY, "--rights", "support")
    statuses = [press(helper, "anna@example.org", signup, "login-link").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]  # login-mail-address-network: 5 a day from one network
    assert jobs_of(staff_app, "participant-login") == 5
    details = in_app(
        staff_app,
        lambda db: db.scalars(select(AuditEntry.detail).where(AuditEntry.action == "signup-login-link")).all(),
    )
    assert [detail.rsplit(": ", 1)[1] for detail in details] == ["sent"] * 5 + ["limited"]
