"""The staff part of a data request in a real browser, on a desktop (1280 px): three participants of alledata
(reopened, round-1 tomorrow) uploaded ID copies; an admin opens each copy with the key file and accepts it, goes to
the campaign's Data requests, prepares round-1 with the key file, waits for it and downloads the packages (one
verified by its manifest), marks TikTok and Zoom sent, records an extension for Zoom and an answer for TikTok, and
the timelines show each state and date."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.data.db import db_session
from core.data.models import CompanyRequest
from core.data_requests.deadlines import deadline
from core.exports.round_package import verify_round_package
from tests.browser.conftest import serve_app
from tests.browser.test_staff_console import add_account, log_in
from tests.conftest import CampaignFolder
from tests.test_data_request_join import reopened
from tests.test_request_rounds import ROUND_1, ROUND_2, TODAY, join

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def rounds_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app over a copy of the campaigns in which alledata is open again, its round-1 tomorrow."""
    folder = CampaignFolder(tmp_path_factory.mktemp("campaigns-rounds"))
    rounds = [{"id": "round-1", "submit_on": ROUND_1.isoformat()}, {"id": "round-2", "submit_on": ROUND_2.isoformat()}]
    campaigns = reopened(folder, rounds=rounds)
    instance = tmp_path_factory.mktemp("rounds-instance")
    with serve_app(instance, thread_name="browser-staff-requests", campaigns_dir=campaigns) as server:
        yield server


