"""The verification link in the code mail: opening it (as a mail scanner does) changes nothing; its button (a POST
with CSRF) verifies. Answers sent again for a known address count only where that form was sent from: proving the
address in another browser (the owner's own, or a scanner's) drops them, and the evidence says so. On SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.data import personal_data
from core.data.db import utcnow
from core.data.models import Signup, Stage
from tests.conftest import opened_personal_data
from tests.test_signup import TIKTOK, code_of, deliver, link_of, post_code, post_form, signups


def confirm_page(client: FlaskClient, link: str) -> tuple[Any, str]:
    """The page a link opens, and the csrf_token of its button's form (which must post back to the link)."""
    response = client.get(link, base_url=TIKTOK)
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    html = response.get_data(as_text=True)
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf_token" '
        r'value="([^"]+)"',
        html,
    )
    assert form is not None and form.group(1) == link, html
    return response, form.group(2)


def press_button(client: FlaskClient, link: str) -> Any:
    _page, token = confirm_page(client, link)
    return client.post(link, data={"csrf_token": token}, base_url=TIKTOK)


def sealed_name(app: Flask, signup: Signup) -> str:
    with app.app_context():
        return opened_personal_data(app, signup).answers["name"]


def the_signup(app: Flask) -> tuple[Signup, list[tuple[str, str | None]], dict[str, Any], dict[str, Any] | None]:
    """The one sign-up, its evidence (step, detail), its working answers and its pending ones."""
    with app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        events = [(e.step, e.detail) for e in signup.events]
        return (
            signup,
            events,
            personal_data.load(db_session(), signup),
            personal_data.load_pending(db_session(), signup),
        )


def test_opening_the_link_changes_nothing(db_app: Flask) -> None:
    browser = db_app.test_client()
    post_form(browser, "en")
    [mail] = deliver(db_app)
    before, events_before, _answers, _pending = the_signup(db_app)
    scanner = db_app.test_client()  # a mail gateway opening every link of the mail, twice
    for _ in range(2):
        page, _token = confirm_page(scanner, link_of(mail))
        assert "Confirm my e-mail address" in page.get_data(as_text=True)
    after, events_after, _answers, _pending = the_signup(db_app)
    assert after.stage == Stage.STARTED and after.verified_at is None
    assert (after.code_hash, after.code_expires_at, after.code_attempts) == (
        before.code_hash,
        before.code_expires_at,
        before.code_attempts,
    )  # no code spent
    assert events_after == events_before == [("form", None), ("code-sent", None)]  # no evidence row
    assert scanner.get("/en/join/sign", base_url=TIKTOK).headers["Location"].endswith("/join")  # not proven there
    assert post_code(browser, code_of(mail), "en").headers["Location"] == "/en/join/sign"  # the code still works


