"""A data request on a phone (390 px), in a real browser: alledata reopened, a person joins in Dutch, chooses two
companies and names a third, signs, blacks out and uploads a photo of their ID; then, in English, the participant's
page shows the companies and where the ID copy stands, and takes a new copy after staff rejected the first."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from flask_babel import force_locale, gettext
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.data import identity_proofs
from core.data.db import db_session
from core.data.models import IdentityProof, ProofState, RequestChoice
from core.i18n import addressing
from core.sealing import OpeningKeys
from tests.browser.conftest import PHONE, serve_app
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow
from tests.browser.test_id_blackout import drag_with_finger, drag_with_mouse
from tests.browser.test_signup_flow import newest_mail_to, run_worker, text_part
from tests.conftest import CampaignFolder

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

CAMPAIGN = "alledata"
ADDRESS = "noor.bakker@example.org"


@pytest.fixture(scope="module")
def data_request_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app over a copy of the campaigns in which alledata is open again."""
    folder = CampaignFolder(tmp_path_factory.mktemp("campaigns-reopened"))
    folder.copy_shipped()
    path = folder.path / "alledata.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("\nstatus: closed\n", "\nstatus: open\n"), "utf-8")
    instance = tmp_path_factory.mktemp("data-request-instance")
    with serve_app(instance, thread_name="browser-data-request", campaigns_dir=folder.path) as server:
        yield server


def id_photo() -> bytes:
    """A white 'card' photo, landscape, as a phone stores it."""
    out = io.BytesIO()
    Image.new("RGB", (1200, 760), "white").save(out, "JPEG", quality=95)
    return out.getvalue()


def code_from_mail(server: LiveServer) -> str:
    assert run_worker(server) >= 1
    found = re.search(r"\b(\d{6})\b", str(newest_mail_to(server, ADDRESS)["Subject"]))
    assert found
    return found.group(1)


