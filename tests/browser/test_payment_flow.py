"""Joining the TikTok claim on a phone and paying its registration fee through Stripe Checkout, in a real browser.

The app is a second live server made with Stripe keys in its environment; the real stripe library talks to the
Stripe stand-in of ``tests/stripe_server.py`` on loopback, whose test payment page stands in for Stripe's and whose
signed ``checkout.session.completed`` webhook is what makes the payment count, never the browser coming back.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import (
    CAMPAIGN,
    REGISTRATION_FEE,
    SHARE,
    SHARE_LINE,
    assert_payment_page,
    choose_fee_option,
    fee_lines,
    fill_english_form,
    landing_counter,
    newest_mail_to,
    normalized,
    paid_line,
    participants,
    run_worker,
    text_part,
    tick_agreements,
)

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage, StripeLiveServer

pytestmark = pytest.mark.browser

CHECKOUT_DESCRIPTION = "One-time participation in the TikTok lawsuit"  # the subscription plugin's description (en)
DONE_HEADING = "You have successfully joined the TikTok Claim."
# The done page can take one refresh of the "Confirming your payment…" page (every 3 s) to be reached.
CONFIRMATION_TIMEOUT_MS = 15000


# -- helpers -------------------------------------------------------------------------------------------------
def join_until_payment(page: Page, site: LiveServer, name: str, address: str) -> str:
    """Join in English with the code from the mail, choose the "share" option, sign with a typed name, and stop
    on our payment page; returns its address."""
    page.goto(site.url(CAMPAIGN, "/en/join"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    fill_english_form(page, name, address, ("Kärntner Straße 5", "1010", "Vienna"), "1979-03-14", "AT")

    assert run_worker(site) >= 1
    message = newest_mail_to(site, address)
    found = re.search(r"\b(\d{6})\b", str(message["Subject"]))
    assert found, f"no 6-digit code in the subject {message['Subject']!r}"
    page.get_by_label("Verification code (6 digits)").press_sequentially(found.group(1))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url(re.compile(r"/en/join/sign$"))

    tick_agreements(page)
    choose_fee_option(page, "share")
    expect(page.get_by_label(f"{SHARE} of the compensation if we win")).to_be_checked()
    page.get_by_label("Or type your full name as your signature").press_sequentially(name)
    page.get_by_role("button", name="Sign and continue to payment").click()
    assert_payment_page(page, "en")
    expect(page.locator("#pay-now")).to_have_text(f"Pay {REGISTRATION_FEE['en']}")
    expect(page.locator("main")).to_contain_text("Stripe")  # not the test-mode note
    return page.url


def open_stripe_checkout(page: Page, paying: StripeLiveServer) -> str:
    """Press "Pay" on our payment page and land on the stand-in's checkout page; returns the session id."""
    page.locator("#pay-now").click()
    page.wait_for_url(re.compile(re.escape(paying.stripe.url) + r"/pay/cs_test_\w+$"))
    session_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#amount")).to_have_text("EUR 17.50")
    expect(page.locator("#description")).to_have_text(CHECKOUT_DESCRIPTION)
    expect(page.locator("#pay")).to_be_visible()
    return session_id


def pay_and_wait_for_done(page: Page, paying: StripeLiveServer, session_id: str, deliveries_before: int) -> None:
    """Press "Pay" on the stand-in's page; its webhook reaches the app, and our return page, refreshing itself,
    moves on to the done page. The delivery must have been answered 200."""
    page.locator("#pay").click()
    page.wait_for_url("**/join/done", timeout=CONFIRMATION_TIMEOUT_MS)
    assert page.url == paying.site.url(CAMPAIGN, "/en/join/done"), page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(DONE_HEADING)

    deliveries = paying.stripe.wait_for_deliveries(deliveries_before + 1)
    completed = [d for d in deliveries[deliveries_before:] if d.event_type == "checkout.session.completed"]
    assert len(completed) == 1, [(d.event_type, d.status, d.error) for d in deliveries]
    assert completed[0].status == 200, (completed[0].status, completed[0].error, completed[0].response_body)
    with paying.stripe.lock:
        session = dict(paying.stripe.sessions[session_id])
    assert (session["status"], session["payment_status"]) == ("complete", "paid")


