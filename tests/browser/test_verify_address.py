"""Correcting a mistyped e-mail address on the verify page, on a phone: the page shows the address, the correction
sends a new code to the new one, the old mail's code and link no longer verify, and the rest of the form is kept
(the agreement on the signing page names the person as they typed their name). Then the signing form refused, in
the join form's style."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser.test_signup_flow import CAMPAIGN, fill_english_form, newest_mail_to, run_worker, text_part

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser


def test_a_mistyped_address_is_corrected_on_the_verify_page(
    phone: PhonePage, live_server: LiveServer, save_screenshot
) -> None:
    page = phone.page
    typo, address = "lena.jansen@exampel.org", "lena.jansen@example.org"
    page.goto(live_server.url(CAMPAIGN, "/en/join"))
    fill_english_form(page, "Lena Jansen", typo, ("Dorpsweg 4", "3511 AB", "Utrecht"), "1979-04-12", "NL")
    assert run_worker(live_server) >= 1
    old = newest_mail_to(live_server, typo)

    shown = page.locator(".verify__address")
    expect(shown).to_have_text(f"Your e-mail address: {typo}")
    page.get_by_text("Wrong address? Correct it").click()
    field = page.get_by_label("E-mail address", exact=True)
    expect(field).to_have_value(typo)
    field.fill("lena.jansen@")
    page.get_by_role("button", name="Send the code to this address").click()
    expect(page.locator("#errors")).to_be_focused()  # refused: the list of mistakes, as on the join form
    expect(page.locator("#email-error")).to_have_text("This is not a valid e-mail address; please check it.")
    field.fill(address)
    save_screenshot(page, "verify-address-correction")
    page.get_by_role("button", name="Send the code to this address").click()
    page.wait_for_url(re.compile(r"/en/join/verify$"))
    expect(shown).to_have_text(f"Your e-mail address: {address}")

    assert run_worker(live_server) >= 1
    new = newest_mail_to(live_server, address)
    old_code = re.search(r"\b(\d{6})\b", str(old["Subject"])).group(1)  # type: ignore[union-attr]
    new_code = re.search(r"\b(\d{6})\b", str(new["Subject"])).group(1)  # type: ignore[union-attr]
    code = page.get_by_label("Verification code (6 digits)")
    code.fill(old_code)
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#code-error")).to_contain_text("That code is not right.")
    code.fill(new_code)
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url(re.compile(r"/en/join/sign$"))
    expect(page.locator(".agreement__text").first).to_contain_text("Lena Jansen")  # the name typed in the form

    # Signing with nothing filled in: the server's list of mistakes, focused, as on the join form (no browser
    # bubbles that stop at the first one).
    page.locator("#sign-form button[type=submit]").click()
    summary = page.locator("#errors")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("Please correct 4 answers")
    expect(summary.get_by_role("link")).to_have_count(4)
    expect(page.locator("#signature-error")).to_be_visible()
    save_screenshot(page, "sign-errors", element=summary)

    old_link = re.search(r"http://\S+/en/join/verify/\S+", text_part(old))
    assert old_link
    stranger = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        other = stranger.new_page()
        other.goto(old_link.group(0))
        expect(other.get_by_role("alert").first).to_contain_text("This link has expired or was already used.")
    finally:
        stranger.close()
