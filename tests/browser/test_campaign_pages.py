"""Campaign pages on a phone, in a real browser: language switch, the suggestion of the browser's language, FAQ,
keyboard access, a closed campaign.

Every page is also checked against the site's promise that it loads nothing from other sites.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PHONE

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
    expect(page.locator(".language-notice")).to_be_hidden()  # a Dutch browser on the Dutch page: nothing to suggest
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
    # the Dutch browser on the English page it chose: the way back, in Dutch
    expect(page.locator('aside.language-notice[lang="nl"]')).to_be_visible()
    expect(page.get_by_role("link", name="Deze pagina is ook in het Nederlands")).to_have_attribute("hreflang", "nl")

    question = page.locator("details.faq__item").first
    expect(question).to_have_attribute("id", re.compile(r"^faq-"))
    answer = question.locator(".faq__answer")
    expect(answer).to_be_hidden()
    question.locator("summary").click()
    expect(question).to_have_attribute("open", "")
    expect(answer).to_be_visible()
    assert answer.inner_text().strip()

    assert_only_own_host(phone, live_server, OPEN_CAMPAIGN)


def test_an_english_browser_is_offered_the_english_page_and_may_close_the_offer(
    chromium_browser: Browser, live_server: LiveServer, save_screenshot
) -> None:
    """The server never goes by the browser's language (a cache keeps each page by its URL): the page itself
    suggests English to an English browser, in English, and remembers in the browser, not in a cookie, that the
    visitor closed the suggestion."""
    context = chromium_browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-GB")
    refused: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(live_server.url(OPEN_CAMPAIGN))
        expect(page.locator("html")).to_have_attribute("lang", "nl")  # no redirect: the address says Dutch
        notice = page.get_by_role("complementary", name="Language")
        expect(notice).to_be_visible()
        expect(notice).to_have_attribute("lang", "en")
        save_screenshot(page, f"{OPEN_CAMPAIGN}-nl-english-browser-notice-390", element=notice)

        notice.get_by_role("link", name="This page is also in English").click()
        page.wait_for_url(re.compile(r"/en/$"))
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator(".language-notice")).to_be_hidden()  # the page is in the browser's language now

        page.locator("nav.languages a[hreflang=nl]").click()  # the visitor goes back to Dutch on purpose
        page.wait_for_url(re.compile(r"/$"))
        expect(notice).to_be_visible()
        notice.get_by_role("button", name="Close").click()
        expect(notice).to_be_hidden()
        expect(page.locator("main#main")).to_be_focused()
        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.locator(".language-notice")).to_be_hidden()  # closed stays closed
        page.goto(live_server.url(OPEN_CAMPAIGN, "/privacy"))
        expect(page.locator(".language-notice")).to_be_hidden()
        assert context.cookies() == [], "the public pages set a cookie"
    finally:
        context.close()
    assert refused == [], "the Content Security Policy refused something on these pages"


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
