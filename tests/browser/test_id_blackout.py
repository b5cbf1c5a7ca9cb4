"""The ID blackout canvas (identity/_blackout.html, js/id_blackout.js) on a phone (390 px), on a page of the test's
own: a form around the partial, on alledata's real base layout, whose POST runs ``clean_id_image`` on the upload and
keeps what arrived for the test to look at. The join flow does not use the partial yet; this tests the piece itself.

With JavaScript the visitor chooses a photo whose EXIF says to turn it, drags black boxes (with the mouse and with a
finger), undoes one and sends: the server must get the blacked-out image, upright, at the photo's own size, black
exactly where the boxes were. Without JavaScript the chosen file goes as it is.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pytest
from flask import render_template_string, request
from flask_babel import force_locale
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from core.data_requests.id_images import (
    CleanImage,
    IdImageProblem,
    IdImageRefused,
    clean_id_image,
    refusal_message,
)
from core.i18n import addressing
from core.web.rendering import page_context
from core.web.views.localized import localized_blueprint, localized_route
from tests.browser.conftest import PHONE, serve_app
from tests.browser.test_signup_flow import catalog_text as informal_text

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

CAMPAIGN = "alledata"
PATH = "/test/id-blackout"
STORED_SIZE = (1200, 800)  # as the camera stored it; EXIF orientation 6 shows it turned: 800 wide, 1200 high
SHOWN_SIZE = (800, 1200)
# The partial's advice for whoever cannot use the canvas (msgid; the page shows the catalog's Dutch).
MANUAL = (
    "Black out these parts before you choose the file, for example with the government's KopieID app, which makes a "
    "marked copy of your ID."
)
EDGE = 10  # image pixels left out around each box's edge: pointer rounding, and JPEG's ringing at a hard edge


def catalog_text(server: LiveServer, language: str, msgid: str, **values: str) -> str:
    """``msgid`` as alledata's pages say it: its Dutch addresses the visitor with "u" (formal.po)."""
    with server.app.test_request_context(), addressing("u"):
        return informal_text(server, language, msgid, **values)


@dataclass(frozen=True)
class Arrival:
    """One upload as the test page's POST got it."""

    filename: str
    content_type: str
    data: bytes
    clean: CleanImage | None
    refused: IdImageRefused | None


ARRIVALS: list[Arrival] = []

PAGE = """\
{% extends tpl("base.html") %}
{% from tpl("identity/_blackout.html") import id_blackout with context %}
{% block title %}ID – {{ campaign.name | t }}{% endblock %}
{% block main %}
<section class="flow wrap">
  <h1>{{ heading }}</h1>
  {% if not received %}
  <form method="post" enctype="multipart/form-data" class="form">
    <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
    {{ id_blackout(error=error) }}
    <button class="button button--large" type="submit">Versturen</button>
  </form>
  {% endif %}
</section>
{% endblock %}
"""

bp = localized_blueprint("id_blackout_test", __name__)


@localized_route(bp, PATH, methods=["GET", "POST"])
def blackout_page() -> str:
    """The partial inside a form; a POST keeps the upload and its cleaned image (or why it was refused)."""
    if request.method == "GET":
        return render_template_string(PAGE, **page_context(), heading="Uw identiteitsbewijs", error=None)
    upload = request.files["document"]
    data = upload.read()
    try:
        clean, refused = clean_id_image(data), None
    except IdImageRefused as exc:
        clean, refused = None, exc
    ARRIVALS.append(Arrival(upload.filename or "", upload.mimetype, data, clean, refused))
    if refused is not None:
        error = refusal_message(refused.reason)
        return render_template_string(PAGE, **page_context(), heading="Uw identiteitsbewijs", error=error)
    return render_template_string(PAGE, **page_context(), heading="Ontvangen", received=True)


@pytest.fixture(scope="module")
def blackout_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app with the test page's blueprint, registered before the app answers its first request."""
    with serve_app(tmp_path_factory.mktemp("blackout-instance"), thread_name="browser-blackout") as server:
        server.app.register_blueprint(bp)
        yield server


def turned_white_photo() -> bytes:
    """A white JPEG stored 1200 × 800 whose EXIF says orientation 6 (shown turned a quarter clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    Image.new("RGB", STORED_SIZE, "white").save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


Fractions = tuple[float, float, float, float]  # a box as fractions of the image's width and height: x1, y1, x2, y2


def canvas_area(page: Page) -> tuple[float, float, float, float]:
    """Where the canvas's image is on the screen now (CSS pixels, its border left out): left, top, width, height.
    Measured again before each drag: clicking a button may scroll the page."""
    canvas = page.locator("canvas[data-canvas]")
    canvas.evaluate("el => el.scrollIntoView({block: 'center', behavior: 'instant'})")  # clear of the sticky header
    return tuple(
        canvas.evaluate(
            "el => { const r = el.getBoundingClientRect();"
            " return [r.left + el.clientLeft, r.top + el.clientTop, el.clientWidth, el.clientHeight]; }"
        )
    )


def screen_points(page: Page, box: Fractions) -> list[tuple[float, float]]:
    """Seven points from the box's first corner to its opposite one, on the screen."""
    left, top, width, height = canvas_area(page)
    x1, y1, x2, y2 = box
    return [
        (left + (x1 + (x2 - x1) * step / 6) * width, top + (y1 + (y2 - y1) * step / 6) * height) for step in range(7)
    ]


