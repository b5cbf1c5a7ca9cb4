"""Issue 17, item 5, on a 390×844 phone, one test per campaign status: the call to action (and what joining costs)
on the first screen, the call to action again at the end of the page, and for the campaign with a fee the amount
stated there charged at the (loopback) Stripe checkout; a closed campaign shows no join button and says what to do
instead, at the top and at the end.

The shipped campaigns stand for the statuses: tiktokclaim is open with a fee, facebookleak open and free,
palantirclaim takes pre-registrations, zoomclaim is closed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_payment_flow import join_until_payment, open_stripe_checkout

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage, StripeLiveServer

pytestmark = pytest.mark.browser
# slug -> (status, what the landing page says joining costs, the button), in Dutch: the phone's browser language,
# in each campaign's form of address (facebookleak and palantirclaim say u)
JOINABLE = {
    "tiktokclaim": ("open", "Meedoen kost €\u00a017,50", "Meld je nu aan"),
    "facebookleak": ("open", "Meedoen is gratis", "Meld u nu aan"),
    "palantirclaim": ("pre-registration", "Meedoen is gratis", "Schrijf u vooraf in"),
}
CLOSED = "zoomclaim"


def assert_on_first_screen(page: Page, element: Locator) -> None:
    """``element`` lies wholly inside the first screen, before any scrolling."""
    assert page.evaluate("() => scrollY") == 0
    expect(element).to_be_visible()
    box = element.bounding_box()
    assert box is not None, "not rendered"
    height, width = page.evaluate("() => [innerHeight, innerWidth]")
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (
        f"ends at y = {box['y'] + box['height']} px of {height}"
    )
    assert box["x"] >= 0 and box["x"] + box["width"] <= width


def end_of_page(page: Page) -> Locator:
    """The call to action at the end of the landing page: the last section of main, reached by scrolling down."""
    last = page.locator("main > section").last
    expect(last).to_have_attribute("id", "take-part")
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    cta = last.locator(".cta")
    expect(cta).to_be_in_viewport()
    return cta


def euros(text: str) -> Decimal:
    """The amount in "€ 17,50", "€17.50" or "EUR 17.50"."""
    found = re.search(r"(?:€|EUR)\s*(\d+)[.,](\d{2})", text.replace("\u00a0", " "))
    assert found, f"no amount in {text!r}"
    return Decimal(f"{found.group(1)}.{found.group(2)}")


@pytest.mark.parametrize("slug", sorted(JOINABLE))
def test_the_call_to_action_and_the_cost_are_on_the_first_screen_and_again_at_the_end(
    phone: PhonePage, live_server: LiveServer, save_screenshot, slug: str
) -> None:
    status, cost, button = JOINABLE[slug]
    page = phone.page
    page.goto(live_server.url(slug))
    top = page.locator("#join")
    expect(top).to_have_class(re.compile(rf"\bcta--{status}\b"))
    expect(top.locator("[data-testid=costs]")).to_contain_text(cost)
    expect(top.locator("[data-testid=join-button]")).to_have_text(button)
    assert_on_first_screen(page, top.locator("[data-testid=costs]"))
    assert_on_first_screen(page, top.locator("[data-testid=join-button]"))
    assert_no_horizontal_overflow(page)
    join_url = top.locator("[data-testid=join-button]").get_attribute("href")
    assert join_url and join_url.endswith("/join"), join_url

    end = end_of_page(page)
    expect(end.locator("[data-testid=costs]")).to_contain_text(cost)
    expect(end.locator("[data-testid=join-button]")).to_have_text(button)
    assert end.locator("[data-testid=join-button]").get_attribute("href") == join_url
    save_screenshot(page, f"cta-{slug}-390")

    # The button at the end leads to the same form as the one at the top.
    end.locator("[data-testid=join-button]").click()
    page.wait_for_url(re.compile(r"/join$"))
    expect(page.locator("[data-testid=costs]")).to_contain_text(cost)


def test_the_fee_stated_beside_the_call_to_action_is_charged_at_the_stripe_checkout(
    phone: PhonePage, stripe_live_server: StripeLiveServer
) -> None:
    page = phone.page
    paying = stripe_live_server
    site = paying.site
    page.goto(site.url("tiktokclaim", "/en/"))
    stated_top = page.locator("#join [data-testid=costs]")
    assert_on_first_screen(page, stated_top)
    stated = euros(stated_top.inner_text())
    end = end_of_page(page)
    assert euros(end.locator("[data-testid=costs]").inner_text()) == stated

    end.locator("[data-testid=join-button]").click()
    page.wait_for_url(site.url("tiktokclaim", "/en/join"))
    join_until_payment(page, site, "Chris Jansen", "cta.checkout@example.org")  # stops on our payment page
    assert euros(page.locator("#pay-now").inner_text()) == stated

    creations_before = len(paying.session_creations())
    open_stripe_checkout(page, paying)  # the stand-in's checkout page, reached through the real stripe library
    assert euros(page.locator("#amount").inner_text()) == stated
    [created] = paying.session_creations()[creations_before:]
    assert Decimal(created.params["line_items"][0]["price_data"]["unit_amount"]) / 100 == stated


def test_a_closed_campaign_offers_no_join_button_and_says_what_to_do_instead(
    phone: PhonePage, live_server: LiveServer, save_screenshot
) -> None:
    page = phone.page
    page.goto(live_server.url(CLOSED))
    expect(page.locator("[data-testid=join-button]")).to_have_count(0)
    expect(page.locator("a[href$='/join']")).to_have_count(0)
    expect(page.locator("[data-testid=costs]")).to_have_count(0)

    top = page.locator("#join.cta--closed")
    assert_on_first_screen(page, top.locator(".cta__title"))
    expect(top.locator(".cta__title")).to_have_text("De inschrijving is gesloten")
    expect(top.locator(".cta__message")).to_contain_text("De inschrijving voor deze campagne is inmiddels gesloten.")
    assert_on_first_screen(page, top.locator(".cta__message"))
    instead = top.get_by_role("link", name="Maak een SOMI-account aan op my.somi.nl")
    assert_on_first_screen(page, instead)
    expect(instead).to_have_attribute("href", "https://my.somi.nl")
    # "How it works" told people to fill in the form: it is not shown while the campaign is closed.
    expect(page.locator("#how")).to_have_count(0)
    expect(page.get_by_text("Laat je gegevens achter in het aanmeldformulier")).to_have_count(0)
    assert_no_horizontal_overflow(page)

    end = end_of_page(page)
    expect(end).to_have_class(re.compile(r"\bcta--closed\b"))
    expect(end.locator(".cta__message")).to_contain_text("Maak dan een SOMI-account aan.")
    expect(end.get_by_role("link", name="Maak een SOMI-account aan op my.somi.nl")).to_be_visible()
    # The organisation's campaigns that take sign-ups now, each on its own address.
    others = end.locator(".cta__sisters a")
    expect(others).to_have_text(["TikTok Claim", "Palantir Claim", "Facebook-datalek"])
    expect(others.first).to_have_attribute("href", live_server.url("tiktokclaim"))
    save_screenshot(page, f"cta-{CLOSED}-390")

    others.first.click()
    page.wait_for_url(live_server.url("tiktokclaim"))
    expect(page.locator("#join [data-testid=join-button]")).to_be_visible()
