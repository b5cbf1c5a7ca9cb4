"""The data breach check on a phone (390 px), as a visitor of facebookleak uses it: from the landing page to the
check, a number found in the leak, proved with the code from the SMS outbox, the kinds of data shown, and the join
form opened with the number filled in; in Dutch, then a number not in the leak in English."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser.test_signup_flow import run_worker

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

CAMPAIGN = "facebookleak"


@pytest.fixture(scope="module")
def leaked(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A small dump imported into facebookleak's dataset with the real command."""
    dump = tmp_path_factory.mktemp("dump") / "dump.csv"
    dump.write_text(
        "phone,name,gender,date_of_birth,location,email\n+31 6 12345601,Anna,female,1990-01-02,Utrecht,\n",
        encoding="utf-8",
    )
    runner = live_server.app.test_cli_runner()
    result = runner.invoke(args=["breach", "import", "facebook-2021", str(dump), "--jobs", "1"])
    assert result.exit_code == 0, result.output


def newest_sms_code(live_server: LiveServer) -> str:
    run_worker(live_server)
    newest = sorted((Path(live_server.instance_dir) / "outbox").glob("*.sms"))[-1]
    return re.search(r"\b(\d{6})\b", newest.read_text()).group(1)  # type: ignore[union-attr]


def test_a_visitor_checks_proves_and_joins_with_the_number(
    phone: PhonePage, live_server: LiveServer, leaked: None, save_screenshot
) -> None:
    page = phone.page
    page.goto(live_server.url(CAMPAIGN, "/"))
    page.locator("#breach-check").get_by_role("link", name="Controleer mijn nummer").click()
    page.wait_for_url(re.compile(r"/check$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Datalekcheck")
    page.get_by_label("Uw telefoonnummer").fill("06 1234 5601")
    save_screenshot(page, "breach-check-form")
    page.get_by_role("button", name="Controleer mijn nummer").click()
    expect(page.get_by_role("heading", name="Dit nummer zit in het Facebook-datalek van april 2021.")).to_be_visible()
    expect(page.locator("dl.categories")).to_have_count(0)  # no kinds of data before the number is proved
    save_screenshot(page, "breach-check-found")

    page.get_by_role("button", name="Stuur mij een code per sms").click()
    page.wait_for_url(re.compile(r"/check/code$"))
    expect(page.get_by_role("status").first).to_contain_text("+31 6 12345601")
    page.get_by_label("Code uit de sms (6 cijfers)").fill(newest_sms_code(live_server))
    page.get_by_role("button", name="Verifiëren").click()
    page.wait_for_url(re.compile(r"/check/result$"))
    categories = page.locator("dl.categories dt")
    expect(categories).to_have_text(["Naam", "Geslacht", "Geboortedatum", "Woonplaats", "Telefoonnummer"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    save_screenshot(page, "breach-check-result")

    page.get_by_role("button", name="Doe mee met dit nummer").click()
    page.wait_for_url(re.compile(r"/join$"))
    expect(page.locator("input[name=phone]")).to_have_value("+31 6 12345601")
    expect(page.get_by_role("alert")).to_have_count(0)  # carried by the result page's own button, nothing refused


def test_a_number_not_in_the_leak_in_english(
    phone: PhonePage, live_server: LiveServer, leaked: None, save_screenshot
) -> None:
    page = phone.page
    page.goto(live_server.url(CAMPAIGN, "/en/check"))
    page.get_by_label("Your phone number").fill("+31 6 87654321")
    page.get_by_role("button", name="Check my number").click()
    expect(
        page.get_by_role("heading", name="This number is not in the Facebook data leak of April 2021.")
    ).to_be_visible()
    expect(page.get_by_text("not a guarantee")).to_be_visible()
    save_screenshot(page, "breach-check-not-found")
    expect(page.get_by_role("button", name="Send me a code by SMS")).to_be_visible()
    expect(page.get_by_role("button", name="Join with this number")).to_be_visible()
