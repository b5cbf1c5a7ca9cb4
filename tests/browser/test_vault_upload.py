"""The console's upload into a participant's vault in a real browser (issue 21): a staff member finds a sign-up by
its reference, chooses the company and two files (one of some tens of MB), and chromium encrypts each as it reads
it (js/vault_crypto.js) and sends only ciphertext, in pieces (one of them sent again after the network failed).
What the store holds opens, in Python, with the participant's private key, byte for byte; the participant gets one
arrival mail. No plaintext byte reaches the server's temporary folder or the store: the marker that fills the files
is found in neither. For a participant without a vault the page says the file will be held for them."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.data import vault_keys
from core.data.db import db_session, utcnow
from core.data.models import AuditEntry, Job, VaultFile
from core.vault.stream_format import decrypt_stream, generate_key_pair
from tests.browser.test_signup_flow import run_worker
from tests.browser.test_staff_console import add_account, log_in
from tests.test_signup import join_fully

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

MARKER = b"PLAINTEXT-OF-ANNAS-ANSWER "
BIG = 28 * 1024 * 1024 + 12_345  # four pieces of ciphertext, the last a short one


def marked_file(path: Path, size: int) -> bytes:
    content = (MARKER * (size // len(MARKER) + 1))[:size]
    path.write_bytes(content)
    return content


def files_holding(folder: Path, needle: bytes) -> list[Path]:
    """The files under ``folder`` that hold ``needle`` anywhere (read in blocks that overlap by its length)."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        with path.open("rb") as file:
            tail = b""
            while block := file.read(1 << 20):
                if needle in tail + block:
                    found.append(path)
                    break
                tail = block[-len(needle) :]
    return found


def test_staff_upload_two_files_encrypted_in_the_browser_and_a_participant_without_a_vault_gets_them_held(
    phone: PhonePage,
    live_server: LiveServer,
    save_screenshot: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = live_server.app
    run_worker(live_server)  # mail an earlier test on this shared server left queued
    anna = join_fully(app, app.test_client(), "en", email="anna.upload@example.org", name="Anna Upload")
    run_worker(live_server)  # the mandate and the confirmation
    bob = join_fully(app, app.test_client(), "en", email="bob.upload@example.org", name="Bob Novault")
    run_worker(live_server)
    private, public_raw = generate_key_pair()  # Anna's vault, as her browser would have made it
    with app.app_context():
        assert (
            vault_keys.set_up(db_session(), anna.email_hash, public_raw, "{}", "{}", utcnow()) is vault_keys.SetUp.DONE
        )
        mail_jobs_before = len(db_session().scalars(select(Job).where(Job.kind == "mail")).all())
    big = marked_file(tmp_path / "tiktok-export-anna.zip", BIG)
    small = marked_file(tmp_path / "videos.csv", 40_000)
    # Whatever the server would spool (a request body parsed as a form) lands here, in this process's server thread.
    spool = tmp_path / "server-temp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))

    secret = add_account(live_server, "uploader@somi.nl", "Uma Uploader", "--role", "admin")
    console = f"http://staff.localhost:{live_server.port}"
    page = phone.page
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, f"{console}/vault-upload", "uploader@somi.nl", secret)
    expect(page.get_by_role("heading", name="Upload a company's answer to a participant's vault")).to_be_visible()

    # A participant without a vault: the page says a file will be held for them (tests/test_vault_upload.py uploads
    # one; without a holding key configured it refuses instead).
    page.get_by_label("Reference").fill(bob.token[:12])
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#held-note")).to_contain_text("This participant has no vault yet. What you upload is")
    expect(page.locator("#vault-state")).to_have_text("not set up yet: files are held for them")
    save_screenshot(page, "staff-vault-upload-no-vault")

    page.get_by_label("Reference").fill(anna.token[:12])
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#vault-state")).to_have_text("set up")
    page.get_by_label("Company", exact=True).select_option("")
    page.get_by_label("Another company's name").fill("TikTok Technology Ltd")
    page.get_by_label("Files", exact=False).set_input_files(
        [str(tmp_path / "tiktok-export-anna.zip"), str(tmp_path / "videos.csv")]
    )
    # The network fails once under the second piece of the large file: the page sends it again.
    attempts: list[str] = []

    def fail_once(route: Any) -> None:
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/vault-uploads/*/pieces/1", fail_once)
    page.get_by_role("button", name="Encrypt and upload").click()
    rows = page.locator("#vault-upload-list li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("In the vault.", timeout=180_000)
    expect(rows.nth(1)).to_contain_text("In the vault.", timeout=60_000)
    expect(page.locator("#vault-upload-error")).to_be_hidden()
    assert len(attempts) == 2 and attempts[0] == attempts[1]  # piece 1 of the large file, sent twice, stored once
    save_screenshot(page, "staff-vault-upload-done")

    with app.app_context():
        db = db_session()
        stored = list(db.scalars(select(VaultFile).where(VaultFile.email_hash == anna.email_hash)))
        mail_jobs = len(db.scalars(select(Job).where(Job.kind == "mail")).all())
        actions = [
            entry.action for entry in db.scalars(select(AuditEntry).where(AuditEntry.actor == "uploader@somi.nl"))
        ]
        db.expunge_all()
    by_name = {row.file_name: row for row in stored}
    assert sorted(by_name) == ["tiktok-export-anna.zip", "videos.csv"]
    assert {row.company for row in stored} == {"TikTok Technology Ltd"}
    store = app.extensions["claimsite"].vault_store
    for name, plain in (("tiktok-export-anna.zip", big), ("videos.csv", small)):
        row = by_name[name]
        assert row.size_plain == len(plain) and row.notified_at is not None
        with store.open(row.store_key) as file:
            cipher = file.read()
        assert len(cipher) == row.size_cipher and MARKER not in cipher
        out = io.BytesIO()
        decrypt_stream(io.BytesIO(cipher), out, private)
        assert out.getvalue() == plain  # byte for byte what the staff member chose
    assert mail_jobs == mail_jobs_before + 1  # one arrival mail for both files
    assert actions.count("vault-upload") == 2 and actions.count("vault-upload-mail") == 1

    # No request body was spooled, and no plaintext is anywhere the server wrote.
    assert list(spool.rglob("*")) == []
    assert files_holding(live_server.instance_dir, MARKER) == []
    run_worker(live_server)
    assert files_holding(live_server.instance_dir, MARKER) == []  # the arrival mail names nothing either