def assert_only_loopback(phone: PhonePage, paying: StripeLiveServer) -> None:
    """The browser went to the campaign's own address and to the Stripe stand-in on 127.0.0.1, nowhere else."""
    assert phone.requests, "the browser recorded no request at all"
    foreign = phone.foreign_requests(
        paying.site.host(CAMPAIGN), paying.site.port, also_allowed=[("127.0.0.1", paying.stripe.port)]
    )
    assert not foreign, f"the sign-up made requests outside loopback: {foreign}"


# -- the tests -----------------------------------------------------------------------------------------------
def test_english_signup_paid_through_stripe_checkout(
    phone: PhonePage, stripe_live_server: StripeLiveServer, save_screenshot
) -> None:
    page = phone.page
    paying = stripe_live_server
    site = paying.site
    address = "anna.huber@example.org"

    page.goto(site.url(CAMPAIGN, "/en/"))
    counter_before = landing_counter(page)
    count_before = participants(counter_before, "The more people join, the stronger we stand.")
    creations_before = len(paying.session_creations())
    deliveries_before = len(paying.webhook_deliveries())

    pay_url = join_until_payment(page, site, "Anna Huber", address)
    token = pay_url.rsplit("/", 1)[1]

    # Signed but unpaid: not counted yet.
    page.goto(site.url(CAMPAIGN, "/en/"))
    assert landing_counter(page) == counter_before
    page.goto(pay_url)

    session_id = open_stripe_checkout(page, paying)
    creations = paying.session_creations()[creations_before:]
    assert len(creations) == 1, creations
    params = creations[0].params
    assert params["line_items"][0]["price_data"]["unit_amount"] == "1750"
    assert params["line_items"][0]["price_data"]["currency"] == "eur"
    assert params["locale"] == "en"
    assert params["success_url"] == site.url(CAMPAIGN, f"/en/join/pay/{token}/return")
    assert params["cancel_url"] == site.url(CAMPAIGN, f"/en/join/pay/{token}/cancel")
    save_screenshot(page, "stripe-checkout")  # the stand-in's plain page: no viewport meta, so no layout checks

    pay_and_wait_for_done(page, paying, session_id, deliveries_before)
    # The browser came back through the success URL (which waits for the webhook), not straight to the done page.
    assert site.url(CAMPAIGN, f"/en/join/pay/{token}/return") in phone.requests
    paid = paid_line(site, "en")
    assert paid.startswith(f"Paid: {REGISTRATION_FEE['en']} on "), paid
    lines = fee_lines(page)
    assert paid in lines and SHARE_LINE % {"share": SHARE} in lines, lines
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "stripe-done")

    # The mandate is made; the confirmation mail, queued once both it and the payment are in, says what was paid.
    assert run_worker(site) >= 2
    confirmation = newest_mail_to(site, address)
    assert confirmation["Subject"] == "You have joined the TikTok Claim"
    assert paid in normalized(text_part(confirmation))

    page.goto(site.url(CAMPAIGN, "/en/"))
    counter_after = landing_counter(page)
    assert participants(counter_after, "The more people join, the stronger we stand.") == count_before + 1, (
        counter_before,
        counter_after,
    )

    assert_only_loopback(phone, paying)


def test_cancelled_stripe_checkout_can_be_paid_afterwards(
    phone: PhonePage, stripe_live_server: StripeLiveServer
) -> None:
    page = phone.page
    paying = stripe_live_server
    site = paying.site

    pay_url = join_until_payment(page, site, "Bram Peeters", "bram.peeters@example.org")
    creations_before = len(paying.session_creations())
    session_id = open_stripe_checkout(page, paying)
    assert len(paying.session_creations()) == creations_before + 1

    # Cancel on the checkout page: back on our payment page, told that nothing was charged.
    page.locator("#cancel").click()
    page.wait_for_url(pay_url)
    expect(page.get_by_role("alert")).to_contain_text("You cancelled the payment")
    expect(page.locator("#pay-now")).to_have_text(f"Pay {REGISTRATION_FEE['en']}")

    # Paying again goes back to the same checkout: no second one is opened, so nobody can pay twice.
    deliveries_before = len(paying.webhook_deliveries())
    assert open_stripe_checkout(page, paying) == session_id
    assert len(paying.session_creations()) == creations_before + 1
    pay_and_wait_for_done(page, paying, session_id, deliveries_before)
    assert paid_line(site, "en") in fee_lines(page)

    assert_only_loopback(phone, paying)
