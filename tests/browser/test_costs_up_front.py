"""Issue 17, item 1, on a 390×844 phone: the cost of joining (or "free") is visible without scrolling on the landing
page of every campaign people can join, and the amount stated there is the amount charged at checkout."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import (
    choose_fee_option,
    fill_english_form,
    newest_mail_to,
    run_worker,
    tick_agreements,
)

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

# slug -> what its landing page must say joining costs (Dutch: the phone's browser language)
JOINABLE = {
    "tiktokclaim": "Meedoen kost €\u00a017,50",  # open, with a one-time fee
    "facebookleak": "Meedoen is gratis",  # open, free
    "palantirclaim": "Meedoen is gratis",  # pre-registration
}


def assert_above_the_fold(page: Page, selector: str) -> None:
    """``selector`` lies wholly inside the first screen, before any scrolling."""
    assert page.evaluate("() => scrollY") == 0
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not rendered"
    height = page.evaluate("() => innerHeight")
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{selector} ends at {box['y'] + box['height']} px"


@pytest.mark.parametrize("slug", sorted(JOINABLE))
def test_the_cost_is_visible_without_scrolling(
    phone: PhonePage, live_server: LiveServer, save_screenshot, slug: str
) -> None:
    page = phone.page
    page.goto(live_server.url(slug))
    costs = page.locator(".hero .cta [data-testid=costs]")
    expect(costs).to_be_visible()
    expect(costs).to_contain_text(JOINABLE[slug])
    assert_above_the_fold(page, ".hero .cta [data-testid=costs]")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, f"costs-{slug}-390", element=page.locator(".hero"))


def test_a_closed_campaign_states_no_cost_to_join(phone: PhonePage, live_server: LiveServer) -> None:
    page = phone.page
    page.goto(live_server.url("zoomclaim"))
    expect(page.locator("#join.cta--closed")).to_be_visible()
    assert_above_the_fold(page, "#join.cta--closed .cta__title")
    expect(page.locator("[data-testid=costs]")).to_have_count(0)


def test_the_fee_stated_on_the_landing_page_is_charged_at_checkout(phone: PhonePage, live_server: LiveServer) -> None:
    page = phone.page
    page.goto(live_server.url("tiktokclaim", "/en/"))
    stated = re.search(r"Joining costs (€[\d.,]+),", page.locator(".hero .cta [data-testid=costs]").inner_text())
    assert stated, "no one-time fee stated beside the call to action"
    page.locator(".hero .cta a.button").click()
    page.wait_for_url(re.compile(r"/en/join$"))
    expect(page.locator("[data-testid=costs]")).to_contain_text(stated.group(0))
    expect(page.locator("ol.progress li")).to_have_text(["Your details", "Verify e-mail", "Sign", "Pay", "Done"])
    address = "costs.upfront@example.org"
    fill_english_form(page, "Anna Visser", address, ("Damrak 1", "1012 LG", "Amsterdam"), "1990-06-01", "NL")
    assert run_worker(live_server) >= 1
    code = re.search(r"\b(\d{6})\b", str(newest_mail_to(live_server, address)["Subject"]))
    assert code, "no code in the mail's subject"
    page.get_by_label("Verification code (6 digits)").press_sequentially(code.group(1))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url(re.compile(r"/en/join/sign$"))
    tick_agreements(page)
    choose_fee_option(page, "flat")
    page.get_by_label("Or type your full name as your signature").press_sequentially("Anna Visser")
    page.get_by_role("button", name="Sign and continue to payment").click()
    page.locator("#pay-now").click()
    page.wait_for_url(re.compile(r"/payments/test/[^/]+$"))
    expect(page.locator("main")).to_contain_text(f"Amount: {stated.group(1)}")