def drag_with_mouse(page: Page, box: Fractions) -> None:
    points = screen_points(page, box)
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def drag_with_finger(page: Page, box: Fractions) -> None:
    """A one-finger drag as a touch screen reports it (Chromium's own touch events, through the DevTools protocol)."""
    points = screen_points(page, box)
    cdp = page.context.new_cdp_session(page)
    try:
        for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * 6, points, strict=True):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def image_box(box: Fractions) -> tuple[int, int, int, int]:
    """The box in the shown image's pixels: left, top, right, bottom."""
    x1, y1, x2, y2 = box
    return round(x1 * SHOWN_SIZE[0]), round(y1 * SHOWN_SIZE[1]), round(x2 * SHOWN_SIZE[0]), round(y2 * SHOWN_SIZE[1])


def test_boxes_drawn_on_a_phone_reach_the_server_black_on_the_upright_full_size_image(
    phone: PhonePage, blackout_server: LiveServer, save_screenshot
) -> None:
    def dutch(msgid: str, **values: str) -> str:
        return catalog_text(blackout_server, "nl", msgid, **values)

    page = phone.page
    page.goto(blackout_server.url(CAMPAIGN, PATH))
    expect(page.get_by_text(dutch(MANUAL))).to_be_hidden()  # the canvas takes its place
    page.locator("input[name=document]").set_input_files(
        files=[{"name": "paspoort Jan Jansen.jpg", "mimeType": "image/jpeg", "buffer": turned_white_photo()}]
    )
    expect(page.locator("canvas[data-canvas]")).to_be_visible()
    undo = page.get_by_role("button", name=dutch("Undo last box"))
    expect(undo).to_be_disabled()
    _left, _top, width, height = canvas_area(page)
    assert width <= PHONE["width"] and height / width == pytest.approx(1.5, abs=0.01)  # shown upright: portrait

    kept_first: Fractions = (0.10, 0.10, 0.45, 0.30)
    drag_with_mouse(page, kept_first)
    undone: Fractions = (0.90, 0.65, 0.55, 0.45)  # dragged from bottom right to top left
    drag_with_finger(page, undone)
    status = page.locator("[data-status]")
    expect(status).to_have_text(dutch("Black boxes: %(count)s.", count="2"))
    save_screenshot(page, "id-blackout-two-boxes")
    undo.click()
    expect(status).to_have_text(dutch("Black boxes: %(count)s.", count="1"))
    kept_second: Fractions = (0.20, 0.70, 0.60, 0.90)
    drag_with_finger(page, kept_second)
    expect(status).to_have_text(dutch("Black boxes: %(count)s.", count="2"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone
    save_screenshot(page, "id-blackout-drawn")

    arrived_before = len(ARRIVALS)
    page.get_by_role("button", name="Versturen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ontvangen", timeout=30_000)  # see the PNG test
    save_screenshot(page, "id-blackout-sent")

    assert len(ARRIVALS) == arrived_before + 1
    arrival = ARRIVALS[-1]
    assert arrival.refused is None and arrival.clean is not None
    assert (arrival.filename, arrival.content_type) == ("id-document.jpg", "image/jpeg")  # not the visitor's name
    clean = arrival.clean
    assert (clean.media_type, clean.width, clean.height) == ("image/jpeg", *SHOWN_SIZE)
    pixels = np.asarray(Image.open(io.BytesIO(clean.data)).convert("L"))
    assert pixels.shape == (SHOWN_SIZE[1], SHOWN_SIZE[0])
    near_a_box = np.zeros(pixels.shape, dtype=bool)
    for drag in (kept_first, kept_second):
        left, top, right, bottom = image_box(drag)
        inside = pixels[top + EDGE : bottom - EDGE, left + EDGE : right - EDGE]
        assert inside.size > 10_000 and inside.max() < 40, f"not black inside the box {left, top, right, bottom}"
        near_a_box[max(top - EDGE, 0) : bottom + EDGE, max(left - EDGE, 0) : right + EDGE] = True
    assert pixels[~near_a_box].min() > 215  # white everywhere else, where the undone box was too
    right, bottom, left, top = image_box(undone)
    assert pixels[top:bottom, left:right].min() > 215


def test_without_javascript_the_chosen_file_goes_as_it_is(
    chromium_browser: Browser, blackout_server: LiveServer, save_screenshot
) -> None:
    context = chromium_browser.new_context(
        viewport=PHONE, screen=PHONE, is_mobile=True, has_touch=True, locale="nl-NL", java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(blackout_server.url(CAMPAIGN, PATH))
        expect(page.locator("[data-editor]")).to_be_hidden()
        expect(
            page.get_by_text(catalog_text(blackout_server, "nl", MANUAL))
        ).to_be_visible()  # how to black it out without the canvas
        bsn = catalog_text(blackout_server, "nl", "your citizen service number (BSN)")
        expect(page.get_by_role("listitem").filter(has_text=bsn)).to_be_visible()
        photo = turned_white_photo()
        page.locator("input[name=document]").set_input_files(
            files=[{"name": "mijn-id.jpg", "mimeType": "image/jpeg", "buffer": photo}]
        )
        save_screenshot(page, "id-blackout-without-javascript")
        arrived_before = len(ARRIVALS)
        page.get_by_role("button", name="Versturen").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ontvangen", timeout=30_000)  # see the PNG test
    finally:
        context.close()
    assert len(ARRIVALS) == arrived_before + 1
    arrival = ARRIVALS[-1]
    assert (arrival.filename, arrival.data) == ("mijn-id.jpg", photo)  # the very file chosen
    assert arrival.clean == clean_id_image(photo)
    assert arrival.clean is not None and (arrival.clean.width, arrival.clean.height) == SHOWN_SIZE


def test_a_png_stays_a_png_no_larger_than_the_servers_limit_and_start_over_clears_every_box(
    phone: PhonePage, blackout_server: LiveServer
) -> None:
    page = phone.page
    page.goto(blackout_server.url(CAMPAIGN, PATH))
    scan = io.BytesIO()
    Image.new("RGB", (3200, 1000), "white").save(scan, "PNG")
    page.locator("input[name=document]").set_input_files(
        files=[{"name": "scan.png", "mimeType": "image/png", "buffer": scan.getvalue()}]
    )
    expect(page.locator("canvas[data-canvas]")).to_be_visible()
    status = page.locator("[data-status]")
    drag_with_finger(page, (0.05, 0.1, 0.3, 0.5))
    drag_with_mouse(page, (0.5, 0.5, 0.9, 0.9))
    expect(status).to_have_text(catalog_text(blackout_server, "nl", "Black boxes: %(count)s.", count="2"))
    page.get_by_role("button", name=catalog_text(blackout_server, "nl", "Start over")).click()
    expect(status).to_have_text(catalog_text(blackout_server, "nl", "Nothing blacked out yet."))
    kept: Fractions = (0.6, 0.2, 0.8, 0.6)
    drag_with_mouse(page, kept)
    arrived_before = len(ARRIVALS)
    page.get_by_role("button", name="Versturen").click()
    # Drawing 3,000 pixels wide again and encoding it as PNG takes headless chromium's software canvas (version 156)
    # several seconds on these machines: more than expect's default of 5.
    expect(page.get_by_role("heading", level=1)).to_have_text("Ontvangen", timeout=30_000)

    assert len(ARRIVALS) == arrived_before + 1
    arrival = ARRIVALS[-1]
    assert (arrival.filename, arrival.content_type) == ("id-document.png", "image/png")
    assert arrival.clean is not None
    assert (arrival.clean.media_type, arrival.clean.width, arrival.clean.height) == ("image/png", 3000, 938)
    pixels = np.asarray(Image.open(io.BytesIO(arrival.clean.data)).convert("L"))
    x1, y1, x2, y2 = (round(f * side) for f, side in zip(kept, (3000, 938, 3000, 938), strict=True))
    assert pixels[y1 + EDGE : y2 - EDGE, x1 + EDGE : x2 - EDGE].max() == 0  # PNG: black is exactly black
    pixels = pixels.copy()
    pixels[max(y1 - EDGE, 0) : y2 + EDGE, x1 - EDGE : x2 + EDGE] = 255
    assert pixels.min() == 255  # the boxes drawn before "start over" are gone


def test_a_file_the_browser_cannot_show_goes_as_it_is_and_the_server_says_what_to_do(
    phone: PhonePage, blackout_server: LiveServer
) -> None:
    page = phone.page
    page.goto(blackout_server.url(CAMPAIGN, PATH))
    pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
    page.locator("input[name=document]").set_input_files(
        files=[{"name": "paspoort.jpg", "mimeType": "image/jpeg", "buffer": pdf}]  # named and typed as a JPEG
    )
    expect(page.locator("[data-problem]")).to_be_visible()
    expect(page.locator("[data-editor]")).to_be_hidden()
    arrived_before = len(ARRIVALS)
    page.get_by_role("button", name="Versturen").click()
    with blackout_server.app.test_request_context(), force_locale("nl"), addressing("u"):
        refused = str(refusal_message(IdImageProblem.UNSUPPORTED_TYPE))
    expect(page.locator("#id-document-error")).to_have_text(refused)
    expect(page.locator("input[name=document]")).to_have_attribute("aria-invalid", "true")

    assert len(ARRIVALS) == arrived_before + 1
    assert ARRIVALS[-1].data == pdf
    assert ARRIVALS[-1].refused is not None and ARRIVALS[-1].refused.reason is IdImageProblem.UNSUPPORTED_TYPE
