"""The verify page shows the address the code went to, and corrects a mistyped one without the form being typed
again: the answers go out again with the new address, a code goes to it (over a real SMTP server), and the code
and link sent to the old address stop working. Only the browser that typed an address is ever shown it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.data import personal_data
from core.data.db import db_session
from core.data.models import Signup, Stage
from core.jobs.queue import Worker
from tests.test_signup import TIKTOK, VALID, code_of, csrf_token, link_of, post_code, post_form

TYPO = "anna@exampel.org"


@pytest.fixture
def app(make_app: Any, migrated_database_url: str, smtp_server: Any) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, mail_url=smtp_server.url)
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def mailed(app: Flask, smtp_server: Any, count: int) -> list[Any]:
    """Run the worker, then wait until the SMTP server holds ``count`` messages; returns them all."""
    while Worker(app).run_once():
        pass
    return smtp_server.wait_for(count)


def correct(client: FlaskClient, address: str, language: str = "en") -> Any:
    prefix = f"/{language}" if language else ""
    page = client.get(f"{prefix}/join/verify", base_url=TIKTOK).get_data(as_text=True)
    token = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "the verify page has no form to correct the address"
    return client.post(
        f"{prefix}/join/verify/address", data={"csrf_token": token.group(1), "email": address}, base_url=TIKTOK
    )


def signup_of(app: Flask, address: str) -> Signup | None:
    from core.data.hashing import email_hash

    with app.app_context():
        hashed = email_hash(app.extensions["claimsite"].hash_key, address)
        signup = db_session().scalar(select(Signup).where(Signup.email_hash == hashed))
        if signup is not None:
            db_session().expunge(signup)
        return signup


def answers_of(app: Flask, address: str) -> dict[str, Any]:
    with app.app_context():
        signup = db_session().scalar(select(Signup).where(Signup.token == signup_of(app, address).token))  # type: ignore[union-attr]
        return personal_data.load(db_session(), signup)  # type: ignore[arg-type]


def test_a_corrected_address_keeps_the_answers_and_the_old_code_stops_working(app: Flask, smtp_server: Any) -> None:
    client = app.test_client()
    assert post_form(client, "en", email=TYPO).status_code == 302
    [old] = mailed(app, smtp_server, 1)
    assert old.rcpt_tos == [TYPO]
    page = client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert f"Your e-mail address: <strong>{TYPO}</strong>" in page and "Wrong address? Correct it" in page

    refused = correct(client, "anna@")  # a bad correction: the join form's message, and nothing sent
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "This is not a valid e-mail address; please check it." in html
    assert 'id="errors"' in html and '<details class="verify__correct" open>' in html

    assert correct(client, "anna@example.org").status_code == 302
    new = mailed(app, smtp_server, 2)[1]
    assert new.rcpt_tos == ["anna@example.org"]
    page = client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "Your e-mail address: <strong>anna@example.org</strong>" in page and TYPO not in page

    # The sign-up the mistyped address started held nothing but these answers: it is gone, and with it the old
    # mail's code and link, from any browser.
    assert signup_of(app, TYPO) is None
    stranger = app.test_client()
    stranger.get(link_of(old.message), base_url=TIKTOK)
    assert "This link has expired or was already used" in stranger.get(
        "/en/join", base_url=TIKTOK, follow_redirects=True
    ).get_data(as_text=True)
    assert post_code(client, code_of(old.message), "en").status_code == 422

    # The new code verifies, and every other answer is the one typed in the form.
    assert post_code(client, code_of(new.message), "en").status_code == 302
    assert signup_of(app, "anna@example.org").stage == Stage.VERIFIED  # type: ignore[union-attr]
    typed = {key: value for key, value in VALID.items() if value and key != "email"}
    answers = answers_of(app, "anna@example.org")
    assert {key: answers[key] for key in typed} == {**typed, "phone": "+31612345678"}
    assert answers["email"] == "anna@example.org"


def test_the_dutch_page_shows_and_corrects_the_address_in_dutch(app: Flask, smtp_server: Any) -> None:
    client = app.test_client()
    post_form(client, "", email=TYPO)
    page = client.get("/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert f"Je e-mailadres: <strong>{TYPO}</strong>" in page and "Verkeerd adres? Verbeter het" in page
    assert "Dit is geen geldig e-mailadres" in correct(client, "anna@", "").get_data(as_text=True)


def test_only_the_browser_that_typed_an_address_is_shown_it(app: Flask, smtp_server: Any) -> None:
    anna, other = app.test_client(), app.test_client()
    post_form(anna, "en", email="anna@example.org")
    # Another browser types Anna's address with its own answers: it sees the address it typed, and correcting it
    # sends its own answers on (never Anna's), while Anna's own page still shows hers.
    post_form(other, "en", email="anna@example.org", name="Mallory", street="Elders 9")
    assert correct(other, "mallory@example.org").status_code == 302
    assert answers_of(app, "mallory@example.org")["name"] == "Mallory"
    assert answers_of(app, "anna@example.org")["name"] == "Anna de Vries"
    with app.app_context():  # Anna's sign-up stays, with none of Mallory's answers, and its code (sent for
        # Mallory's form) spent, the evidence saying why
        anna_signup = signup_of(app, "anna@example.org")
        assert anna_signup is not None and anna_signup.code_hash is None
        signup = db_session().scalar(select(Signup).where(Signup.token == anna_signup.token))
        assert personal_data.load_pending(db_session(), signup) is None  # type: ignore[arg-type]
        assert [e.step for e in signup.events if e.step == "address-corrected"] == ["address-corrected"]  # type: ignore[union-attr]
    page = anna.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "Your e-mail address: <strong>anna@example.org</strong>" in page and "mallory" not in page


def test_a_browser_whose_answers_were_replaced_is_shown_no_address(app: Flask, smtp_server: Any) -> None:
    first, second = app.test_client(), app.test_client()
    post_form(first, "en", email="anna@example.org")
    post_form(first, "en", email="anna@example.org", name="Anna V.")  # known address: these answers wait
    post_form(second, "en", email="anna@example.org", name="Someone else")  # and now these do
    page = first.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "Your e-mail address" not in page and "anna@example.org" not in page and "Someone else" not in page
    token = csrf_token(first, "/en/join/verify")
    refused = first.post(
        "/en/join/verify/address", data={"csrf_token": token, "email": "x@example.org"}, base_url=TIKTOK
    )
    assert refused.status_code == 302 and refused.location.endswith("/en/join")
    assert "Please fill in the form again" in first.get(refused.location, base_url=TIKTOK).get_data(as_text=True)


def test_correcting_to_the_same_address_keeps_the_signup_and_sends_a_new_code(app: Flask, smtp_server: Any) -> None:
    client = app.test_client()
    post_form(client, "en", email="anna@example.org")
    [first] = mailed(app, smtp_server, 1)
    assert correct(client, "anna@example.org").status_code == 302
    second = mailed(app, smtp_server, 2)[1]
    assert second.rcpt_tos == ["anna@example.org"] and first.rcpt_tos == ["anna@example.org"]
    assert post_code(client, code_of(second.message), "en").status_code == 302
    assert signup_of(app, "anna@example.org").stage == Stage.VERIFIED  # type: ignore[union-attr]
    assert answers_of(app, "anna@example.org")["name"] == "Anna de Vries"


def test_corrections_send_codes_within_the_limits_of_any_form(app: Flask, smtp_server: Any) -> None:
    """Correcting again and again from one network mails one address no more codes than sending the form would
    (six a day from one network), and the page then says so instead of pretending a code went out."""
    client = app.test_client()
    post_form(client, "en", email=TYPO)
    for _ in range(8):
        assert correct(client, "bert@example.org").status_code == 302
    mailed(app, smtp_server, 7)
    assert [m.rcpt_tos for m in smtp_server.messages].count(["bert@example.org"]) == 6
    page = client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "We have already sent this address several codes" in page
