"""The participant's copy of their mandate, opened in a real browser on a phone from the link in the confirmation
mail, delivered by a real SMTP server (issue 21): the page takes the key from the link's fragment, removes it from the
address bar, decrypts the copy with Web Crypto and saves the PDF, byte for byte the mandate the foundation's private
key opens from its sealed copy. A tampered key, a link without its key and a browser without JavaScript each get
their message, in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from core.data.models import Signup
from tests.browser.conftest import PHONE, serve_app
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_signup_flow import CAMPAIGN, choose_fee_option, fill_english_form, run_worker, tick_agreements
from tests.conftest import opened_personal_data
from tests.smtp_server import SMTPServer

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

ADDRESS = "mandate.copy@example.org"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def mailing_server(tmp_path_factory: pytest.TempPathFactory, smtp: SMTPServer) -> Iterator[LiveServer]:
    """The app served on loopback (as the other browser tests serve it), its mail sent to ``smtp``."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("CLAIMSITE_MAIL_URL", smtp.url)
        with serve_app(tmp_path_factory.mktemp("mandate-copy-instance"), thread_name="mandate-copy-site") as server:
            yield server


def mail_to(smtp: SMTPServer, address: str, subject: str) -> EmailMessage:
    found = [
        r.message for r in smtp.messages if address in str(r.message["To"]) and subject in str(r.message["Subject"])
    ]
    assert found, [str(r.message["Subject"]) for r in smtp.messages]
    return found[-1]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()  # type: ignore[no-any-return]


def join_in_the_browser(page: Page, server: LiveServer, smtp: SMTPServer) -> None:
    """Join the TikTok claim in English: the form, the code from the mail, the agreements, a typed name, the test
    checkout; the done page."""
    page.goto(server.url(CAMPAIGN, "/en/join"))
    fill_english_form(page, "Mandy Copy", ADDRESS, ("Kerkstraat 1", "1234 AB", "Utrecht"), "1980-02-29", "NL")
    assert run_worker(server) >= 1
    code = re.search(r"\b(\d{6})\b", str(mail_to(smtp, ADDRESS, "verification code")["Subject"]))
    assert code
    page.get_by_label("Verification code (6 digits)").fill(code.group(1))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url(re.compile(r"/en/join/sign$"))
    tick_agreements(page)
    choose_fee_option(page, "flat")
    page.get_by_label("Or type your full name as your signature").fill("Mandy Copy")
    page.get_by_role("button", name="Sign and continue to payment").click()
    page.locator("#pay-now").click()
    page.wait_for_url(re.compile(r"/payments/test/[^/]+$"))
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/en/join/done$"))


def saved_pdf(page: Page) -> bytes:
    save = page.get_by_role("link", name="Save the PDF")
    expect(save).to_be_visible()
    with page.expect_download() as info:
        save.click()
    download = info.value
    assert download.suggested_filename == f"mandate-{CAMPAIGN}.pdf"
    data = Path(download.path()).read_bytes()
    download.delete()
    return data


def test_the_mandate_link_opens_the_copy_in_the_browser_only(
    phone: PhonePage, mailing_server: LiveServer, smtp: SMTPServer, chromium_browser: Browser, save_screenshot
) -> None:
    page = phone.page
    join_in_the_browser(page, mailing_server, smtp)
    assert run_worker(mailing_server) >= 2  # the mandate, then the confirmation mail
    page.reload()
    expect(page.locator("main")).to_contain_text("We sent you a confirmation e-mail with your signed mandate attached.")
    expect(page.locator("main a[href*='/mandate/']")).to_have_count(0)  # the server holds no key any more

    confirmation = mail_to(smtp, ADDRESS, "You have joined")
    [attachment] = [part for part in confirmation.iter_attachments() if part.get_content_type() == "application/pdf"]
    link = re.search(r"http://\S+/en/mandate/[^\s#]+#([A-Za-z0-9_-]+)", text_of(confirmation))
    assert link and link.group(0).startswith(mailing_server.url(CAMPAIGN, "/en/mandate/")), text_of(confirmation)
    key = link.group(1)

    page.goto(link.group(0))
    pdf = saved_pdf(page)
    with mailing_server.app.app_context():
        from core.data.db import db_session

        signup = (
            db_session().scalars(select(Signup).where(Signup.campaign == CAMPAIGN).order_by(Signup.id.desc())).first()
        )
        sealed = opened_personal_data(mailing_server.app, signup).mandate_pdf
    assert pdf.startswith(b"%PDF") and pdf == sealed == attachment.get_content()
    assert "#" not in page.url and page.evaluate("location.hash") == ""  # the key left the address bar
    expect(page.get_by_role("status")).to_have_text("Your mandate is open. Save it where you keep your documents.")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "mandate-copy-opened")
    assert not any(key in url for url in phone.requests if "#" not in url), "the key was sent in a request"

    # A reload (the key kept in this tab only) opens it again.
    page.reload()
    assert saved_pdf(page) == pdf

    # A changed key, opened in a new tab as a link from a mail is: the message, and nothing to save.
    for changed in (60, len(key) - 3):  # in the private key, and in the public point after it
        tampered = key[:changed] + ("A" if key[changed] != "A" else "B") + key[changed + 1 :]
        wrong = page.context.new_page()
        wrong.goto(link.group(0).replace(key, tampered))
        expect(wrong.get_by_role("alert")).to_contain_text("The key in this link does not open your mandate")
        expect(wrong.get_by_role("link", name="Save the PDF")).to_be_hidden()
        assert "#" not in wrong.url
        save_screenshot(wrong, f"mandate-copy-wrong-key-{changed}")
        wrong.close()

    # The link without its key, in a new tab.
    other = page.context.new_page()
    other.goto(link.group(0).split("#")[0])
    expect(other.get_by_role("alert")).to_contain_text("This link is missing the key that opens your mandate")
    expect(other.locator("main")).to_contain_text("attached, as a PDF, to the confirmation e-mail")
    other.close()

    # Without JavaScript: the page says why, and where else the mandate is.
    context = chromium_browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB")
    try:
        plain = context.new_page()
        plain.goto(link.group(0))
        expect(plain.locator("[data-needs-js]")).to_contain_text("Opening your mandate needs JavaScript")
        expect(plain.locator("main")).to_contain_text("attached, as a PDF, to the confirmation e-mail")
    finally:
        context.close()