def test_the_button_verifies_once_and_a_second_press_goes_on(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")
    [mail] = deliver(db_app)
    link = link_of(mail)
    phone = db_app.test_client()  # opening the mail on a phone: no session there
    response = press_button(phone, link)
    assert response.status_code == 302 and response.headers["Location"].endswith("/join/sign")
    assert phone.get("/en/join/sign", base_url=TIKTOK).status_code == 200
    signup, events, _answers, _pending = the_signup(db_app)
    assert signup.stage == Stage.VERIFIED and signup.code_hash is None
    assert events[-1] == ("verified", "link")
    again = phone.get(link, base_url=TIKTOK)  # opened twice in the same browser: straight on
    assert again.status_code == 302 and again.headers["Location"].endswith("/join/sign")
    stranger = db_app.test_client()  # the code is spent: the link no longer verifies, and says so kindly
    refused = stranger.get(link, base_url=TIKTOK)
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/join")
    assert "This link has expired or was already used." in stranger.get(
        refused.headers["Location"], base_url=TIKTOK
    ).get_data(as_text=True)
    assert [step for step, _detail in the_signup(db_app)[1]].count("verified") == 1


def test_a_button_pressed_after_the_link_was_used_goes_on_in_that_browser(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")
    [mail] = deliver(db_app)
    link = link_of(mail)
    phone = db_app.test_client()
    _page, token = confirm_page(phone, link)
    assert phone.post(link, data={"csrf_token": token}, base_url=TIKTOK).headers["Location"].endswith("/join/sign")
    second = phone.post(link, data={"csrf_token": token}, base_url=TIKTOK)  # pressed twice (back, press again)
    assert second.status_code == 302 and second.headers["Location"].endswith("/join/sign")
    assert [step for step, _detail in the_signup(db_app)[1]].count("verified") == 1


def test_the_button_needs_its_csrf_token(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")
    [mail] = deliver(db_app)
    forged = db_app.test_client().post(link_of(mail), data={}, base_url=TIKTOK)
    assert forged.status_code == 400 and "The page was open too long" in forged.get_data(as_text=True)
    assert the_signup(db_app)[0].stage == Stage.STARTED


def test_an_expired_link_says_so_in_the_browser_that_started(db_app: Flask) -> None:
    browser = db_app.test_client()
    post_form(browser, "en")
    [mail] = deliver(db_app)
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        signup.code_expires_at = utcnow() - dt.timedelta(seconds=1)
        db_session().commit()
    response = browser.get(link_of(mail), base_url=TIKTOK)
    assert response.status_code == 302 and response.headers["Location"] == "/en/join/verify"
    page = browser.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "This link has expired or was already used." in page
    assert the_signup(db_app)[0].stage == Stage.STARTED


def test_answers_sent_for_someone_elses_address_are_dropped_when_the_owner_opens_the_link(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")  # Anna joins
    deliver(db_app)
    mallory = db_app.test_client()  # someone else sends the form with Anna's address and their own answers
    post_form(mallory, "en", name="Mallory", street="Elders 13", city="Rotterdam")
    [mail] = deliver(db_app)
    assert mail["To"] == "anna@example.org"
    owner = db_app.test_client()  # Anna's phone (or her mail gateway, and then Anna) presses the button
    assert press_button(owner, link_of(mail)).headers["Location"].endswith("/join/sign")
    signup, events, answers, pending = the_signup(db_app)
    assert signup.stage == Stage.VERIFIED
    assert answers["name"] == "Anna de Vries" and answers["city"] == "Utrecht" and pending is None
    assert sealed_name(db_app, signup) == "Anna de Vries"
    assert events[-2:] == [("verified", "link"), ("form-again-dropped", "other-browser")]
    page = owner.get("/en/join/sign", base_url=TIKTOK).get_data(as_text=True)
    assert "Details sent again for this address from another browser were not used." in page


def test_answers_sent_again_are_dropped_when_another_browser_types_the_code(db_app: Flask) -> None:
    anna = db_app.test_client()
    post_form(anna, "en")
    deliver(db_app)
    post_form(db_app.test_client(), "en", name="Mallory")  # another browser, Anna's address
    [mail] = deliver(db_app)
    assert post_code(anna, code_of(mail), "en").headers["Location"] == "/en/join/sign"  # Anna types the new code
    _signup, events, answers, pending = the_signup(db_app)
    assert answers["name"] == "Anna de Vries" and pending is None
    assert events[-2:] == [("verified", "code"), ("form-again-dropped", "other-browser")]


def test_answers_sent_again_apply_when_the_link_is_used_in_the_browser_that_sent_them(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")
    deliver(db_app)
    again = db_app.test_client()
    post_form(again, "en", name="Anna Maria de Vries")
    [mail] = deliver(db_app)
    assert the_signup(db_app)[2]["name"] == "Anna de Vries"  # not before the address is proven
    assert press_button(again, link_of(mail)).headers["Location"].endswith("/join/sign")
    signup, events, answers, pending = the_signup(db_app)
    assert answers["name"] == "Anna Maria de Vries" and pending is None
    assert sealed_name(db_app, signup) == "Anna Maria de Vries"
    assert events[-2:] == [("verified", "link"), ("form-again-applied", None)]
    assert len(signups(db_app)) == 1


def test_the_button_pressed_in_several_browsers_at_once_verifies_once(db_app: Flask) -> None:
    """Real parallel requests: every browser has the page open, all press at the same moment; one verifies."""
    post_form(db_app.test_client(), "en")
    [mail] = deliver(db_app)
    link = link_of(mail)
    browsers = [db_app.test_client() for _ in range(6)]
    tokens = [confirm_page(browser, link)[1] for browser in browsers]
    barrier = threading.Barrier(len(browsers))
    answers: list[str] = []

    def press(n: int) -> None:
        barrier.wait()
        answers.append(browsers[n].post(link, data={"csrf_token": tokens[n]}, base_url=TIKTOK).headers["Location"])

    threads = [threading.Thread(target=press, args=(n,)) for n in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == len(browsers)
    assert sum(location.endswith("/join/sign") for location in answers) == 1, answers
    assert all(location.endswith(("/join/sign", "/join")) for location in answers), answers
    assert [step for step, _detail in the_signup(db_app)[1]].count("verified") == 1
