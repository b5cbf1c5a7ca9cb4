"""Pre-registering on a phone, in a real browser: the Palantir Claim takes pre-registrations (campaigns/
palantirclaim.yaml, no opening date yet). From the landing page's "Pre-register" to the form, the code from the
mail, and the done page, which says that the interest is noted and nothing was signed; the mail says the same,
and /my shows the pre-registration as such. No signing step is shown or reachable on the way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import newest_mail_to, normalized, run_worker, text_part

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

CAMPAIGN = "palantirclaim"


def test_pre_registering_on_a_phone_signs_nothing_and_says_so_in_the_campaigns_form_of_address(
    live_server: LiveServer, phone: PhonePage, save_screenshot
) -> None:  # type: ignore[no-untyped-def]
    page = phone.page
    address = "pre.registrant@example.org"
    page.goto(live_server.url(CAMPAIGN, "/"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    page.locator(".hero").get_by_role("link", name="Schrijf u vooraf in").click()
    page.wait_for_url(re.compile(r"/join$"))
    steps = page.locator("ol.progress li")
    expect(steps).to_have_text(["Uw gegevens", "E-mail verifiëren", "Klaar"])  # no signing step
    expect(page.locator(".lead")).to_contain_text("U ondertekent niets en geeft geen volmacht")

    page.get_by_label("Volledige naam", exact=True).press_sequentially("Pia Peters")
    page.get_by_label("E-mailadres", exact=True).press_sequentially(address)
    page.get_by_label("Geboortedatum", exact=True).fill("1984-03-09")
    page.get_by_label("Land waar u woont", exact=True).select_option(label="Nederland")
    page.get_by_role("button", name="Verder").click()
    page.wait_for_url(re.compile(r"/join/verify$"))

    assert run_worker(live_server) >= 1
    found = re.search(r"\b(\d{6})\b", str(newest_mail_to(live_server, address)["Subject"]))
    assert found
    page.get_by_label("Verificatiecode (6 cijfers)").press_sequentially(found.group(1))
    page.get_by_role("button", name="Verifiëren", exact=True).click()
    page.wait_for_url(re.compile(r"/join/done$"))

    expect(page.get_by_role("heading", level=1)).to_have_text("U bent vooraf ingeschreven voor de Palantir Claim.")
    main = page.locator("main")
    expect(main).to_contain_text("Er is niets ondertekend: u doet nog niet mee en hebt geen volmacht gegeven.")
    expect(main).to_contain_text("Als de actie opent, sturen we u een e-mail met een uitnodiging om mee te doen.")
    expect(main).not_to_contain_text("volmacht (PDF)")
    expect(steps.last).to_have_attribute("aria-current", "step")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "pre-registration-done")

    run_worker(live_server)
    mail = newest_mail_to(live_server, address)
    assert str(mail["Subject"]) == "U bent vooraf ingeschreven voor de Palantir Claim"
    body = normalized(text_part(mail))
    assert "Er is niets ondertekend" in body and "U beslist dan zelf of u meedoet" in body
    assert all(part.get_content_disposition() != "attachment" for part in mail.walk())  # no mandate

    # Signing is not reachable while the campaign takes pre-registrations.
    page.goto(live_server.url(CAMPAIGN, "/join/sign"))
    page.wait_for_url(re.compile(r"/join/done$"))