def day(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


def test_an_admin_accepts_the_id_copies_prepares_round_1_and_records_what_the_companies_did(
    phone: PhonePage, rounds_server: LiveServer, save_screenshot, tmp_path: Path
) -> None:
    app = rounds_server.app
    tiktok_and_zoom = {"detail-tiktok-username": "@anna", "detail-zoom-account-email": "anna@example.org"}
    join(app, "Anna de Vries", "anna@example.org", id_proof="received", company=["tiktok", "zoom"], **tiktok_and_zoom)
    join(app, "Bob Jansen", "bob@example.org", id_proof="received", company=["zoom"],
         **{"detail-zoom-account-email": "bob@example.org"})  # fmt: skip
    join(app, "Carl Smit", "carl@example.org", id_proof="received", company=["tiktok"],
         **{"detail-tiktok-username": "@carl"})  # fmt: skip
    secret = add_account(rounds_server, "mira@somi.nl", "Mira Admin", "--role", "admin")
    private_key = app.extensions["claimsite"].settings.development_key_pair()[0]
    console = f"http://staff.localhost:{rounds_server.port}"

    page = phone.page
    page.set_viewport_size(DESKTOP)
    log_in(page, f"{console}/campaigns/alledata/identity", "mira@somi.nl", secret)

    # The ID copies: each opened with the key file and accepted.
    expect(page.get_by_role("heading", name="ID copies")).to_be_visible()
    for accepted in range(3):
        page.get_by_role("link", name="Review").first.click()
        page.get_by_label("The foundation's private key file", exact=False).set_input_files(str(private_key))
        page.get_by_role("button", name="Open the copy").click()
        expect(page.locator(".id-image img")).to_be_visible()
        if accepted == 0:
            save_screenshot(page, "staff-requests-id-copy-opened")
        page.get_by_role("button", name="Accept", exact=False).click()
        expect(page.get_by_role("status")).to_contain_text("Accepted")
    expect(page.get_by_text("None: every copy received has been decided.")).to_be_visible()

    # The Data requests page, from the campaign's page: nothing prepared, who waits.
    page.get_by_role("link", name="All your data", exact=False).first.click()
    page.get_by_role("link", name="Data requests").click()
    expect(page.get_by_role("heading", name="Data requests", exact=False)).to_be_visible()
    round_1 = page.locator("#round-round-1")
    expect(round_1.locator("#round-1-tiktok")).to_contain_text("Not prepared")
    expect(round_1.locator("#round-1-zoom")).to_contain_text("2 participant(s) wait for it")
    save_screenshot(page, "staff-requests-before")

    # Prepare round-1 with the key file: an export, with its progress, then one ZIP of the company packages.
    prepare = round_1.locator("form.prepare")
    prepare.get_by_label("The foundation's private key file", exact=False).set_input_files(str(private_key))
    prepare.get_by_role("button", name="Prepare round-1").click()
    expect(page.get_by_role("heading", name="Data requests of a round", exact=False)).to_be_visible()
    expect(page.get_by_text("Done:", exact=False)).to_be_visible(timeout=60_000)  # the page refreshes itself
    expect(page.get_by_text("Done: 4 participant(s)", exact=False)).to_be_visible()
    save_screenshot(page, "staff-requests-prepared")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    bundle = zipfile.ZipFile(Path(download_info.value.path()))
    assert sorted(bundle.namelist()) == ["alledata-round-1-tiktok.zip", "alledata-round-1-zoom.zip"]
    with app.app_context():
        manifests = {r.company: r.manifest_sha256 for r in db_session().scalars(select(CompanyRequest))}
    check = verify_round_package(io.BytesIO(bundle.read("alledata-round-1-zoom.zip")), manifests["zoom"])
    assert check.ok, check.problems

    page.get_by_role("link", name="Data requests").click()
    tiktok, zoom = page.locator("#round-1-tiktok"), page.locator("#round-1-zoom")
    expect(tiktok).to_contain_text("Prepared, not sent")
    expect(tiktok).to_contain_text(manifests["tiktok"])
    expect(zoom).to_contain_text("2 participant(s)")

    # Sent: TikTok by e-mail 40 days ago, Zoom by letter 10 days ago.
    tiktok.get_by_label("Sent on").fill(day(-40))
    tiktok.get_by_role("button", name="Mark sent").click()
    expect(page.get_by_role("status")).to_contain_text(f"sent on {day(-40)}, received on {day(-40)}")
    tiktok, zoom = page.locator("#round-1-tiktok"), page.locator("#round-1-zoom")
    expect(tiktok).to_contain_text("OVERDUE")  # a month and more since it was received
    zoom.get_by_label("Sent on").fill(day(-10))
    zoom.get_by_label("By").select_option("letter")
    zoom.get_by_role("button", name="Mark sent").click()
    expect(page.get_by_role("status")).to_contain_text(f"received on {day(-7)} (assumed for letter)")

    # Zoom claims two further months in time; TikTok answered in full.
    zoom = page.locator("#round-1-zoom")
    zoom.get_by_label("What happened").select_option("extension")
    zoom.get_by_label("On", exact=True).fill(day(-5))
    zoom.get_by_label("Further months", exact=False).fill("2")
    zoom.get_by_role("button", name="Record").click()
    zoom_due = deadline(TODAY - dt.timedelta(days=7), "NL", extension_claimed_on=TODAY - dt.timedelta(days=5),
                        extension_months=2).due  # fmt: skip
    expect(page.get_by_role("status")).to_contain_text(f"now due {zoom_due.isoformat()}")
    tiktok = page.locator("#round-1-tiktok")
    tiktok.get_by_label("What happened").select_option("answered")
    tiktok.get_by_label("On", exact=True).fill(day(-1))
    tiktok.get_by_label("Answer", exact=False).select_option("full")
    tiktok.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_contain_text("answered recorded")

    tiktok, zoom = page.locator("#round-1-tiktok"), page.locator("#round-1-zoom")
    expect(tiktok).to_contain_text("Answered")
    expect(tiktok.locator("li.step-sent")).to_contain_text(day(-40))
    expect(tiktok.locator("li.step-received")).to_contain_text("assumed for email")
    expect(tiktok.locator("li.step-answered")).to_contain_text(f"{day(-1)} answered: answer: full")
    expect(zoom).to_contain_text("Sent, open")
    expect(zoom).to_contain_text(f"due {zoom_due.isoformat()}")
    expect(zoom.locator("li.step-received")).to_contain_text(day(-7))
    expect(zoom.locator("li.step-extension")).to_contain_text(f"{day(-5)} extension: 2 further month(s) claimed")
    expect(page.locator("#round-1-palantir")).to_contain_text("Not prepared")
    save_screenshot(page, "staff-requests-timeline")
