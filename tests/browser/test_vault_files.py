"""The vault's files on a phone, in a real browser (issue 21): a file deposited with ``flask vault deposit`` is listed
once the participant unlocks the vault, as a visitor reads it (the company's and campaign's names, the date in the
page's language, the size in MB, the type in words), and "Open and save" fetches its ciphertext, decrypts it in the
browser and streams it to disk through the saving service worker: the downloaded bytes are the deposited file's,
exactly, and the page's memory does not grow with the file. A damaged file makes the download fail, and the page
says so. The vault is made in Python beforehand (as the page would make it: tests/test_vault_setup.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from core.data import vault_files, vault_keys
from core.data.db import db_session, utcnow
from core.data.models import Signup
from core.web.views import vault as vault_view
from tests.browser.conftest import PHONE
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import CAMPAIGN, run_worker
from tests.browser.test_vault_setup import log_in
from tests.test_signup import join_fully
from tests.test_vault_setup import PASSPHRASE, new_vault, unb64url

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

LONG_NAME = "tiktok-data-export-frida-files-2026-12-03-all-messages-comments-videos-and-login-history.zip"
MB = 1_000_000


def vault_with_file(live_server: LiveServer, folder: Path, address: str, file: Path, name: str) -> Signup:
    """A participant of the TikTok Claim with a vault, and ``file`` deposited in it as ``name`` from TikTok."""
    app = live_server.app
    signup = join_fully(app, app.test_client(), "en", email=address, name="Frida Files")
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
    mapping = folder / "mapping.csv"
    mapping.write_text(f"reference,file,name\n{signup.token[:12]},{file.name},{name}\n")
    result = app.test_cli_runner().invoke(
        args=["vault", "deposit", str(mapping), "--campaign", CAMPAIGN, "--company", "tiktok"]
    )
    assert result.exit_code == 0, result.output
    return signup


def unlock(page: Page, live_server: LiveServer, address: str) -> None:
    log_in(page, live_server, address)
    page.get_by_role("link", name="Your vault").click()
    page.get_by_label("Your passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Your vault is unlocked.")).to_be_visible(timeout=20_000)


def test_a_file_is_listed_as_a_visitor_reads_it_saved_and_fails_when_damaged_or_cut_off(
    phone: PhonePage, live_server: LiveServer, tmp_path: Path, save_screenshot
) -> None:
    address = "vault-files@example.org"
    content = os.urandom(1_300_000)  # more than one chunk of the vault format
    (tmp_path / "answer.zip").write_bytes(content)
    signup = vault_with_file(live_server, tmp_path, address, tmp_path / "answer.zip", LONG_NAME)
    page = phone.page
    unlock(page, live_server, address)

    item = page.locator(".vault-files__item")
    expect(item.locator(".vault-files__name")).to_have_text(LONG_NAME)
    today = f"{dt.datetime.now(ZoneInfo('Europe/Amsterdam')):%-d %B %Y}"  # the campaign's day, in British English
    facts = item.locator("dl")
    expect(facts).to_contain_text(f"FromTikTokCampaignTikTok ClaimReceived{today}Size1.3 MBTypeZIP archive")
    expect(page.get_by_text("is saved as it opens")).to_be_visible()  # this browser streams to disk
    # The TikTok Claim has no end date: the rule is said instead of a date (tests/test_vault_retention.py has dates).
    expect(item.locator("[data-kept-until]")).to_have_text(
        "Kept until 365 days after the campaign ends (its end date is not set yet)"
    )
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "vault-files-en")

    with page.expect_download(timeout=30_000) as download_info:
        item.get_by_role("button", name="Open and save").click()
    download = download_info.value
    assert download.suggested_filename == LONG_NAME
    assert Path(download.path()).read_bytes() == content
    expect(item.get_by_role("status")).to_have_text("Saved: your browser’s downloads show the file.")

    # The stored file damaged (one byte of its last chunk): the download has begun, and fails; the page says so.
    app = live_server.app
    with app.app_context():
        [stored] = vault_files.files_of(db_session(), signup.email_hash)
        path = app.extensions["claimsite"].vault_store.path(stored.store_key)
    damaged = bytearray(path.read_bytes())
    damaged[-20] ^= 1
    path.write_bytes(bytes(damaged))
    with page.expect_download(timeout=30_000) as download_info:
        item.get_by_role("button", name="Open and save").click()
    assert download_info.value.failure() is not None
    expect(item.get_by_role("alert")).to_contain_text("damaged", timeout=20_000)
    expect(item.get_by_role("alert")).to_contain_text("The download was stopped")

    # The connection lost (the store holds half the file, the server promised all of it): the page asks for the
    # range again a few times, then says so; nothing was saved, since the first range never came whole (the file
    # is smaller than one range).
    path.write_bytes(bytes(damaged[: len(damaged) // 2]))
    downloads: list[object] = []
    page.on("download", lambda download: downloads.append(download))
    item.get_by_role("button", name="Open and save").click()
    expect(item.get_by_role("alert")).to_contain_text("The connection was lost while opening this file", timeout=30_000)
    assert downloads == []

    # The Dutch page lists it with the date in Dutch (the texts themselves are translated after merging).
    page.goto(live_server.url(CAMPAIGN, "/my/vault"))
    page.locator("#vault-unlock").fill(PASSPHRASE)
    page.locator("form[data-unlock] button[type=submit]").click()
    day = dt.datetime.now(ZoneInfo("Europe/Amsterdam"))  # the campaign's day
    month = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
             "november", "december"][day.month - 1]  # fmt: skip
    expect(item.locator("dl")).to_contain_text(f"{day.day} {month} {day.year}")
    expect(item.locator("dl")).to_contain_text("1,3 MB")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "vault-files-nl")


def live_heap(cdp) -> int:  # type: ignore[no-untyped-def]
    """What the page's JavaScript still holds after a garbage collection: its heap and the ArrayBuffers outside it
    (where decrypted chunks sit)."""
    cdp.send("HeapProfiler.collectGarbage")
    usage = cdp.send("Runtime.getHeapUsage")
    return int(usage["usedSize"] + usage.get("backingStorageSize", 0))


def test_a_large_file_streams_to_disk_with_memory_that_does_not_grow(
    phone: PhonePage, live_server: LiveServer, tmp_path: Path
) -> None:
    address = "vault-large@example.org"
    size = 120 * MB
    source = tmp_path / "large.zip"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(size // MB):
            block = os.urandom(MB)
            digest.update(block)
            out.write(block)
    vault_with_file(live_server, tmp_path, address, source, "large.zip")
    page = phone.page
    unlock(page, live_server, address)
    expect(page.get_by_text("is saved as it opens")).to_be_visible()

    # Sampled while the file is saved, after a garbage collection each time: what the page still holds. A page
    # that kept the decrypted file (or most of it) would hold tens of MB more with every sample.
    cdp = page.context.new_cdp_session(page)
    before = live_heap(cdp)
    samples: list[int] = []
    with page.expect_download(timeout=120_000) as download_info:
        page.get_by_role("button", name="Open and save").click()
    download = download_info.value
    status = page.locator(".vault-files__item").get_by_role("status")
    deadline = time.monotonic() + 180
    while "Saved" not in status.inner_text() and time.monotonic() < deadline:
        samples.append(live_heap(cdp))
    saved = Path(download.path())
    assert saved.stat().st_size == size
    with saved.open("rb") as got:
        assert hashlib.file_digest(got, "sha256").digest() == digest.digest()
    peak = max(samples)
    print(f"page memory: {before / MB:.1f} MB before, at most {peak / MB:.1f} MB in {len(samples)} samples while "
          f"saving {size / MB:.0f} MB")  # fmt: skip
    assert len(samples) >= 3, "the file was saved before the page's memory could be sampled: make it larger"
    grown = peak - before
    assert grown < 32 * MB, f"the page's memory grew by {grown / MB:.1f} MB while saving a {size / MB:.0f} MB file"


def test_without_service_workers_a_file_opens_in_memory_up_to_the_stated_size(
    chromium_browser: Browser, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = "vault-memory@example.org"
    content = os.urandom(1_300_000)
    (tmp_path / "answer.zip").write_bytes(content)
    vault_with_file(live_server, tmp_path, address, tmp_path / "answer.zip", "answer.zip")
    context = chromium_browser.new_context(viewport=PHONE, service_workers="block")  # as a private window may
    try:
        page = context.new_page()
        unlock(page, live_server, address)
        expect(page.get_by_text("so it can open files up to 500 MB")).to_be_visible()
        with page.expect_download(timeout=30_000) as download_info:
            page.get_by_role("button", name="Open and save").click()
        assert Path(download_info.value.path()).read_bytes() == content
        expect(page.get_by_text("Opened: your browser saves it as a download.")).to_be_visible()

        monkeypatch.setattr(vault_view, "MAX_OPEN_MB", 1)  # the stated size, lowered below this file's
        page.reload()
        page.get_by_label("Your passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock").click()
        page.get_by_role("button", name="Open and save").click()
        expect(page.get_by_role("alert")).to_contain_text("This file is larger than 1 MB")
    finally:
        context.close()
