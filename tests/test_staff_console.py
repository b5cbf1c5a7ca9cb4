"""The staff console: accounts made on the command line, login with password and authenticator code, lockout,
sessions that end, the audit log, the admin host kept apart from campaign hosts, the dashboard's figures checked
against what happened, and campaign previews. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from core.data.db import db_session, utcnow
from core.data.models import AuditEntry, Job, Signup, StaffExport, StaffMember, StaffSession, participant
from core.exports.evidence import verify_package
from core.jobs.queue import encode_payload
from core.sealing import generate
from core.staff import accounts
from core.staff.chart import nice_ceiling, sign_ups_per_day
from core.staff.figures import Day, per_day, today_local
from tests.conftest import campaign_data
from tests.test_signup import TIKTOK, deliver, join_fully, post_form

ADMIN = "https://staff.example"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff_app(make_app: Any, migrated_database_url: str) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def add_staff(app: Flask, email: str = "mira@somi.nl", password: str = PASSWORD, *access: str) -> str:
    """Make an account with ``flask staff add`` (an admin unless ``access`` gives other options); returns its
    authenticator key as the command printed it."""
    result = app.test_cli_runner().invoke(
        args=["staff", "add", email, "--name", "Mira Staff", *(access or ("--role", "admin"))],
        input=f"{password}\n{password}\n",
    )
    assert result.exit_code == 0, result.output
    return re.search(r"key:\s+([A-Z2-7]+)", result.output).group(1)  # type: ignore[union-attr]


def csrf(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path, base_url=ADMIN).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def log_in(
    client: FlaskClient,
    secret: str | None,
    email: str = "mira@somi.nl",
    password: str = PASSWORD,
    code: str | None = None,
    at: float | None = None,
) -> Any:
    if code is None:
        code = accounts.current_code(secret, at) if secret else ""
    return post(client, "/login", {"csrf_token": csrf(client), "email": email, "password": password, "code": code})


def post(client: FlaskClient, path: str, data: dict[str, str]) -> Any:
    """A form post as a browser sends it on HTTPS: with the page it came from (Flask-WTF checks the referrer)."""
    return client.post(path, base_url=ADMIN, data=data, headers={"Referer": f"{ADMIN}/"})


def audit_actions(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(e.actor, e.action) for e in db_session().scalars(select(AuditEntry).order_by(AuditEntry.id))]


def next_code_period(app: Flask) -> None:
    """As if 30 seconds went by: the code last used is the previous period's (a code works only once)."""
    with app.app_context():
        db_session().execute(update(StaffMember).values(totp_last_step=StaffMember.totp_last_step - 2))
        db_session().commit()


def logged_in_client(app: Flask) -> FlaskClient:
    secret = add_staff(app)
    client = app.test_client()
    assert log_in(client, secret).status_code == 302
    return client


