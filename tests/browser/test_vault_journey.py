"""The vault from end to end, as issue 21's "Done when" walks it, in a real browser with the real commands: a staff
member uploads a company's answer from the console for a participant who has no vault yet (it is held for her, and
she is invited); she sets up her vault on her phone; a second answer is deposited with ``flask vault deposit`` and
goes straight in; staff run ``flask vault move`` with the private key file, which moves the held answer and a copy of
her signed mandate in; she forgets her passphrase (a wrong one fails cleanly), sets a new one with her recovery code,
unlocks, and saves all three files, each byte-identical to what was uploaded, deposited or signed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_signup_flow import CAMPAIGN, newest_mail_to, run_worker, text_part
from tests.browser.test_staff_console import add_account
from tests.browser.test_staff_console import log_in as log_in_to_console
from tests.browser.test_vault_setup import log_in
from tests.conftest import opened_personal_data
from tests.test_signup import join_fully

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

ADDRESS = "ida.journey@example.org"
PASSPHRASE = "ida keeps her answers here"
FORGOTTEN = "a passphrase ida never chose"
NEW_PASSPHRASE = "ida's second passphrase, written down"


def save(page: Page, name: str) -> bytes:
    """Press "Open and save" on the file ``name`` and return the bytes the browser saved."""
    item = page.locator(".vault-files__item").filter(has=page.locator(".vault-files__name", has_text=name))
    with page.expect_download(timeout=60_000) as download_info:
        item.get_by_role("button", name="Open and save").click()
    download = download_info.value
    assert download.suggested_filename == name and download.failure() is None
    return Path(download.path()).read_bytes()


def test_upload_deposit_move_recover_and_save(
    phone: PhonePage, live_server: LiveServer, tmp_path: Path, save_screenshot: Any
) -> None:
    app = live_server.app
    run_worker(live_server)  # mail an earlier test on this shared server left queued
    signup = join_fully(app, app.test_client(), "en", email=ADDRESS, name="Ida Journey")
    run_worker(live_server)  # the mandate and the confirmation
    console_answer = os.urandom(3_000_000)  # three chunks of the vault format
    (tmp_path / "tiktok-ida.zip").write_bytes(console_answer)
    cli_answer = b"date,video\n" + os.urandom(200_000).hex().encode()
    (tmp_path / "videos.csv").write_bytes(cli_answer)
    page = phone.page

    # Staff upload from the console before Ida has a vault: the page says it is held for her.
    secret = add_account(live_server, "uma@somi.nl", "Uma Upload", "--role", "admin")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in_to_console(page, f"http://staff.localhost:{live_server.port}/vault-upload", "uma@somi.nl", secret)
    page.get_by_label("Reference").fill(signup.token[:12])
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#held-note")).to_be_visible()
    page.get_by_label("Company", exact=True).select_option("")  # the TikTok Claim names no catalogue company
    page.get_by_label("Another company's name").fill("TikTok Technology Ltd")
    page.get_by_label("Files", exact=False).set_input_files([str(tmp_path / "tiktok-ida.zip")])
    page.get_by_role("button", name="Encrypt and upload").click()
    expect(page.locator("#vault-upload-list li")).to_contain_text("In the vault.", timeout=60_000)
    run_worker(live_server)
    invitation = text_part(newest_mail_to(live_server, ADDRESS))
    assert "set up your vault" in invitation and "tiktok-ida" not in invitation

    # Ida sets up her vault on her phone; the page says a file waits for her.
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, ADDRESS)
    page.get_by_role("link", name="Your vault").click()
    expect(page.get_by_text("1 file is waiting for you.")).to_be_visible()
    page.get_by_label("Choose a passphrase").fill(PASSPHRASE)
    page.get_by_label("Type it again").fill(PASSPHRASE)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Set up my vault").click()
    expect(page.get_by_role("heading", name="Your recovery code")).to_be_visible(timeout=20_000)
    code = page.locator(".vault__code").inner_text().strip()
    page.get_by_label("I have written it down").check()
    page.get_by_role("button", name="Go on to my vault").click()
    expect(page.get_by_role("button", name="Unlock")).to_be_visible()

    # A second answer through the command line goes straight in; staff then move the held one and her mandate in.
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(f"reference,file\n{signup.token[:12]},videos.csv\n")
    deposited = app.test_cli_runner().invoke(
        args=["vault", "deposit", str(mapping), "--campaign", CAMPAIGN, "--company", "tiktok"]
    )
    assert deposited.exit_code == 0, deposited.output
    key_file = app.extensions["claimsite"].settings.development_key_pair()[0]
    moved = app.test_cli_runner().invoke(args=["vault", "move", "--private-key", str(key_file)])
    # (Other tests' participants on this shared server may have mandates moved in too.)
    assert moved.exit_code == 0 and re.search(r"\b1 held file\(s\) and [1-9]\d* mandate\(s\) moved", moved.output), (
        moved.output
    )
    run_worker(live_server)
    arrival = text_part(newest_mail_to(live_server, ADDRESS))
    assert "Something new is in your vault" in arrival and "videos" not in arrival

    # She has forgotten her passphrase: a wrong one fails cleanly; the recovery code sets a new one.
    page.reload()
    page.get_by_label("Your passphrase").fill(FORGOTTEN)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("alert")).to_contain_text("This passphrase does not open your vault", timeout=20_000)
    page.get_by_text("Forgot your passphrase? Use your recovery code").click()
    recover = page.locator("form[data-recover]")
    recover.get_by_label("Your recovery code").fill(code)
    recover.get_by_label("Choose a new passphrase").fill(NEW_PASSPHRASE)
    recover.get_by_label("Type the new passphrase again").fill(NEW_PASSPHRASE)
    recover.get_by_role("button", name="Set the new passphrase").click()
    expect(page.get_by_text("Your new passphrase is set.")).to_be_visible(timeout=20_000)
    page.reload()
    page.get_by_label("Your passphrase").fill(NEW_PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Your vault is unlocked.")).to_be_visible(timeout=20_000)
    expect(page.locator(".vault-files__item")).to_have_count(3)
    save_screenshot(page, "vault-journey-unlocked-en")

    assert save(page, "tiktok-ida.zip") == console_answer
    assert save(page, "videos.csv") == cli_answer
    with app.app_context():
        sealed_pdf = opened_personal_data(app, signup).mandate_pdf
    assert sealed_pdf and save(page, f"mandate-{CAMPAIGN}.pdf") == sealed_pdf
    assert re.fullmatch(r"[0-9A-Z-]+", code)
    run_worker(live_server)  # whatever her actions queued goes now, not into the next test's mails
