"""The vault's files on a phone, in a real browser (issue 21, third slice): a file deposited with ``flask vault
deposit`` is listed once the participant unlocks the vault, and "Open and save" fetches its ciphertext, decrypts it
in the browser and saves it: the downloaded bytes are the deposited file's, exactly. The vault is made in Python
beforehand (as the page would make it: tests/test_vault_setup.py), so the test does not set one up again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from core.data import vault_files, vault_keys
from core.data.db import db_session, utcnow
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import CAMPAIGN, run_worker
from tests.browser.test_vault_setup import log_in
from tests.test_signup import join_fully
from tests.test_vault_setup import PASSPHRASE, new_vault, unb64url

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

ADDRESS = "vault-files@example.org"
CONTENT = os.urandom(1_300_000)  # more than one chunk of the vault format


def test_a_deposited_file_is_listed_opened_and_saved(
    phone: PhonePage, live_server: LiveServer, tmp_path: Path, save_screenshot
) -> None:
    app = live_server.app
    signup = join_fully(app, app.test_client(), "en", email=ADDRESS, name="Frida Files")
    run_worker(live_server)
    _pkcs8, body = new_vault()
    with app.app_context():
        vault_keys.set_up(
            db_session(),
            signup.email_hash,
            unb64url(body["public_raw"]),
            json.dumps(body["wrapped_by_passphrase"]),
            json.dumps(body["wrapped_by_recovery"]),
            utcnow(),
        )
    (tmp_path / "answer.zip").write_bytes(CONTENT)
    (tmp_path / "mapping.csv").write_text(f"reference,file,name\n{signup.token[:12]},answer.zip,tiktok-frida.zip\n")
    result = app.test_cli_runner().invoke(
        args=["vault", "deposit", str(tmp_path / "mapping.csv"), "--campaign", CAMPAIGN, "--company", "tiktok"]
    )
    assert result.exit_code == 0, result.output

    page = phone.page
    log_in(page, live_server, ADDRESS)
    page.get_by_role("link", name="Your vault").click()
    page.get_by_label("Your passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Your vault is unlocked.")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("tiktok-frida.zip")).to_be_visible()
    expect(page.get_by_text("From tiktok, received")).to_contain_text(", 1.3 MB")
    # The TikTok Claim has no end date: the rule is said instead of a date (tests/test_vault_retention.py has dates).
    expect(page.locator("[data-kept-until]")).to_have_text(
        "Kept until 365 days after the campaign ends (its end date is not set yet)"
    )
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "vault-files-en")
    with page.expect_download(timeout=30_000) as download_info:
        page.get_by_role("button", name="Open and save").click()
    download = download_info.value
    assert download.suggested_filename == "tiktok-frida.zip"
    assert Path(download.path()).read_bytes() == CONTENT
    expect(page.get_by_text("Opened: your browser saves it as a download.")).to_be_visible()

    # The stored file damaged (one byte of its last chunk): it fails to open, is dropped, and nothing is saved.
    with app.app_context():
        [stored] = vault_files.files_of(db_session(), signup.email_hash)
        path = app.extensions["claimsite"].vault_store.path(stored.store_key)
    damaged = bytearray(path.read_bytes())
    damaged[-20] ^= 1
    path.write_bytes(bytes(damaged))
    downloads: list[object] = []
    page.on("download", lambda download: downloads.append(download))
    page.get_by_role("button", name="Open and save").click()
    expect(page.get_by_role("alert")).to_contain_text("This file could not be opened", timeout=20_000)
    assert downloads == []
