"""Campaign pages on a phone, in a real browser: language switch, FAQ, keyboard access, a closed campaign.

Every page is also checked against the site's promise that it loads nothing from other sites.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

OPEN_CAMPAIGN = "tiktokclaim"
CLOSED_CAMPAIGN = "zoomclaim"


def assert_only_own_host(phone: PhonePage, live_server: LiveServer, slug: str) -> None:
    assert phone.requests, "the browser recorded no request at all"
    foreign = phone.foreign_requests(live_server.host(slug), live_server.port)
    assert not foreign, f"{slug} made requests to other hosts (the site promises none): {foreign}"


def assert_no_horizontal_overflow(page: Page) -> None:
    page_width, screen_width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert page_width <= screen_width, f"the page is {page_width} px wide on a {screen_width} px screen"


def test_open_campaign_switches_language_and_opens_a_question(
    phone: PhonePage, live_server: LiveServer, save_screenshot
) -> None:
    page = phone.page
    page.goto(live_server.url(OPEN_CAMPAIGN))

    expect(page.locator("html")).to_have_attribute("lang", "nl")
    dutch_title = page.locator(".hero h1")
    expect(dutch_title).to_be_visible()
    dutch_text = dutch_title.inner_text().strip()
    assert dutch_text
    assert_no_horizontal_overflow(page)
    save_screenshot(page, f"{OPEN_CAMPAIGN}-nl-390")

    page.locator("nav.languages a[hreflang=en]").click()
    page.wait_for_url(re.compile(r"/en/$"))
    assert page.url.endswith("/en/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english_title = page.locator(".hero h1")
    expect(english_title).to_be_visible()
    english_text = english_title.inner_text().strip()
    assert english_text and english_text != dutch_text

    question = page.locator("details.faq__item").first
    expect(question).to_have_attribute("id", re.compile(r"^faq-"))
    answer = question.locator(".faq__answer")
    expect(answer).to_be_hidden()
    question.locator("summary").click()
    expect(question).to_have_attribute("open", "")
    expect(answer).to_be_visible()
    assert answer.inner_text().strip()

    assert_only_own_host(phone, live_server, OPEN_CAMPAIGN)


def test_tab_first_focuses_the_skip_link(phone: PhonePage, live_server: LiveServer) -> None:
    page = phone.page
    page.goto(live_server.url(OPEN_CAMPAIGN))

    page.keyboard.press("Tab")
    skip_link = page.locator("a.skip-link")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_have_attribute("href", "#main")
    expect(skip_link).to_be_in_viewport()

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    assert_only_own_host(phone, live_server, OPEN_CAMPAIGN)


def test_closed_campaign_shows_its_closed_call_to_action(
    phone: PhonePage, live_server: LiveServer, save_screenshot
) -> None:
    page = phone.page
    page.goto(live_server.url(CLOSED_CAMPAIGN))

    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator(".hero h1")).to_be_visible()
    expect(page.locator("#join.cta--closed")).to_be_visible()
    assert_no_horizontal_overflow(page)
    save_screenshot(page, f"{CLOSED_CAMPAIGN}-nl-390")

    assert_only_own_host(phone, live_server, CLOSED_CAMPAIGN)
