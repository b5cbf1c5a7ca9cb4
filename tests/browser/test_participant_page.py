"""The participant's page on a phone, in a real browser: ask for a login link, open it from the mail, see the
sign-up, withdraw (the live counter goes down by one), then erase. The Content Security Policy must refuse nothing.

The participant joins beforehand through the test client on the same app and database (the browser part of joining
is tested in test_signup_flow.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser.test_campaign_pages import assert_no_horizontal_overflow, assert_only_own_host
from tests.browser.test_signup_flow import (
    CAMPAIGN,
    landing_counter,
    newest_mail_to,
    participants,
    run_worker,
    text_part,
)
from tests.test_signup import join_fully

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

ADDRESS = "own-page@example.org"


def test_log_in_by_mail_withdraw_and_erase(phone: PhonePage, live_server: LiveServer, save_screenshot) -> None:
    join_fully(live_server.app, live_server.app.test_client(), "en", email=ADDRESS, name="Olga Own")
    run_worker(live_server)  # the mandate and the confirmation
    page = phone.page
    page.goto(live_server.url(CAMPAIGN, "/en/"))
    before = participants(landing_counter(page), "The more people join, the stronger we stand.")
    assert before >= 1

    page.get_by_role("link", name="Your participation").click()
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_role("button", name="Send me a login link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    run_worker(live_server)
    link = re.search(r"http://\S+/en/my/login/\S+", text_part(newest_mail_to(live_server, ADDRESS)))
    assert link and link.group(0).startswith(live_server.url(CAMPAIGN, "/en/my/login/"))

    page.goto(link.group(0))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your participation")).to_be_visible()
    card = page.locator(".participation")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("TikTok Claim")
    expect(card).to_contain_text("Participant")
    expect(card.get_by_test_id("mandate")).to_contain_text("Attached to the confirmation e-mail we sent you")
    expect(card.locator("a[href*='/mandate/']")).to_have_count(0)  # the server cannot open the participant's copy
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "participant-page-en")

    card.get_by_role("link", name="Withdraw").click()
    expect(page.get_by_role("heading", name="Withdraw from the TikTok Claim?")).to_be_visible()
    page.get_by_role("button", name="Yes, withdraw").click()
    expect(
        page.get_by_role("status").filter(has_text="You have withdrawn from the TikTok Claim.")
    ).to_be_visible()  # among other notices
    expect(card).to_contain_text("Withdrawn on")
    expect(card.get_by_role("link", name="Withdraw")).to_have_count(0)

    page.goto(live_server.url(CAMPAIGN, "/en/"))
    after = participants(landing_counter(page), "The more people join, the stronger we stand.")
    assert after == before - 1, (before, after)

    page.goto(live_server.url(CAMPAIGN, "/en/my"))
    card.get_by_role("link", name="Erase my personal data").click()
    page.get_by_role("button", name="Yes, erase my personal data").click()
    expect(
        page.get_by_role("status").filter(has_text="Your personal data for the TikTok Claim has been erased.")
    ).to_be_visible()  # among other notices
    expect(page.locator(".participation")).to_have_count(0)
    save_screenshot(page, "participant-page-erased-en")
    assert_only_own_host(phone, live_server, CAMPAIGN)