def test_joining_a_data_request_on_a_phone(
    phone: PhonePage, data_request_server: LiveServer, save_screenshot, tmp_path: Path
) -> None:
    server = data_request_server
    page: Page = phone.page

    def dutch(msgid: str, **values: str) -> str:
        with server.app.test_request_context(), force_locale("nl"), addressing("u"):  # alledata's Dutch says "u"
            return " ".join(gettext(msgid, **values).split())

    page.goto(server.url(CAMPAIGN, "/join"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    page.get_by_label("Volledige naam", exact=True).press_sequentially("Noor Bakker")
    page.get_by_label("E-mailadres", exact=True).press_sequentially(ADDRESS)
    page.get_by_label("Geboortedatum", exact=True).fill("1988-02-29")
    page.get_by_role("button", name="Verder").click()
    page.wait_for_url(re.compile(r"/join/verify$"))
    page.get_by_label("Verificatiecode (6 cijfers)").press_sequentially(code_from_mail(server))
    page.get_by_role("button", name="Verifiëren", exact=True).click()

    # The companies: two ticked, a third named; what TikTok needs to find them is asked, the rest is kept.
    page.wait_for_url(re.compile(r"/join/companies$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(dutch("Which companies should we ask for your data?"))
    progress = page.locator(".progress [aria-current=step]")
    expect(progress).to_have_text(dutch("Companies"))
    page.get_by_role("checkbox", name=re.compile("TikTok")).check()
    page.get_by_role("checkbox", name=re.compile("Zoom")).check()
    page.get_by_label(dutch("Another company"), exact=False).fill("Acme Data BV")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "data-request-companies")
    page.get_by_role("button", name=dutch("Continue to the power of attorney")).click()
    expect(page.locator("#errors")).to_be_visible()  # TikTok's user name is needed
    expect(page.locator("#errors")).to_contain_text(
        dutch("Please fill this in: the company needs it to find your data.")
    )
    expect(page.get_by_label(dutch("Another company"), exact=False)).to_have_value("Acme Data BV")
    page.get_by_label(re.compile("TikTok-gebruikersnaam")).fill("@noor")
    page.get_by_role("button", name=dutch("Continue to the power of attorney")).click()

    # The power of attorney names the companies chosen.
    page.wait_for_url(re.compile(r"/join/sign$"))
    mandate = " ".join(page.locator(".agreement__text").first.inner_text().split())
    assert "TikTok Technology Ltd." in mandate and "Zoom Video Communications, Inc." in mandate
    assert "‘Acme Data BV’" in mandate and "Palantir" not in mandate
    for box in page.locator("input[type=checkbox][name^='agree-']").all():
        box.check()
    page.get_by_label(dutch("Or type your full name as your signature")).fill("Noor Bakker")
    page.locator("#sign-form button[type=submit]").click()

    # Done: the ID copy is the next step; black out two boxes and send it.
    page.wait_for_url(re.compile(r"/join/done$"))
    run_worker(server)
    page.get_by_role("link", name=dutch("Upload a copy of your ID document")).click()
    page.wait_for_url(re.compile(r"/join/identity$"))
    page.locator("input[name=document]").set_input_files(
        files=[{"name": "paspoort.jpg", "mimeType": "image/jpeg", "buffer": id_photo()}]
    )
    expect(page.locator("canvas[data-canvas]")).to_be_visible()
    photo_box, number_box = (0.05, 0.2, 0.35, 0.8), (0.5, 0.1, 0.95, 0.25)
    drag_with_finger(page, photo_box)
    drag_with_mouse(page, number_box)
    expect(page.locator("[data-status]")).to_have_text(dutch("Black boxes: %(count)s.", count="2"))
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "data-request-identity")
    page.get_by_role("button", name=dutch("Send my ID copy")).click()
    page.wait_for_url(re.compile(r"/join/done$"))
    expect(page.get_by_test_id("identity-state").first).to_contain_text(
        dutch("We received your ID copy on %(date)s. We will check it before the requests go out.", date="")
        .split("%")[0]
        .strip()[:20]
    )
    save_screenshot(page, "data-request-done")

    with server.app.app_context():
        db = db_session()
        assert sorted(db.scalars(select(RequestChoice.company))) == ["other", "tiktok", "zoom"]
        proof = db.scalars(select(IdentityProof)).one()
        private_key = server.app.extensions["claimsite"].settings.development_key_pair()[0]
        image = identity_proofs.open_image(proof, OpeningKeys.from_files([private_key]))
        assert image is not None
        pixels = np.asarray(Image.open(io.BytesIO(image)).convert("L"))
        assert pixels.shape == (760, 1200)
        for box in (photo_box, number_box):
            x1, y1, x2, y2 = (round(f * side) for f, side in zip(box, (1200, 760, 1200, 760), strict=True))
            assert pixels[y1 + 10 : y2 - 10, x1 + 10 : x2 - 10].max() < 40  # black where it was drawn
        assert pixels[5:40, 500:560].min() > 215  # white elsewhere
        # Staff reject it (the console's review: tested there); the participant reads why on their page.
        assert identity_proofs.review(db, proof, False, None, proof.received_at, "The photo is too dark to read.")
        db.commit()

    # The participant's page, in English: log in with the link by mail.
    page.goto(server.url(CAMPAIGN, "/en/my"))
    page.get_by_label("E-mail address").fill(ADDRESS)
    page.get_by_role("button", name=re.compile("login link", re.IGNORECASE)).click()
    run_worker(server)
    link = re.search(r"(https?://\S+/my/login/\S+)", text_part(newest_mail_to(server, ADDRESS)))
    assert link
    page.goto(link.group(1))
    page.get_by_role("button", name=re.compile("log in", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r"/my$"))
    card = page.locator("article.participation")
    expect(card.get_by_test_id("request-1")).to_have_text(
        "TikTok: we will send your request on the next submission date."  # alledata's rounds were in 2021
    )
    expect(card.get_by_test_id("request-2")).to_contain_text("Zoom:")
    expect(card).to_contain_text("Not accepted: The photo is too dark to read.")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "data-request-my-page")
    card.get_by_role("link", name="Upload a copy of your ID document").click()
    page.locator("input[name=document]").set_input_files(
        files=[{"name": "id.jpg", "mimeType": "image/jpeg", "buffer": id_photo()}]
    )
    drag_with_mouse(page, photo_box)
    page.get_by_role("button", name="Send my ID copy").click()
    page.wait_for_url(re.compile(r"/my$"))
    expect(page.locator("article.participation")).to_contain_text("we will check it")
    with server.app.app_context():
        states = [p.state for p in db_session().scalars(select(IdentityProof).order_by(IdentityProof.id))]
        assert states == [ProofState.REJECTED, ProofState.RECEIVED]
    assert PHONE["width"] == 390
