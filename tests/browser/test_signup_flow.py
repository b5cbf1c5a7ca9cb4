"""Joining a campaign on a phone, in a real browser: form (with a mistake first), e-mail code or link + button,
agreements, a success fee option and a drawn or typed signature, the registration fee paid on the test checkout
(the live server has no Stripe keys), the done page with what was chosen and paid and where the mandate PDF is, and
the live counter going up.

The mail worker runs in the test thread (``Worker(app).run_once()``); in development it writes every mail to
``<instance>/outbox/`` as an .eml file, where the test reads the code, the link and the attached mandate.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import math
import re
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from babel.dates import format_date
from flask_babel import force_locale, gettext
from playwright.sync_api import Page, expect

from core.jobs.queue import Worker
from tests.browser.test_campaign_pages import assert_no_horizontal_overflow, assert_only_own_host

if TYPE_CHECKING:
    from tests.browser.conftest import LiveServer, PhonePage

pytestmark = pytest.mark.browser

CAMPAIGN = "tiktokclaim"
PNG_DATA_URL = "data:image/png;base64,"
# The TikTok claim's registration fee and success fee options (campaigns/tiktokclaim.yaml), as each language
# writes them (Dutch puts a no-break space after the euro sign).
REGISTRATION_FEE = {"nl": "€\u00a017,50", "en": "€17.50"}
FLAT_FEE = {"nl": "€\u00a050,00", "en": "€50.00"}
SHARE = "20%"
# The sentences of the mail and the done page, as msgids: the test reads their translation from the app's catalog.
PAID_LINE = "Paid: %(amount)s on %(date)s."
FLAT_LINE = (
    "No cure, no pay: only if the claim succeeds, you pay a fixed fee of %(amount)s out of the compensation you "
    "receive (never more than the compensation itself)."
)
SHARE_LINE = "No cure, no pay: only if the claim succeeds, you pay %(share)s of the compensation you receive."
# The done page once the confirmation mail is composed (the server holds no key to the participant's copy then).
MANDATE_MAILED = "We sent you a confirmation e-mail with your signed mandate attached."


# -- helpers -------------------------------------------------------------------------------------------------
def run_worker(live_server: LiveServer) -> int:
    """Run every due job until none is left (a job may queue another one, e.g. the mandate queues its mail)."""
    worker = Worker(live_server.app)
    total = 0
    for _ in range(5):
        ran = worker.run_once()
        if not ran:
            return total
        total += ran
    raise AssertionError("the worker still had jobs after 5 passes")


def outbox(live_server: LiveServer) -> list[Path]:
    """The mails written so far, oldest first (their names start with a UTC timestamp)."""
    folder = live_server.instance_dir / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def newest_mail_to(live_server: LiveServer, address: str) -> EmailMessage:
    for path in reversed(outbox(live_server)):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            return message
    raise AssertionError(f"no mail to {address} in the outbox: {[p.name for p in outbox(live_server)]}")


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the mail has no plain-text part"
    return body.get_content()  # type: ignore[no-any-return]


def participants(counter_text: str, first_text: str) -> int:
    """The number in the counter line ("1 persoon heeft zich sinds ... aangemeld."), 0 for the line without a number."""
    counter_text = " ".join(counter_text.split())
    if counter_text == first_text:
        return 0
    found = re.match(r"([\d.,\u00a0\u202f ]+)\s", counter_text)
    assert found, f"the counter line has no number: {counter_text!r}"
    return int(re.sub(r"\D", "", found.group(1)))


def landing_counter(page: Page) -> str:
    counter = page.locator(".hero .cta__counter")
    expect(counter).to_be_visible()
    return " ".join(counter.inner_text().split())


def draw_signature(page: Page) -> None:
    """Draw a wavy line across the canvas with real mouse input (pointer events), in many small moves."""
    canvas = page.locator("[data-signature-pad] canvas")
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 30, f"the canvas is too small: {box}"
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]

    def at(t: float) -> tuple[float, float]:  # t in [0, 1]: a sine wave with a loop-like wobble
        x = left + width * (0.1 + 0.8 * t)
        y = top + height * (0.5 + 0.3 * math.sin(t * 3 * math.pi) * (1 - 0.4 * t))
        return x, y

    page.mouse.move(*at(0))
    page.mouse.down()
    for i in range(1, 41):
        page.mouse.move(*at(i / 40), steps=2)
    page.mouse.up()


def inked_pixels(page: Page) -> int:
    """How many pixels of the signature canvas are drawn on."""
    return page.locator("[data-signature-pad] canvas").evaluate(
        """canvas => {
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
            return inked;
        }"""
    )


def tick_agreements(page: Page) -> None:
    boxes = page.locator("input[type=checkbox][name^='agree-']")
    expect(boxes).to_have_count(2)  # tiktokclaim: the power of attorney and the terms of participation
    for i in range(boxes.count()):
        box = boxes.nth(i)
        box.check()
        expect(box).to_be_checked()


def catalog_text(live_server: LiveServer, language: str, msgid: str, **values: str) -> str:
    """``msgid`` as the live server's catalog translates it into ``language`` (the Dutch wording is still being
    written: this follows it), whitespace-normalised as ``inner_text`` and ``normalized`` give it."""
    with live_server.app.test_request_context(), force_locale(language):
        return normalized(gettext(msgid, **values))


def normalized(text: str) -> str:
    """Runs of whitespace (no-break spaces included) as one space."""
    return " ".join(text.split())


def paid_line(live_server: LiveServer, language: str) -> str:
    """The done page's and the mail's line for a payment made today (UTC, as the app dates payments), such as
    "Paid: €17.50 on 23 November 2026."."""
    today = dt.datetime.now(dt.UTC).date()
    date = format_date(today, format="long", locale={"nl": "nl_NL", "en": "en_GB"}[language])
    return catalog_text(live_server, language, PAID_LINE, amount=REGISTRATION_FEE[language], date=date)


def fee_lines(page: Page) -> list[str]:
    """The sentences of the fee summary on the done (or payment) page."""
    lines = page.locator(".fee-summary p")
    expect(lines.first).to_be_visible()
    return [normalized(text) for text in lines.all_inner_texts()]


def choose_fee_option(page: Page, option: str) -> None:
    """Pick the success fee option ``flat`` or ``share`` (both radios are required: one must be chosen)."""
    radios = page.locator("input[type=radio][name=fee_option]")
    expect(radios).to_have_count(2)
    for i in range(radios.count()):
        expect(radios.nth(i)).not_to_be_checked()
        expect(radios.nth(i)).to_have_attribute("required", "")
    radio = page.locator(f"input[type=radio][name=fee_option][value={option}]")
    radio.check()
    expect(radio).to_be_checked()


def assert_payment_page(page: Page, language: str) -> None:
    """Our payment page, after signing: the registration fee and the "Pay" button (a POST form)."""
    page.wait_for_url(re.compile(("/en" if language == "en" else "") + r"/join/pay/[^/]+$"))
    expect(page.locator("html")).to_have_attribute("lang", language)
    pay_now = page.locator("#pay-now")
    expect(pay_now).to_be_visible()
    expect(pay_now).to_contain_text(REGISTRATION_FEE[language])
    expect(page.locator("form", has=pay_now)).to_have_attribute("method", "post")
    expect(page.locator(".summary")).to_contain_text(REGISTRATION_FEE[language])
    assert_no_horizontal_overflow(page)


def assert_pdf_attached(message: EmailMessage) -> None:
    attachments = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert len(attachments) == 1, f"expected one PDF attachment, found {[p.get_content_type() for p in attachments]}"
    assert attachments[0].get_content().startswith(b"%PDF")
    assert (attachments[0].get_filename() or "").endswith(".pdf")


# -- the Dutch pass: a mistake in the form, the code from the mail, a drawn signature ----------------------------
def test_dutch_signup_with_code_and_drawn_signature(phone: PhonePage, live_server: LiveServer, save_screenshot) -> None:
    page = phone.page
    address = "jan.jansen@example.org"

    # Landing page and its counter.
    page.goto(live_server.url(CAMPAIGN))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    counter_before = landing_counter(page)
    count_before = participants(counter_before, "Hoe meer mensen meedoen, hoe sterker we staan.")

    page.locator(".hero .cta a.button").click()
    page.wait_for_url(re.compile(r"/join$"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")

    # The form, typed in, with a country outside the EU first.
    typed = {
        "Volledige naam": "Jan Jansen",
        "E-mailadres": address,
        "Straat en huisnummer": "Dorpsstraat 12",
        "Postcode": "1234 AB",
        "Woonplaats": "Utrecht",
        "Je TikTok-gebruikersnaam (niet verplicht)": "@janjansen",
    }
    for label, value in typed.items():
        page.get_by_label(label, exact=True).press_sequentially(value)
    page.get_by_label("Telefoonnummer (niet verplicht)", exact=True).press_sequentially("+31 6 12345678")
    birth_date = page.get_by_label("Geboortedatum", exact=True)
    birth_date.fill("1990-05-17")
    country = page.get_by_label("Land waar je woont", exact=True)
    expect(country).to_have_value("NL")
    country.select_option("US")
    expect(page.get_by_label("mezelf")).to_be_checked()
    page.get_by_role("button", name="Verder").click()

    page.wait_for_load_state()
    expect(page.locator("#errors")).to_contain_text("Verbeter 1 antwoord")
    expect(page.locator("#errors")).to_be_focused()  # a keyboard or screen reader user starts at the mistakes
    residence_error = "Alleen mensen die in de EU, de EER of Zwitserland wonen, kunnen aan deze actie deelnemen."
    country_field = page.locator(".field.field--error").filter(has=page.locator("select#country"))
    expect(country_field).to_have_count(1)
    expect(country_field.locator(".field__error")).to_have_text(residence_error)
    expect(country).to_have_attribute("aria-invalid", "true")
    expect(country).to_have_attribute("aria-describedby", re.compile(r"\bcountry-error\b"))
    expect(page.locator(".field--error")).to_have_count(1)  # nothing else was wrong
    for label, value in typed.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(birth_date).to_have_value("1990-05-17")
    expect(country).to_have_value("US")
    phone_value = page.get_by_label("Telefoonnummer (niet verplicht)", exact=True).input_value()
    assert re.sub(r"\D", "", phone_value) == "31612345678", phone_value
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "signup-form-errors")

    country.select_option(label="Nederland")
    page.get_by_role("button", name="Verder").click()
    page.wait_for_url(re.compile(r"/join/verify$"))

    # The code from the mail; the resend button waits for its countdown.
    assert run_worker(live_server) >= 1
    message = newest_mail_to(live_server, address)
    assert message["Content-Language"] == "nl"
    found = re.search(r"\b(\d{6})\b", str(message["Subject"]))
    assert found, f"no 6-digit code in the subject {message['Subject']!r}"
    code = found.group(1)
    assert code in text_part(message)

    expect(page.get_by_role("heading", level=1)).to_have_text("Verifieer je e-mailadres")
    countdown = page.locator("[data-countdown]")
    expect(countdown).to_be_visible()
    expect(countdown).to_contain_text("Je kunt over")
    expect(page.locator("[data-resend]")).to_be_disabled()
    seconds = page.locator(".resend__seconds")
    shown = int(seconds.inner_text())
    assert 0 < shown <= 60, shown
    expect(seconds).not_to_have_text(str(shown), timeout=3000)  # it counts down
    assert int(seconds.inner_text()) < shown
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "signup-verify")

    page.get_by_label("Verificatiecode (6 cijfers)").press_sequentially(code)
    page.get_by_role("button", name="Verifiëren", exact=True).click()
    page.wait_for_url(re.compile(r"/join/sign$"))

    # Agreements, a success fee option and a drawn signature.
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    tick_agreements(page)
    choose_fee_option(page, "share")
    signature_field = page.locator("input[name=signature_png]")
    expect(signature_field).to_have_value("")
    draw_signature(page)
    expect(signature_field).to_have_value(re.compile("^" + re.escape(PNG_DATA_URL)))
    png = base64.b64decode(signature_field.input_value()[len(PNG_DATA_URL) :])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert inked_pixels(page) > 500, "the drawn line left (almost) nothing on the canvas"
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "signup-sign")

    # The submit button's Dutch wording is still being translated: find it by its place, not its text.
    page.locator("#sign-form button[type=submit]").click()

    # Signed, not yet counted: the payment page, then the test checkout (no Stripe keys), which pays.
    assert_payment_page(page, "nl")
    save_screenshot(page, "signup-pay")
    page.locator("#pay-now").click()
    page.wait_for_url(re.compile(r"/payments/test/[^/]+$"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    test_mode = catalog_text(live_server, "nl", "Test mode: no real money")
    expect(page.locator(".notice--warning h1")).to_have_text(test_mode)
    expect(page.locator("main")).to_contain_text(REGISTRATION_FEE["nl"])
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "signup-test-checkout")
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/join/done$"))
    assert "/en/" not in page.url

    # Done; the worker makes the mandate PDF and mails it; the page then offers the download.
    done_heading = page.get_by_role("heading", level=1)
    expect(done_heading).to_have_text("Gelukt: je doet nu mee aan de TikTok Claim.")
    expect(page.get_by_role("link", name="Download je ondertekende volmacht (pdf)")).to_have_count(0)
    paid = paid_line(live_server, "nl")
    chosen = catalog_text(live_server, "nl", SHARE_LINE, share=SHARE)
    lines = fee_lines(page)
    assert paid in lines and chosen in lines, lines

    assert run_worker(live_server) >= 2  # the mandate job, then the confirmation mail it queued
    page.reload()
    expect(done_heading).to_have_text("Gelukt: je doet nu mee aan de TikTok Claim.")
    assert_no_horizontal_overflow(page)
    save_screenshot(page, "signup-done")
    # The mail went out, and the key of the participant's copy with it: the page says where the mandate is
    # (tests/browser/test_mandate_copy.py opens the mail's link).
    expect(page.locator("main")).to_contain_text(catalog_text(live_server, "nl", MANDATE_MAILED))
    expect(page.locator("main a[href*='/mandate/']")).to_have_count(0)

    confirmation = newest_mail_to(live_server, address)
    assert confirmation["Subject"] == "Je doet mee aan de TikTok Claim"
    assert_pdf_attached(confirmation)
    mail_text = normalized(text_part(confirmation))
    assert paid in mail_text and chosen in mail_text, mail_text

    # The landing page counts one more participant.
    page.goto(live_server.url(CAMPAIGN))
    counter_after = landing_counter(page)
    assert participants(counter_after, "Hoe meer mensen meedoen, hoe sterker we staan.") == count_before + 1, (
        counter_before,
        counter_after,
    )
    if count_before == 0:
        assert counter_before == "Hoe meer mensen meedoen, hoe sterker we staan."
        assert counter_after == "1 persoon heeft zich sinds 28 juli 2020 aangemeld."

    assert_only_own_host(phone, live_server, CAMPAIGN)


def fill_english_form(
    page: Page, name: str, address: str, street_postcode_city: tuple[str, str, str], birth_date: str, country: str
) -> None:
    """Type the English form as a person does, send it, and wait for the code page."""
    street, postcode, city = street_postcode_city
    for label, value in {
        "Full name": name,
        "E-mail address": address,
        "Street and house number": street,
        "Postcode": postcode,
        "Town or city": city,
    }.items():
        page.get_by_label(label, exact=True).press_sequentially(value)
    page.get_by_label("Date of birth", exact=True).fill(birth_date)
    page.get_by_label("Country where you live", exact=True).select_option(country)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/en/join/verify$"))


# -- the English pass: the link from the mail and its button, a typed name as signature ------------------------
def test_english_signup_with_link_and_typed_name(phone: PhonePage, live_server: LiveServer) -> None:
    page = phone.page
    address = "mary.smith@example.org"

    page.goto(live_server.url(CAMPAIGN, "/en/"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    counter_before = landing_counter(page)
    count_before = participants(counter_before, "The more people join, the stronger we stand.")

    page.locator(".hero .cta a.button").click()
    page.wait_for_url(re.compile(r"/en/join$"))
    fill_english_form(page, "Mary Smith", address, ("Rue de la Loi 16", "1000", "Brussels"), "1985-11-02", "BE")

    assert run_worker(live_server) >= 1
    message = newest_mail_to(live_server, address)
    assert message["Content-Language"] == "en"
    link = re.search(r"http://\S+/en/join/verify/\S+", text_part(message))
    assert link, "no verification link in the mail"
    assert link.group(0).startswith(live_server.url(CAMPAIGN, "/en/join/verify/"))
    page.goto(link.group(0))  # the link opens a page with a button; only the button verifies
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your e-mail address")
    page.get_by_role("button", name="Confirm my e-mail address").click()
    page.wait_for_url(re.compile(r"/en/join/sign$"))

    tick_agreements(page)
    choose_fee_option(page, "flat")
    expect(page.get_by_label(f"{FLAT_FEE['en']} if we win")).to_be_checked()
    page.get_by_label("Or type your full name as your signature").press_sequentially("Mary Smith")
    expect(page.locator("input[name=signature_png]")).to_have_value("")
    page.get_by_role("button", name="Sign and continue to payment").click()

    assert_payment_page(page, "en")
    expect(page.locator("#pay-now")).to_have_text(f"Pay {REGISTRATION_FEE['en']}")
    page.locator("#pay-now").click()
    page.wait_for_url(re.compile(r"/payments/test/[^/]+$"))
    expect(page.locator(".notice--warning h1")).to_have_text("Test mode: no real money")
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r"/en/join/done$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("You have successfully joined the TikTok Claim.")
    paid = paid_line(live_server, "en")
    assert paid.startswith(f"Paid: {REGISTRATION_FEE['en']} on "), paid
    chosen = FLAT_LINE % {"amount": FLAT_FEE["en"]}
    lines = fee_lines(page)
    assert paid in lines and chosen in lines, lines

    assert run_worker(live_server) >= 2
    confirmation = newest_mail_to(live_server, address)
    assert confirmation["Subject"] == "You have joined the TikTok Claim"
    assert_pdf_attached(confirmation)
    mail_text = normalized(text_part(confirmation))
    assert paid in mail_text and chosen in mail_text, mail_text
    page.reload()
    expect(page.locator("main")).to_contain_text(MANDATE_MAILED)

    page.goto(live_server.url(CAMPAIGN, "/en/"))
    counter_after = landing_counter(page)
    assert participants(counter_after, "The more people join, the stronger we stand.") == count_before + 1, (
        counter_before,
        counter_after,
    )
    expect(page.locator(".hero .cta__counter")).to_contain_text("have joined since 28 July 2020.")

    assert_only_own_host(phone, live_server, CAMPAIGN)