# -- accounts and login ------------------------------------------------------------------------------------------
def test_staff_add_makes_an_account_with_a_hashed_password_and_a_locked_authenticator_key(staff_app: Flask) -> None:
    secret = add_staff(staff_app)
    with staff_app.app_context():
        staff = db_session().scalars(select(StaffMember)).one()
        assert staff.password_hash.startswith("$argon2id$") and PASSWORD not in staff.password_hash
        assert secret not in staff.totp_secret and staff.totp_secret.startswith("CSW1:")
    assert ("cli:" in audit_actions(staff_app)[0][0]) and audit_actions(staff_app)[0][1] == "staff-add"
    runner = staff_app.test_cli_runner()
    again = runner.invoke(
        args=["staff", "add", "MIRA@somi.nl", "--name", "X", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert again.exit_code == 1 and "already an account" in again.output
    short = runner.invoke(
        args=["staff", "add", "kim@somi.nl", "--name", "Kim", "--role", "admin"], input="short\nshort\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    listing = runner.invoke(args=["staff", "list"]).output
    assert "mira@somi.nl" in listing and "never" in listing and "kim@somi.nl" not in listing


def test_login_needs_the_password_and_a_current_code(staff_app: Flask) -> None:
    secret = add_staff(staff_app)
    client = staff_app.test_client()
    assert client.get("/", base_url=ADMIN).location.startswith("/login")

    without_code = log_in(client, None)
    assert without_code.status_code == 400
    page = without_code.get_data(as_text=True)
    assert "Give the 6-digit code" in page and 'value="mira@somi.nl"' in page and PASSWORD not in page
    assert log_in(client, secret, code="000000").status_code == 401
    assert log_in(client, secret, password="wrong password!").status_code == 401
    assert client.get("/", base_url=ADMIN).status_code == 302  # still not logged in

    response = log_in(client, secret)
    assert response.status_code == 302 and response.location == "/"
    overview = client.get("/", base_url=ADMIN)
    assert overview.status_code == 200 and "Mira Staff" in overview.get_data(as_text=True)
    assert overview.headers["Cache-Control"] == "private, no-store"
    cookie = client.get_cookie("__Host-claimsite_staff", domain="staff.example")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict" and cookie.secure
    actions = audit_actions(staff_app)
    assert actions.count(("mira@somi.nl", "login-failed")) == 2 and ("mira@somi.nl", "login") in actions
    assert actions[-1] == ("mira@somi.nl", "view")


def test_a_code_works_once(staff_app: Flask) -> None:
    secret = add_staff(staff_app)
    code = accounts.current_code(secret)
    assert log_in(staff_app.test_client(), secret, code=code).status_code == 302
    assert log_in(staff_app.test_client(), secret, code=code).status_code == 401  # seen it: a replay


def test_unknown_address_gets_the_same_answer_as_a_wrong_password(staff_app: Flask) -> None:
    add_staff(staff_app)
    client = staff_app.test_client()
    unknown = log_in(client, None, email="nobody@somi.nl", code="123456")
    wrong = log_in(client, None, password="wrong password!", code="123456")
    assert unknown.status_code == wrong.status_code == 401
    message = "The e-mail address, the password or the code is wrong"
    assert message in unknown.get_data(as_text=True) and message in wrong.get_data(as_text=True)
    assert ("unknown:nobody@somi.nl", "login-failed") in audit_actions(staff_app)


def test_five_wrong_codes_after_the_right_password_lock_the_account_until_later_or_an_unlock(staff_app: Flask) -> None:
    secret = add_staff(staff_app)
    client = client_at(staff_app, "198.51.100.7")
    for _ in range(5):
        assert log_in(client, secret, code="000000").status_code == 401
    refused = log_in(client_at(staff_app, "203.0.113.9"), secret)  # the right code, from anywhere: still locked
    assert refused.status_code == 401
    assert "The e-mail address, the password or the code is wrong" in refused.get_data(as_text=True)
    assert audit_actions(staff_app).count(("mira@somi.nl", "login-failed")) == 5
    assert audit_actions(staff_app).count(("mira@somi.nl", "login-locked")) == 1
    with staff_app.app_context():
        db_session().execute(update(StaffMember).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
        db_session().commit()
    assert log_in(client_at(staff_app, "203.0.113.9"), secret).status_code == 302  # the lock is over
    next_code_period(staff_app)

    other = client_at(staff_app, "198.51.100.8")
    for _ in range(5):
        log_in(other, secret, code="000000")
    assert log_in(client_at(staff_app, "203.0.113.10"), secret).status_code == 401
    result = staff_app.test_cli_runner().invoke(args=["staff", "unlock", "mira@somi.nl"])
    assert result.exit_code == 0
    assert log_in(client_at(staff_app, "203.0.113.10"), secret).status_code == 302


def test_sessions_end_when_idle_at_their_end_at_logout_and_when_disabled(staff_app: Flask) -> None:
    secret = add_staff(staff_app)

    def fresh_client() -> FlaskClient:
        client = staff_app.test_client()
        assert log_in(client, secret).status_code == 302
        next_code_period(staff_app)
        assert client.get("/", base_url=ADMIN).status_code == 200
        return client

    def age_sessions(**values: Any) -> None:
        with staff_app.app_context():
            db_session().execute(update(StaffSession).values(**values))
            db_session().commit()

    idle = fresh_client()
    age_sessions(last_seen_at=utcnow() - dt.timedelta(minutes=31))
    assert idle.get("/", base_url=ADMIN).location.startswith("/login")

    ended = fresh_client()
    age_sessions(ends_at=utcnow() - dt.timedelta(seconds=1))
    assert ended.get("/", base_url=ADMIN).location.startswith("/login")

    leaving = fresh_client()
    stolen_cookie = leaving.get_cookie("__Host-claimsite_staff", domain="staff.example").value  # type: ignore[union-attr]
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', leaving.get("/", base_url=ADMIN).get_data(as_text=True)
    ).group(1)  # type: ignore[union-attr]
    assert post(leaving, "/logout", {"csrf_token": token}).location == "/login"
    replay = staff_app.test_client()
    replay.set_cookie("__Host-claimsite_staff", stolen_cookie, domain="staff.example")
    assert replay.get("/", base_url=ADMIN).status_code == 302  # the session is gone on the server too

    disabled = fresh_client()
    assert staff_app.test_cli_runner().invoke(args=["staff", "disable", "mira@somi.nl"]).exit_code == 0
    assert disabled.get("/", base_url=ADMIN).status_code == 302
    assert log_in(staff_app.test_client(), secret).status_code == 401
    actions = [action for _actor, action in audit_actions(staff_app)]
    assert "logout" in actions and "staff-disable" in actions and "login-disabled" in actions


def test_login_is_rate_limited_per_ip(staff_app: Flask) -> None:
    client = staff_app.test_client()
    statuses = [log_in(client, None, email=f"x{n}@somi.nl", code="1").status_code for n in range(31)]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429


@pytest.mark.databases("sqlite")
def test_after_login_only_a_path_on_the_admin_host_is_followed(staff_app: Flask) -> None:
    from core.staff.views import _safe_next

    secret = add_staff(staff_app)
    client = staff_app.test_client()
    token = csrf(client)
    response = post(
        client,
        "/login?next=//evil.example/x",
        {"csrf_token": token, "email": "mira@somi.nl", "password": PASSWORD, "code": accounts.current_code(secret)},
    )
    assert response.location == "/"
    staff_console = staff_app.extensions["claimsite"].tenancy.staff_app
    with staff_console.test_request_context("/login", base_url=ADMIN):
        assert _safe_next("/\\evil.example/x") == _safe_next("https://evil.example/") == "/"
        assert _safe_next("/campaigns/tiktokclaim?x=1") == "/campaigns/tiktokclaim?x=1"
    assert client.get("/audit", base_url=ADMIN).location is None


# -- the admin host ----------------------------------------------------------------------------------------------
@pytest.mark.databases("sqlite")
def test_staff_pages_exist_only_on_the_admin_host(staff_app: Flask) -> None:
    client = logged_in_client(staff_app)

    def status(path: str, base_url: str) -> int:
        with client.get(path, base_url=base_url) as response:
            return response.status_code

    for path in ("/login", "/audit", "/campaigns/tiktokclaim", "/preview/tiktokclaim/open/", "/static/staff.css"):
        assert status(path, TIKTOK) == 404, path
        assert status(path, "https://unknown.example") == 404, path
        assert status(path, ADMIN) == (302 if path == "/login" else 200), path
    assert client.get("/join", base_url=ADMIN).status_code == 404  # and no campaign page on the admin host
    assert client.get("/", base_url=TIKTOK).status_code == 200


def test_without_an_admin_host_there_is_no_console(make_app: Any) -> None:
    app = make_app()
    assert app.test_client().get("/login", base_url=ADMIN).status_code == 404


def test_a_campaign_that_names_the_admin_host_is_left_out(make_app: Any, campaign_folder: Any) -> None:
    campaign_folder.write("democlaim", campaign_data(hosts=["democlaim.example", "staff.example"]))
    campaign_folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
    app = make_app(campaigns_dir=campaign_folder.path, admin_host="Staff.Example")
    snapshot = app.extensions["claimsite"].registry.snapshot
    assert list(snapshot.campaigns) == ["other"]
    (problem,) = snapshot.errors
    assert problem.file.endswith("democlaim.yaml") and problem.field == "hosts[1]"
    assert "staff console's address" in problem.message
    client = app.test_client()
    assert client.get("/", base_url="https://other.example").status_code == 200
    assert client.get("/", base_url="https://democlaim.example").status_code == 404
    assert client.get("/login", base_url="https://staff.example").status_code == 200  # the console is there


# -- the dashboard -----------------------------------------------------------------------------------------------
def test_the_dashboard_counts_what_happened(staff_app: Flask) -> None:
    public = staff_app.test_client()
    join_fully(staff_app, public, "en")  # TikTok asks a payment first: paid in the test checkout
    assert post_form(staff_app.test_client(), "en", email="bob@example.org").status_code == 302  # started only
    with staff_app.app_context():
        db = db_session()
        anna = db.scalars(select(Signup).where(Signup.stage == "signed")).one()
        db.add(
            Job(
                kind="confirmation",
                campaign="tiktokclaim",
                payload=encode_payload({"signup": anna.token}),
                status="failed",
                attempts=5,
                finished_at=utcnow(),
                last_error="SMTPRecipientsRefused: 550",
            )
        )
        db.commit()
        reference = anna.token[:12]
    client = logged_in_client(staff_app)

    overview = client.get("/", base_url=ADMIN).get_data(as_text=True)
    row = re.search(r'<tr>\s*<th scope="row"><a href="/campaigns/tiktokclaim">.*?</tr>', overview, re.S).group(0)
    assert [int(n) for n in re.findall(r'<td class="n[^"]*">(\d+)', row)] == [2, 1, 1, 1, 1, 0, 2]
    assert "<svg" in overview and 'class="started"' in overview

    page = client.get("/campaigns/tiktokclaim", base_url=ADMIN).get_data(as_text=True)
    assert re.search(r'<span class="n">2</span> started', page) and re.search(r'<span class="n">1</span> paid', page)
    assert re.search(r'<span class="n">1</span> participants', page)
    assert "SMTPRecipientsRefused: 550" in page and reference in page and "1 confirmation" in page
    assert re.search(r"<td>paid</td><td class=\"n\">1</td><td class=\"n\">€ 17.50</td>", page)
    baseline = (
        staff_app.extensions["claimsite"].registry.snapshot.campaigns["tiktokclaim"].settings_for("counter").baseline
    )
    assert f"The site shows <strong>{baseline + 1}</strong>" in page and f"{baseline} from before" in page
    assert "anna@example.org" not in page and "Anna" not in page
    today = today_local().isoformat()  # the day table: both started today, one signed
    assert f'<td>{today}</td><td class="n">2</td><td class="n">1</td>' in page
    entry = audit_actions(staff_app)[-1]
    assert entry == ("mira@somi.nl", "view")
    with staff_app.app_context():
        last = db_session().scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and last.campaign == "tiktokclaim" and last.detail == "GET /campaigns/tiktokclaim"


def test_days_are_amsterdam_days(staff_app: Flask) -> None:
    now = dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC)
    times = [
        dt.datetime(2026, 7, 14, 21, 59, tzinfo=dt.UTC),  # 23:59 in Amsterdam (summer time): the 14th
        dt.datetime(2026, 7, 14, 22, 1, tzinfo=dt.UTC),  # 00:01 on the 15th
        dt.datetime(2026, 7, 15, 11, 0, tzinfo=dt.UTC),
    ]
    with staff_app.app_context():
        db = db_session()
        for n, at in enumerate(times):
            db.add(
                Signup(
                    token=f"t{n}",
                    campaign="zoomclaim",
                    email_hash=f"h{n}",
                    language="nl",
                    created_at=at,
                    signed_at=at if n == 2 else None,
                )
            )
        db.commit()
        days = per_day(db, "zoomclaim", 3, now=now)
        assert days == [
            Day(dt.date(2026, 7, 13), 0, 0),
            Day(dt.date(2026, 7, 14), 1, 0),
            Day(dt.date(2026, 7, 15), 2, 1),
        ]
        assert per_day(db, "tiktokclaim", 3, now=now)[-1] == Day(dt.date(2026, 7, 15), 0, 0)


def test_the_chart_scales_to_the_busiest_day() -> None:
    assert [nice_ceiling(n) for n in (0, 1, 2, 3, 7, 10, 11, 99, 120, 4500)] == [1, 1, 2, 5, 10, 10, 20, 100, 200, 5000]
    days = [Day(dt.date(2026, 11, d), d, d // 2) for d in range(1, 31)]
    svg = str(sign_ups_per_day(days, "Sign-ups <per> day"))
    assert svg.count('class="started"') == 30 and svg.count('class="signed"') == 29  # day 1 has none signed
    assert "Sign-ups &lt;per&gt; day" in svg and ">50</text>" in svg  # the axis goes to 50 for a top of 30
    heights = [float(h) for h in re.findall(r'class="started"[^>]*height="([\d.]+)"', svg)]
    assert heights == sorted(heights) and heights[-1] > heights[0] * 29


# -- previews ----------------------------------------------------------------------------------------------------
@pytest.mark.databases("sqlite")
def test_a_campaign_is_previewed_in_any_language_and_status(staff_app: Flask) -> None:
    client = logged_in_client(staff_app)
    page = client.get("/campaigns/zoomclaim", base_url=ADMIN).get_data(as_text=True)
    assert 'href="/preview/zoomclaim/open/en/"' in page and 'href="/preview/zoomclaim/closed/"' in page
    public = staff_app.test_client().get("/en/", base_url="https://zoomclaim.org").get_data(as_text=True)
    assert "Join now" not in public and "cta__message" in public  # zoomclaim is closed

    reopened = client.get("/preview/zoomclaim/open/en/", base_url=ADMIN)
    assert reopened.status_code == 200
    html = reopened.get_data(as_text=True)
    assert 'lang="en"' in html and "Join now" in html and "cta__message" not in html
    assert staff_app.extensions["claimsite"].registry.snapshot.campaigns["zoomclaim"].campaign.status == "closed"
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert stylesheet.startswith("/preview/zoomclaim/open/")
    with client.get(stylesheet, base_url=ADMIN) as response:
        assert response.status_code == 200 and response.mimetype == "text/css"
    join = re.search(
        r'href="([^"]*/join)"',
        client.get("/preview/tiktokclaim/pre-registration/en/", base_url=ADMIN).get_data(as_text=True),
    ).group(1)
    assert join == "/preview/tiktokclaim/pre-registration/en/join"  # the preview's links stay in the preview
    form_page = client.get(join, base_url=ADMIN)
    form = form_page.get_data(as_text=True)
    assert 'name="email"' in form and "Registration has not opened yet" in form
    assert "Set-Cookie" not in form_page.headers  # a preview sets no campaign cookie on the admin host
    assert post(client, join, {"csrf_token": csrf(client, "/")}).status_code == 405  # read only

    dutch = client.get("/preview/palantirclaim/closed/", base_url=ADMIN)
    assert dutch.status_code == 200 and 'lang="nl"' in dutch.get_data(as_text=True)
    assert client.get("/preview/zoomclaim/draft/", base_url=ADMIN).status_code == 404
    assert client.get("/preview/nosuch/open/", base_url=ADMIN).status_code == 404
    assert ("mira@somi.nl", "preview") in audit_actions(staff_app)
    assert staff_app.test_client().get("/preview/zoomclaim/open/", base_url=ADMIN).status_code == 302  # staff only
    with staff_app.app_context():
        assert db_session().scalar(select(func.count()).select_from(Signup)) == 0  # nothing was signed up


# -- exports on the console --------------------------------------------------------------------------------------
def development_private_key(app: Flask) -> bytes:
    return app.extensions["claimsite"].settings.development_key_pair()[0].read_bytes()


def start_export(client: FlaskClient, kind: str, key: bytes, slug: str = "tiktokclaim") -> Any:
    return client.post(
        f"/campaigns/{slug}/exports",
        base_url=ADMIN,
        content_type="multipart/form-data",
        headers={"Referer": f"{ADMIN}/"},
        data={
            "csrf_token": csrf(client, f"/campaigns/{slug}"),
            "kind": kind,
            "private_keys": (io.BytesIO(key), "private-key.key"),
        },
    )


def finished(client: FlaskClient, location: str) -> str:
    """The export's page once it is no longer running (the export runs in a thread of the console)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get(location, base_url=ADMIN).get_data(as_text=True)
        if "Exporting:" not in page:
            return page
        time.sleep(0.1)
    raise AssertionError("the export did not finish within a minute")


def test_a_console_export_runs_in_the_background_and_gives_the_participants(staff_app: Flask) -> None:
    join_fully(staff_app, staff_app.test_client(), "en")
    deliver(staff_app)  # the mandate and the confirmation
    join_fully(staff_app, staff_app.test_client(), "en", email="bob@example.org", name="Bob Jansen")
    deliver(staff_app)
    assert post_form(staff_app.test_client(), "en", email="carl@example.org").status_code == 302  # not confirmed
    client = logged_in_client(staff_app)

    response = start_export(client, "participants", development_private_key(staff_app))
    assert response.status_code == 302 and response.location.startswith("/exports/")
    page = finished(client, response.location)
    assert "Done: 2 participant(s)" in page
    digest = re.search(r"SHA-256 of the file: <code>([0-9a-f]{64})</code>", page).group(1)  # type: ignore[union-attr]
    with client.get(f"{response.location}/download", base_url=ADMIN) as download:
        assert download.status_code == 200 and download.mimetype == "text/csv"
        assert "tiktokclaim-participants-" in download.headers["Content-Disposition"]
        data = download.data
    assert hashlib.sha256(data).hexdigest() == digest
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    with staff_app.app_context():
        confirmed = (
            db_session()
            .scalars(select(Signup).where(Signup.campaign == "tiktokclaim", participant()).order_by(Signup.id))
            .all()
        )
        assert [row["reference"] for row in rows] == [signup.token[:12] for signup in confirmed]
        assert [row["mandate_sha256"] for row in rows] == [signup.mandate_sha256 or "" for signup in confirmed]
    assert [(row["name"], row["email"]) for row in rows] == [
        ("Anna de Vries", "anna@example.org"),
        ("Bob Jansen", "bob@example.org"),
    ]
    actions = [action for _actor, action in audit_actions(staff_app)]
    assert "export-start" in actions and "export-download" in actions

    other = staff_app.test_client()
    add_staff(staff_app, "kim@somi.nl")
    kim_secret = re.search(
        r"key:\s+([A-Z2-7]+)",
        staff_app.test_cli_runner().invoke(args=["staff", "new-authenticator", "kim@somi.nl"]).output,
    ).group(1)  # type: ignore[union-attr]
    assert log_in(other, kim_secret, email="kim@somi.nl").status_code == 302
    assert other.get(response.location, base_url=ADMIN).status_code == 404  # only the one who gave the key

    with staff_app.app_context():
        db_session().execute(update(StaffExport).values(finished_at=utcnow() - dt.timedelta(hours=2)))
        db_session().commit()
        [export] = db_session().scalars(select(StaffExport)).all()
        path = Path(staff_app.extensions["claimsite"].settings.instance_dir) / "exports" / str(export.file_name)
    assert path.is_file()
    assert "was deleted from the server" in client.get(response.location, base_url=ADMIN).get_data(as_text=True)
    assert not path.exists()
    with client.get(f"{response.location}/download", base_url=ADMIN) as gone:
        assert gone.status_code == 410


def test_a_console_evidence_package_verifies(staff_app: Flask) -> None:
    join_fully(staff_app, staff_app.test_client(), "en")
    deliver(staff_app)  # the mandate and the confirmation
    client = logged_in_client(staff_app)
    response = start_export(client, "evidence", development_private_key(staff_app))
    page = finished(client, response.location)
    assert "Done: 1 participant(s)" in page, page
    package = Path(staff_app.instance_path) / "downloaded.zip"
    with client.get(f"{response.location}/download", base_url=ADMIN) as download:
        assert download.mimetype == "application/zip"
        package.write_bytes(download.data)
    check = verify_package(package)
    assert check.ok, check.problems
    with zipfile.ZipFile(package) as archive:
        assert any(name.startswith("mandates/") for name in archive.namelist())


def test_a_console_export_refuses_a_wrong_key_and_keeps_nothing(staff_app: Flask, tmp_path: Path) -> None:
    join_fully(staff_app, staff_app.test_client(), "en")
    client = logged_in_client(staff_app)
    _private, _public, other_key = generate(tmp_path / "other")
    wrong = start_export(client, "participants", _private.read_bytes())
    assert wrong.status_code == 400
    assert "seals personal data to" in wrong.get_data(as_text=True)
    garbage = start_export(client, "participants", b"not a key at all")
    assert garbage.status_code == 400 and "is not a private key file" in garbage.get_data(as_text=True)
    with staff_app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffExport)) == 0
    assert other_key.id != staff_app.extensions["claimsite"].sealing_key.id


def test_the_export_page_shows_progress_and_a_stalled_export_as_failed(staff_app: Flask) -> None:
    client = logged_in_client(staff_app)
    with staff_app.app_context():
        staff = db_session().scalars(select(StaffMember)).one()
        db_session().add_all(
            [
                StaffExport(
                    token="running-token",
                    staff_id=staff.id,
                    campaign="tiktokclaim",
                    kind="evidence",
                    total=1000,
                    done=250,
                ),
                StaffExport(
                    token="stalled-token",
                    staff_id=staff.id,
                    campaign="tiktokclaim",
                    kind="evidence",
                    total=1000,
                    done=10,
                    heartbeat_at=utcnow() - dt.timedelta(minutes=6),
                ),
            ]
        )
        db_session().commit()
    running = client.get("/exports/running-token", base_url=ADMIN).get_data(as_text=True)
    assert '<progress max="1000" value="250">' in running and 'http-equiv="refresh"' in running
    assert "250 of 1000" in running
    stalled = client.get("/exports/stalled-token", base_url=ADMIN).get_data(as_text=True)
    assert "The export failed: stopped without finishing" in stalled and "<progress" not in stalled


# -- attempts under concurrency, lockouts an attacker cannot cause, one answer for every refusal ------------------
def client_at(app: Flask, address: str) -> FlaskClient:
    """A browser at IP ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def in_parallel(app: Flask, addresses: list[str], form: dict[str, str]) -> list[int]:
    """Logins posted at the same moment from each of ``addresses`` (each from its own browser); their statuses."""
    clients = [client_at(app, address) for address in addresses]
    tokens = [csrf(client) for client in clients]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def send(client: FlaskClient, token: str) -> None:
        barrier.wait()
        statuses.append(post(client, "/login", {**form, "csrf_token": token}).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_a_code_opens_one_session_even_when_sent_in_parallel(staff_app: Flask) -> None:
    secret = add_staff(staff_app)
    form = {"email": "mira@somi.nl", "password": PASSWORD, "code": accounts.current_code(secret)}
    statuses = in_parallel(staff_app, ["203.0.113.9"] * 4, form)
    assert sorted(statuses) == [302, 401, 401, 401]
    with staff_app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffSession)) == 1


def test_parallel_wrong_codes_lock_the_account_after_exactly_five_checks(staff_app: Flask) -> None:
    """Someone with the password sends 12 wrong codes at once, from 12 networks: each is counted before it is
    compared, so five are compared and the others refused unchecked; the account is then locked (its own staff
    member's code too)."""
    secret = add_staff(staff_app)
    form = {"email": "mira@somi.nl", "password": PASSWORD, "code": "000000"}
    assert in_parallel(staff_app, [f"198.51.100.{n + 1}" for n in range(12)], form) == [401] * 12
    actions = [action for actor, action in audit_actions(staff_app) if actor == "mira@somi.nl"]
    assert actions.count("login-failed") == 5 and actions.count("login-locked") == 7
    assert log_in(client_at(staff_app, "203.0.113.9"), secret).status_code == 401


def test_parallel_wrong_passwords_are_checked_at_most_five_times_per_network(staff_app: Flask) -> None:
    add_staff(staff_app)
    form = {"email": "mira@somi.nl", "password": "a wrong guess!", "code": "000000"}
    assert in_parallel(staff_app, ["198.51.100.7"] * 12, form) == [401] * 12
    actions = [action for actor, action in audit_actions(staff_app) if actor == "mira@somi.nl"]
    assert actions.count("login-failed") == 5 and actions.count("login-blocked") == 7


def test_an_attacker_elsewhere_cannot_lock_a_staff_member_out(staff_app: Flask) -> None:
    """Wrong passwords from one network stop that network's attempts on that account for a while, not the staff
    member's own: only wrong codes after the right password lock the account itself."""
    secret = add_staff(staff_app)
    attacker = client_at(staff_app, "198.51.100.7")
    for _ in range(10):
        assert log_in(attacker, None, password="a wrong guess!", code="000000").status_code == 401
    assert log_in(attacker, secret).status_code == 401  # the right password too, from there, for now
    assert log_in(client_at(staff_app, "203.0.113.9"), secret).status_code == 302


def refusal(response: Any) -> tuple[int, str]:
    """A login answer without what differs per browser or was typed (the CSRF token, the address)."""
    page = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", response.get_data(as_text=True))
    return response.status_code, re.sub(r'name="email"[^>]*>', "", page)


def test_locked_blocked_disabled_unknown_and_wrong_get_one_answer_after_the_same_work(
    staff_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every refusal looks the same (status and page), and each does the same work: one Argon2id check (the
    expensive step), so timing tells nothing either."""
    import nacl.pwhash

    secret = add_staff(staff_app)
    add_staff(staff_app, "kim@somi.nl")
    add_staff(staff_app, "noor@somi.nl")
    assert staff_app.test_cli_runner().invoke(args=["staff", "disable", "noor@somi.nl"]).exit_code == 0
    for _ in range(5):  # the right password with wrong codes: Mira's account is locked
        log_in(client_at(staff_app, "198.51.100.7"), None, code="000000")
    for _ in range(5):  # wrong passwords for Kim from one network: that network is blocked for Kim
        log_in(client_at(staff_app, "198.51.100.8"), None, email="kim@somi.nl", password="a wrong guess!", code="1")

    checks: list[int] = []
    verify = nacl.pwhash.verify

    def counted(*args: Any) -> Any:
        checks.append(1)
        return verify(*args)

    monkeypatch.setattr(nacl.pwhash, "verify", counted)
    answers = {
        "wrong password": log_in(client_at(staff_app, "203.0.113.1"), None, password="a wrong guess!", code="1"),
        "wrong code": log_in(client_at(staff_app, "203.0.113.2"), None, email="kim@somi.nl", code="000000"),
        "unknown": log_in(client_at(staff_app, "203.0.113.3"), None, email="nobody@somi.nl", code="000000"),
        "locked": log_in(client_at(staff_app, "203.0.113.4"), secret),
        "blocked": log_in(client_at(staff_app, "198.51.100.8"), None, email="kim@somi.nl", code="000000"),
        "disabled": log_in(client_at(staff_app, "203.0.113.5"), None, email="noor@somi.nl", code="000000"),
    }
    assert len(checks) == len(answers)
    shapes = {name: refusal(response) for name, response in answers.items()}
    assert all(status == 401 for status, _page in shapes.values())
    assert len(set(shapes.values())) == 1, shapes.keys()
    assert "The e-mail address, the password or the code is wrong" in shapes["locked"][1]


@pytest.mark.databases("sqlite")
def test_a_next_that_is_not_a_plain_path_goes_to_the_dashboard(staff_app: Flask) -> None:
    from core.staff.views import _safe_next

    secret = add_staff(staff_app)
    client = staff_app.test_client()
    response = post(
        client,
        "/login?next=/%0d%0aX:1",
        {
            "csrf_token": csrf(client),
            "email": "mira@somi.nl",
            "password": PASSWORD,
            "code": accounts.current_code(secret),
        },
    )
    assert response.status_code == 302 and response.location == "/"
    staff_console = staff_app.extensions["claimsite"].tenancy.staff_app
    with staff_console.test_request_context("/login", base_url=ADMIN):
        for target in ("/\r\nX:1", "/\tx", "/x y", "/caf\u00e9", "/\x00", "//evil.example", "http:/x", ""):
            assert _safe_next(target) == "/", target
        assert _safe_next("/audit?before=5") == "/audit?before=5"


def test_staff_logins_per_network_count_an_ipv6_64_as_one(staff_app: Flask) -> None:
    statuses = [
        log_in(client_at(staff_app, f"2001:db8:5:6::{n + 1:x}"), None, email=f"x{n}@somi.nl", code="1").status_code
        for n in range(31)
    ]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429


def test_staff_list_shows_a_lock_only_while_it_lasts(staff_app: Flask) -> None:
    add_staff(staff_app)
    runner = staff_app.test_cli_runner()
    for until, shown in (
        (utcnow() + dt.timedelta(minutes=10), "locked until"),
        (utcnow() - dt.timedelta(minutes=1), "active"),
    ):
        with staff_app.app_context():
            db_session().execute(update(StaffMember).values(locked_until=until))
            db_session().commit()
        [row] = [line for line in runner.invoke(args=["staff", "list"]).output.splitlines() if "mira@somi.nl" in line]
        assert shown in row and ("locked" in row) == (shown != "active")
