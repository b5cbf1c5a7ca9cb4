"""The participant's vault on a phone, in a real browser (issue 21): log in to /my, open the vault, set it up with a
passphrase, read the recovery code shown once, unlock with the passphrase, fail cleanly with a wrong one, recover
with the code and a new passphrase, unlock with that. What the page POSTs is captured: only the public key and the
wrapped keys, never the passphrase or the recovery code. Without JavaScript the page says why it cannot work.

The participant joins beforehand through the test client on the same app and database, as in
test_participant_page.py.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import PHONE
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow, assert_only_own_host
from tests.browser.test_signup_flow import CAMPAIGN, newest_mail_to, run_worker, text_part
from tests.test_signup import join_fully

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

ADDRESS = "vault-owner@example.org"
PASSPHRASE = "my cat sleeps on the piano"
NEW_PASSPHRASE = "the piano now sleeps on my cat"
THIRD_PASSPHRASE = "a third passphrase, changed"
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$")


def log_in(page: Page, live_server: LiveServer, address: str) -> None:
    page.goto(live_server.url(CAMPAIGN, "/en/my"))
    page.get_by_label("E-mail address").fill(address)
    page.get_by_role("button", name="Send me a login link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    run_worker(live_server)
    link = re.search(r"http://\S+/en/my/login/\S+", text_part(newest_mail_to(live_server, address)))
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your participation")).to_be_visible()


def test_set_up_unlock_and_recover_the_vault(phone: PhonePage, live_server: LiveServer, save_screenshot) -> None:
    join_fully(live_server.app, live_server.app.test_client(), "en", email=ADDRESS, name="Vera Vault")
    run_worker(live_server)
    page = phone.page
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    log_in(page, live_server, ADDRESS)

    page.get_by_role("link", name="Your vault").click()
    expect(page.get_by_role("heading", name="Your vault")).to_be_visible()
    expect(page.get_by_text("nobody can open your files, not even us")).to_be_visible()
    expect(page.get_by_text("needs JavaScript")).to_be_hidden()
    save_screenshot(page, "vault-setup-en")
    page.get_by_label("Choose a passphrase").fill("too short")
    expect(page.get_by_text("Too short: use at least 12 characters.")).to_be_visible()
    page.get_by_label("Choose a passphrase").fill(PASSPHRASE)
    page.get_by_label("Type it again").fill(PASSPHRASE)
    page.get_by_role("button", name="Set up my vault").click()
    expect(page.get_by_role("alert")).to_contain_text("Please tick the box")
    assert not [p for p in posts if "/my/vault/" in p.url]  # nothing sent before the box is ticked
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Set up my vault").click()
    expect(page.get_by_role("heading", name="Your recovery code")).to_be_visible(timeout=20_000)
    code = page.locator(".vault__code").inner_text().strip()
    assert CODE.match(code), code
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "vault-recovery-code-en")

    [setup] = [p for p in posts if p.url.endswith("/my/vault/setup")]
    body = setup.post_data or ""
    assert PASSPHRASE not in body and code not in body and code.replace("-", "") not in body
    assert set(json.loads(body)) == {"public_raw", "wrapped_by_passphrase", "wrapped_by_recovery"}
    assert setup.headers.get("x-csrftoken")

    go_on = page.get_by_role("button", name="Go on to my vault")
    expect(go_on).to_be_disabled()
    page.get_by_label("I have written it down").check()
    go_on.click()
    expect(page.get_by_role("button", name="Unlock")).to_be_visible()  # the reload shows the vault that exists

    before = len(posts)
    page.get_by_label("Your passphrase").fill("not my passphrase at all")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("alert")).to_contain_text("This passphrase does not open your vault", timeout=20_000)
    page.get_by_label("Your passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Your vault is unlocked.")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("No files yet.")).to_be_visible()
    assert len(posts) == before  # unlocking, wrong or right, sends nothing
    save_screenshot(page, "vault-unlocked-en")

    page.reload()
    page.get_by_text("Forgot your passphrase? Use your recovery code").click()
    recover = page.locator("form[data-recover]")
    # Typed as people type it: lower case, spaces for dashes, O for 0 and l for 1 (look-alikes the code never has).
    typed = " ".join(code.split("-")).lower().replace("0", "o").replace("1", "l")
    recover.get_by_label("Your recovery code").fill(f" {typed[:9]}-{typed[9:]} ")
    recover.get_by_label("Choose a new passphrase").fill(NEW_PASSPHRASE)
    recover.get_by_label("Type the new passphrase again").fill(NEW_PASSPHRASE)
    recover.get_by_role("button", name="Set the new passphrase").click()
    expect(page.get_by_text("Your new passphrase is set.")).to_be_visible(timeout=20_000)
    [change] = [p for p in posts if p.url.endswith("/my/vault/passphrase")]
    body = change.post_data or ""
    assert NEW_PASSPHRASE not in body and code not in body and code.replace("-", "") not in body
    assert list(json.loads(body)) == ["wrapped_by_passphrase"]

    page.reload()  # the new wrapped key comes from the server
    page.get_by_label("Your passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("alert")).to_contain_text("This passphrase does not open your vault", timeout=20_000)
    page.get_by_label("Your passphrase").fill(NEW_PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Your vault is unlocked.")).to_be_visible(timeout=20_000)

    page.reload()
    page.get_by_text("Change passphrase").first.click()
    change = page.locator("form[data-change]")
    change.get_by_label("Your current passphrase").fill(PASSPHRASE)  # the old one: no longer valid
    change.get_by_label("Your new passphrase").fill(THIRD_PASSPHRASE)
    change.get_by_label("Type the new passphrase again").fill(THIRD_PASSPHRASE)
    change.get_by_role("button", name="Change passphrase").click()
    expect(change.get_by_role("alert")).to_contain_text("This passphrase does not open your vault", timeout=20_000)
    change.get_by_label("Your current passphrase").fill(NEW_PASSPHRASE)
    change.get_by_role("button", name="Change passphrase").click()
    expect(page.get_by_text("Your new passphrase is set.")).to_be_visible(timeout=20_000)
    save_screenshot(page, "vault-passphrase-changed-en")
    page.reload()
    page.get_by_label("Your passphrase").fill(THIRD_PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Your vault is unlocked.")).to_be_visible(timeout=20_000)
    assert_only_own_host(phone, live_server, CAMPAIGN)


def test_without_javascript_the_page_says_why_and_posts_nothing(
    chromium_browser: Browser, live_server: LiveServer, save_screenshot
) -> None:
    address = "vault-nojs@example.org"
    join_fully(live_server.app, live_server.app.test_client(), "en", email=address, name="Nora Nojs")
    run_worker(live_server)
    context = chromium_browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server, address)
        page.get_by_role("link", name="Your vault").click()
        expect(page.get_by_text("Your vault needs JavaScript in your browser")).to_be_visible()
        expect(page.get_by_label("Choose a passphrase")).to_be_hidden()
        expect(page.get_by_role("button", name="Set up my vault")).to_be_hidden()
        save_screenshot(page, "vault-without-javascript-en")
    finally:
        context.close()
