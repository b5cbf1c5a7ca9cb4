"""The staff console in a real browser: log in with password and authenticator code on the admin host
(``staff.localhost`` in development), open the dashboard and a campaign's page, and save a screenshot of the chart
of sign-ups per day. The Content Security Policy must refuse nothing (the chart is SVG drawn on the server)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from core.data.db import db_session
from core.data.models import AuditEntry, Signup, StaffExport, Stage
from core.staff import accounts
from core.staff.figures import local_midnight, today_local
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import run_worker
from tests.test_signup import join_fully

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

CAMPAIGN = "palantirclaim"
PASSWORD = "a long staff password 42"


def seed_sign_ups(live_server: LiveServer) -> dict[dt.date, int]:
    """Sign-ups spread over the last 40 days (rows of their own: the chart counts rows, whatever their data)."""
    today = today_local()
    per_day = {today - dt.timedelta(days=n): (n * 7) % 11 + 1 for n in range(1, 41)}
    with live_server.app.app_context():
        db = db_session()
        for day, count in per_day.items():
            for k in range(count):
                at = local_midnight(day) + dt.timedelta(hours=9, minutes=k)
                signed = k % 2 == 0
                db.add(
                    Signup(
                        token=secrets.token_urlsafe(32),
                        campaign=CAMPAIGN,
                        email_hash=secrets.token_hex(32),
                        language="nl",
                        created_at=at,
                        verified_at=at if signed else None,
                        stage=Stage.SIGNED if signed else Stage.STARTED,
                        signed_at=at if signed else None,
                    )
                )
        db.commit()
    return per_day


def add_account(live_server: LiveServer, email: str, name: str, *access: str) -> str:
    """An account made with ``flask staff add`` (``access``: its --role and other options); its authenticator key."""
    added = live_server.app.test_cli_runner().invoke(
        args=["staff", "add", email, "--name", name, *access], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output
    return re.search(r"key:\s+([A-Z2-7]+)", added.output).group(1)  # type: ignore[union-attr]


def log_in(page: Page, url: str, email: str, secret: str) -> None:
    """Open ``url`` on the console, which asks to log in first, and log in there as ``email``."""
    page.goto(url)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(accounts.current_code(secret))
    page.get_by_role("button", name="Log in").click()


def test_staff_log_in_and_see_the_chart(phone: PhonePage, live_server: LiveServer, save_screenshot) -> None:
    secret = add_account(live_server, "browser@somi.nl", "Bea Browser", "--role", "admin")
    per_day = seed_sign_ups(live_server)
    console = f"http://staff.localhost:{live_server.port}"

    page = phone.page
    page.goto(f"{console}/campaigns/{CAMPAIGN}")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # sent to the login page first
    page.get_by_label("E-mail address").fill("browser@somi.nl")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    expect(page.get_by_label("E-mail address")).to_have_value("browser@somi.nl")  # kept; the password is not
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(accounts.current_code(secret))
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Palantir", exact=False)).to_be_visible()  # back where it was asked
    assert page.url == f"{console}/campaigns/{CAMPAIGN}"
    chart = page.locator("svg.chart")
    expect(chart).to_be_visible()
    assert_no_horizontal_overflow(page)
    busiest = max(per_day.values())
    assert chart.locator("rect.started").count() >= len(per_day)
    yesterday = today_local() - dt.timedelta(days=1)
    expect(page.get_by_role("img", name=re.compile("Sign-ups per day"))).to_be_visible()
    row = page.locator("table.days tr", has_text=yesterday.isoformat())
    assert row.locator("td").nth(1).text_content() == str(per_day[yesterday])
    assert int(chart.locator("text.axis").nth(2).text_content() or 0) >= busiest  # the axis reaches the top
    save_screenshot(page, "staff-dashboard-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    save_screenshot(page, "staff-dashboard")
    chart_shot = save_screenshot(page, "staff-dashboard-chart", element=chart)
    assert chart_shot.stat().st_size > 2000  # a picture with bars, not an empty box

    page.get_by_role("link", name="Campaigns").first.click()
    expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("table.audit")).to_contain_text("login")
    expect(page.locator("table.audit")).to_contain_text(f"GET /campaigns/{CAMPAIGN}")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(f"{console}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_staff_export_the_participants_with_the_key_file(
    phone: PhonePage, live_server: LiveServer, save_screenshot
) -> None:
    join_fully(live_server.app, live_server.app.test_client(), "en", email="exported@example.org", name="Erik Export")
    run_worker(live_server)  # the mandate and the confirmation
    secret = add_account(live_server, "exporter@somi.nl", "Evi Exporter", "--role", "admin")
    private_key = live_server.app.extensions["claimsite"].settings.development_key_pair()[0]
    console = f"http://staff.localhost:{live_server.port}"

    page = phone.page
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, f"{console}/campaigns/tiktokclaim", "exporter@somi.nl", secret)

    page.get_by_label("Participants (CSV)").check()
    page.locator("#exports").get_by_label("The foundation's private key file", exact=False).set_input_files(
        str(private_key)
    )
    page.get_by_role("button", name="Start the export").click()
    expect(page.get_by_role("heading", name="Participants (CSV): tiktokclaim")).to_be_visible()
    expect(page.get_by_text("Done:", exact=False)).to_be_visible(timeout=30_000)  # the page refreshes itself
    save_screenshot(page, "staff-export-done")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("tiktokclaim-participants-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert ("Erik Export", "exported@example.org") in [(row["name"], row["email"]) for row in rows]


def test_a_staff_member_limited_to_one_campaign_sees_only_it_and_cannot_export(
    phone: PhonePage, live_server: LiveServer, save_screenshot
) -> None:
    """Issue 16, item 9: the console shows a limited account its one campaign and no export, and the requests a
    hidden button would have made, made directly from the same logged-in browser, get 403."""
    secret = add_account(live_server, "limited@somi.nl", "Lia Limited", "--role", "staff", "--campaigns", CAMPAIGN)
    console = f"http://staff.localhost:{live_server.port}"
    served = sorted(live_server.app.extensions["claimsite"].registry.snapshot.campaigns)
    assert CAMPAIGN in served and len(served) > 1
    with live_server.app.app_context():
        exports_before = db_session().scalar(select(func.count()).select_from(StaffExport))

    page = phone.page
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, f"{console}/", "limited@somi.nl", secret)

    expect(page.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    campaign_links = page.locator("table.figures tbody th a")
    expect(campaign_links).to_have_count(1)  # its one campaign, of all those served
    assert campaign_links.first.get_attribute("href") == f"/campaigns/{CAMPAIGN}"
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    expect(page.get_by_text(f"staff (view): {CAMPAIGN}")).to_be_visible()
    save_screenshot(page, "staff-limited-overview")
    campaign_links.first.click()
    expect(page.get_by_role("heading", name="Palantir", exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name="Mail and jobs waiting for another attempt")).to_be_visible()
    expect(page.get_by_role("button", name="Start the export")).to_have_count(0)
    expect(page.get_by_role("heading", name="Exports")).to_have_count(0)
    save_screenshot(page, "staff-limited-campaign")

    # The same requests, made directly by this browser with its session (as a script or a tool would make them,
    # with no button to press): refused on the server.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    key = live_server.app.extensions["claimsite"].settings.development_key_pair()[0]
    status, body = page.evaluate(
        """async ([url, token, key]) => {
            const form = new FormData();
            form.append("csrf_token", token);
            form.append("kind", "participants");
            form.append("private_keys", new File([key], "private.key", {type: "text/plain"}));
            const response = await fetch(url, {method: "POST", body: form});
            return [response.status, await response.text()];
        }""",
        [f"/campaigns/{CAMPAIGN}/exports", token, key.read_text()],
    )
    assert status == 403 and "Not for your account" in body
    other = next(slug for slug in served if slug != CAMPAIGN)
    for path in (f"/campaigns/{other}", "/audit", f"/preview/{other}/open/"):
        assert page.evaluate("async (url) => (await fetch(url)).status", path) == 403, path
    opened = page.goto(f"{console}/campaigns/{other}")
    assert opened is not None and opened.status == 403
    expect(page.get_by_role("heading", name="Not for your account")).to_be_visible()
    page.get_by_role("link", name="Find a sign-up").click()
    page.get_by_label("E-mail address").fill("nobody@example.org")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("No sign-up of your campaigns has this address.")).to_be_visible()
    save_screenshot(page, "staff-limited-find")
    with live_server.app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffExport)) == exports_before  # none started
        forbidden = (
            db_session()
            .scalars(
                select(AuditEntry.detail).where(AuditEntry.actor == "limited@somi.nl", AuditEntry.action == "forbidden")
            )
            .all()
        )
    assert f"POST /campaigns/{CAMPAIGN}/exports" in forbidden and f"GET /campaigns/{other}" in forbidden
