"""The participant's own page: login by a single-use e-mail link, the list of sign-ups across campaigns, the
mandate download, withdrawal (the counter goes down) and erasure (the personal data is gone from the tables, the
reason recorded). On SQLite and PostgreSQL."""

from __future__ import annotations

import email.message
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import MetaData, select, update

from core.data import personal_data
from core.data.db import utcnow
from core.data.models import (
    AcceptedAgreement,
    Job,
    LoginLink,
    Payment,
    PersonalRecord,
    Signup,
    SignupEvent,
    participant,
)
from core.jobs.queue import decode_payload
from core.signup.links import mandate_link_token
from tests.conftest import SECRET, opened_personal_data
from tests.test_signup import TIKTOK, VALID, deliver, join_fully, post_form, signups

FACEBOOK = "https://facebookleak.somi.nl"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def ask_link(client: FlaskClient, address: str, language: str = "en", base_url: str = TIKTOK) -> Any:
    prefix = f"/{language}" if language else ""
    html = client.get(f"{prefix}/my", base_url=base_url).get_data(as_text=True)
    return client.post(f"{prefix}/my", data={"email": address, "csrf_token": csrf_of(html)}, base_url=base_url)


def login_link_of(message: email.message.EmailMessage, host: str = "tiktokclaim.org") -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return re.search(rf"https://{re.escape(host)}(/\S*my/login/\S+)", text).group(1)  # type: ignore[union-attr]


def mailed_link(app: Flask, client: FlaskClient, address: str, language: str = "en", base_url: str = TIKTOK) -> str:
    assert ask_link(client, address, language, base_url).status_code == 302
    [mail] = [m for m in deliver(app) if m["To"] == address]
    return login_link_of(mail, base_url.removeprefix("https://"))


def log_in(client: FlaskClient, link: str, base_url: str = TIKTOK) -> Any:
    """Open the link and press the button; returns the answer to the button."""
    page = client.get(link, base_url=base_url)
    if page.status_code != 200:
        return page
    return client.post(link, data={"csrf_token": csrf_of(page.get_data(as_text=True))}, base_url=base_url)


def logged_in(app: Flask, client: FlaskClient, address: str = "anna@example.org") -> str:
    """Log ``client`` in as ``address``; returns the participant's page."""
    response = log_in(client, mailed_link(app, client, address))
    assert response.status_code == 302 and response.location == "/en/my", response.get_data(as_text=True)
    return client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)


def confirm(client: FlaskClient, action: str, reference: str) -> Any:
    page = client.get(f"/en/my/{action}/{reference}", base_url=TIKTOK)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(
        f"/en/my/{action}/{reference}", data={"csrf_token": csrf_of(page.get_data(as_text=True))}, base_url=TIKTOK
    )


def start_on_facebookleak(client: FlaskClient, address: str) -> None:
    """The form of the Facebook data-leak campaign sent (the sign-up only started)."""
    html = client.get("/en/join", base_url=FACEBOOK).get_data(as_text=True)
    data = {**VALID, "email": address, "csrf_token": csrf_of(html)}
    assert client.post("/en/join", data=data, base_url=FACEBOOK).status_code == 302


def counter(app: Flask, client: FlaskClient) -> str:
    app.extensions["claimsite"].page_cache.clear()
    html = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    return re.search(r'<p class="cta__counter">([^<]+)</p>', html).group(1)  # type: ignore[union-attr]


def in_session(app: Flask, fn: Any) -> Any:
    with app.app_context():
        from core.data.db import db_session

        return fn(db_session())


# -- logging in ------------------------------------------------------------------------------------------------


def test_the_page_lists_every_signup_of_the_address_across_campaigns(db_app: Flask) -> None:
    joined = db_app.test_client()
    join_fully(db_app, joined, "en")
    start_on_facebookleak(db_app.test_client(), "anna@example.org")
    start_on_facebookleak(db_app.test_client(), "someone@example.org")
    deliver(db_app)  # the mandate, the confirmation and the facebookleak codes
    client = db_app.test_client()
    assert "Send me a login link" in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    page = logged_in(db_app, client)
    assert 'href="https://tiktokclaim.org/en/"' in page and "TikTok Claim" in page
    assert 'href="https://facebookleak.somi.nl/en/"' in page
    assert page.count('class="card participation"') == 2  # someone@ is not listed
    assert "Participant" in page and "Started; e-mail address not verified yet" in page
    assert client.get("/en/my", base_url=TIKTOK).headers["Cache-Control"] == "private, no-store"
    assert "Paid on" in page and "20%" in page  # the fee choice and the payment
    # The server holds no key to the participant's copy after the confirmation mail: the page says where it is.
    assert "/mandate/" not in page and page.count("Attached to the confirmation e-mail we sent you") == 1
    assert page.count(">Withdraw<") == 1  # only the signed one can be withdrawn; both can be erased
    assert page.count(">Erase my personal data<") == 2


@pytest.mark.databases("sqlite")
def test_the_login_page_and_mail_are_in_dutch(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    assert "Jouw deelname" in client.get("/my", base_url=TIKTOK).get_data(as_text=True)
    assert ask_link(client, "anna@example.org", "").location == "/my/sent"
    assert "we er een inloglink naartoe gestuurd" in client.get("/my/sent", base_url=TIKTOK).get_data(as_text=True)
    [mail] = deliver(db_app)
    assert mail["Subject"] == "Je inloglink voor de TikTok Claim" and mail["Content-Language"] == "nl"
    assert login_link_of(mail).startswith("/my/login/")


def test_nothing_tells_whether_an_address_is_known(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    known, unknown = db_app.test_client(), db_app.test_client()
    jobs_before = len(in_session(db_app, lambda db: db.scalars(select(Job)).all()))
    answers = [ask_link(known, "anna@example.org"), ask_link(unknown, "nobody@example.org")]
    assert [a.status_code for a in answers] == [302, 302] and answers[0].location == answers[1].location
    pages = [c.get("/en/my/sent", base_url=TIKTOK).get_data(as_text=True) for c in (known, unknown)]
    assert pages[0] == pages[1] and "anna@example.org" not in pages[0]
    # The request did the same work for both: one job each, which decides off the request path.
    jobs = in_session(db_app, lambda db: db.scalars(select(Job).order_by(Job.id)).all())[jobs_before:]
    assert [job.kind for job in jobs] == ["participant-login", "participant-login"]
    assert [m["To"] for m in deliver(db_app)] == ["anna@example.org"]
    assert in_session(db_app, lambda db: len(db.scalars(select(LoginLink)).all())) == 1


def test_a_login_link_works_once(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    first = db_app.test_client()
    link = mailed_link(db_app, first, "anna@example.org")
    assert first.get(link, base_url=TIKTOK).status_code == 200  # opening it (a mail scanner, say) spends nothing
    assert log_in(first, link).location == "/en/my"
    assert "TikTok Claim" in first.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    second = db_app.test_client()
    refused = second.get(link, base_url=TIKTOK)
    assert refused.status_code == 302 and refused.location == "/en/my"
    page = second.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    assert "This login link was already used." in page and 'class="card participation"' not in page
    again = second.post(link, data={"csrf_token": csrf_of(page)}, base_url=TIKTOK)  # pressing the button anyway
    assert again.location == "/en/my"
    assert 'class="card participation"' not in second.get("/en/my", base_url=TIKTOK).get_data(as_text=True)


def test_a_login_link_expires_after_30_minutes(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    link = mailed_link(db_app, client, "anna@example.org")

    def age(db: Any) -> None:
        db.execute(update(LoginLink).values(created_at=utcnow() - dt_minutes(31)))
        db.commit()

    in_session(db_app, age)
    assert log_in(client, link).location == "/en/my"
    assert "This login link has expired." in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 31 * 60

    nonce = in_session(db_app, lambda db: db.scalar(select(LoginLink.nonce)))
    in_session(db_app, lambda db: (db.execute(update(LoginLink).values(created_at=utcnow())), db.commit()))
    old = URLSafeTimedSerializer(SECRET, salt="participant-login:tiktokclaim", signer=SignedLongAgo).dumps(nonce)
    log_in(client, f"/en/my/login/{old}")
    assert "This login link has expired." in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    assert log_in(client, link).location == "/en/my"  # the real link, now fresh again, still works
    assert "TikTok Claim" in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)


def dt_minutes(minutes: int) -> Any:
    import datetime as dt

    return dt.timedelta(minutes=minutes)


def test_a_tampered_link_or_another_campaigns_link_is_refused(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    link = mailed_link(db_app, db_app.test_client(), "anna@example.org")
    client = db_app.test_client()
    log_in(client, link[:-3] + ("abc" if not link.endswith("abc") else "xyz"))
    assert "This login link is not valid here." in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    elsewhere = db_app.test_client()
    assert elsewhere.get(link, base_url=FACEBOOK).location == "/en/my"  # made for TikTok: worthless here
    assert "This login link is not valid here." in elsewhere.get("/en/my", base_url=FACEBOOK).get_data(as_text=True)
    assert log_in(db_app.test_client(), link).location == "/en/my"  # and it was not spent by those tries


def test_another_campaigns_session_is_refused(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    logged_in(db_app, client)
    cookie = client.get_cookie("__Host-claimsite_session", domain="tiktokclaim.org")
    assert cookie is not None
    client.set_cookie("__Host-claimsite_session", cookie.value, domain="facebookleak.somi.nl")
    page = client.get("/en/my", base_url=FACEBOOK).get_data(as_text=True)
    assert "Send me a login link" in page and 'class="card participation"' not in page


def test_someone_elses_signup_cannot_be_withdrawn_or_erased(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    join_fully(db_app, db_app.test_client(), "en", email="bram@example.org", name="Bram")
    deliver(db_app)
    anna = next(s for s in signups(db_app) if s.id == min(x.id for x in signups(db_app)))
    bram = db_app.test_client()
    page = logged_in(db_app, bram, "bram@example.org")
    assert page.count('class="card participation"') == 1 and anna.token not in page
    csrf = csrf_of(page)
    for action in ("withdraw", "erase"):
        assert bram.get(f"/en/my/{action}/{anna.token}", base_url=TIKTOK).status_code == 404
        assert bram.post(f"/en/my/{action}/{anna.token}", data={"csrf_token": csrf}, base_url=TIKTOK).status_code == 404
    assert in_session(db_app, lambda db: len(db.scalars(select(Signup).where(participant())).all())) == 2
    stranger = db_app.test_client()  # not logged in at all
    assert stranger.get(f"/en/my/withdraw/{anna.token}", base_url=TIKTOK).location == "/en/my"


def test_a_login_lasts_an_hour_and_logging_out_ends_it(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    page = logged_in(db_app, client)
    assert client.post("/en/my/logout", data={"csrf_token": csrf_of(page)}, base_url=TIKTOK).location == "/en/my"
    assert "Send me a login link" in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    logged_in(db_app, client)
    # The cookie is signed per campaign (core.web.sessions): name the campaign as the tenancy middleware would.
    with client.session_transaction(
        base_url=TIKTOK, environ_overrides={"claimsite.campaign": "tiktokclaim"}
    ) as session:
        session["participant"] = [session["participant"][0], int(time.time()) - 1]
    assert "Send me a login link" in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)


def test_the_login_form_is_rate_limited(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    for _ in range(6):  # one address gets at most five links a day; the sixth answer looks the same
        assert ask_link(client, "anna@example.org").status_code == 302
    assert len(deliver(db_app)) == 5
    for n in range(14):
        assert ask_link(client, f"other{n}@example.org").status_code == 302
    limited = ask_link(client, "anna@example.org")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many" in limited.get_data(as_text=True) or "too many" in limited.get_data(as_text=True)


@pytest.mark.databases("sqlite")
def test_an_invalid_address_is_explained_and_kept(db_app: Flask) -> None:
    client = db_app.test_client()
    response = ask_link(client, "anna@")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "This is not a valid e-mail address" in html and 'value="anna@"' in html
    expired = client.post("/en/my", data={"email": "anna@example.org", "csrf_token": "old"}, base_url=TIKTOK)
    assert "The page was open too long" in expired.get_data(as_text=True)
    assert in_session(db_app, lambda db: db.scalars(select(Job)).all()) == []


# -- withdrawing and erasing ------------------------------------------------------------------------------------


def test_withdrawing_makes_the_counter_go_down_by_one(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    join_fully(db_app, db_app.test_client(), "en", email="bram@example.org", name="Bram")
    deliver(db_app)
    visitor = db_app.test_client()
    assert counter(db_app, visitor) == "2 people have joined since 28 July 2020."
    client = db_app.test_client()
    logged_in(db_app, client)
    anna = signups(db_app)[0]
    assert "Withdrawing ends your mandate" in client.get(f"/en/my/withdraw/{anna.token}", base_url=TIKTOK).get_data(
        as_text=True
    )
    reminder = in_session(
        db_app,
        lambda db: next(  # due an hour after signing
            job.id
            for job in db.scalars(select(Job).where(Job.kind == "payment-reminder", Job.status == "pending"))
            if decode_payload(job.payload)["signup"] == anna.token
        ),
    )
    assert reminder is not None
    done = confirm(client, "withdraw", anna.token)
    assert done.status_code == 302 and done.location == "/en/my"
    page = client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    assert "You have withdrawn from the TikTok Claim." in page and "Withdrawn on" in page
    assert ">Withdraw<" not in page and "Attached to the confirmation e-mail" in page  # where the mandate is
    assert counter(db_app, visitor) == "1 person has joined since 28 July 2020."

    def check(db: Any) -> None:
        signup = db.get(Signup, anna.id)
        assert signup.withdrawn_at is not None and signup.erased_at is None
        [event] = [e for e in signup.events if e.step == "withdrawn"]
        assert event.at == signup.withdrawn_at and len(event.ip_hash or "") == 64
        assert opened_personal_data(db_app, signup).answers["name"] == "Anna de Vries"  # withdrawing is not erasing
        assert personal_data.load(db, signup) == {}  # ... but nothing will be mailed: the working copy is gone
        assert (db.get(Job, reminder).status, db.get(Job, reminder).payload) == ("cancelled", "{}")

    in_session(db_app, check)
    # Twice (a second tab) changes nothing.
    assert (
        client.post(f"/en/my/withdraw/{anna.token}", data={"csrf_token": csrf_of(page)}, base_url=TIKTOK).location
        == "/en/my"
    )
    assert (
        in_session(db_app, lambda db: len(db.scalars(select(SignupEvent).where(SignupEvent.step == "withdrawn")).all()))
        == 1
    )
    assert counter(db_app, visitor) == "1 person has joined since 28 July 2020."


def everything_stored(app: Flask) -> str:
    """Every row of every table, as text: what a database dump would show."""
    with app.app_context():
        from core.data.db import db_session

        connection = db_session().connection()
        metadata = MetaData()
        metadata.reflect(connection)
        rows = [repr(tuple(row)) for table in metadata.sorted_tables for row in connection.execute(table.select())]
        return "\n".join(rows)


def test_erasure_removes_the_personal_data_and_keeps_the_evidence(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    visitor = db_app.test_client()
    assert counter(db_app, visitor) == "1 person has joined since 28 July 2020."
    stored = everything_stored(db_app)
    assert "anna@example.org" not in stored and "Anna de Vries" not in stored  # sealed: a dump reads nothing
    assert (
        in_session(db_app, lambda db: opened_personal_data(db_app, signups(db_app)[0]).answers["name"])
        == "Anna de Vries"
    )  # ... but the foundation's private key opens it
    client = db_app.test_client()
    logged_in(db_app, client)
    ask_link(db_app.test_client(), "anna@example.org")  # a mail still queued for this address
    [anna] = signups(db_app)
    assert "This cannot be undone." in client.get(f"/en/my/erase/{anna.token}", base_url=TIKTOK).get_data(as_text=True)
    assert confirm(client, "erase", anna.token).location == "/en/my"
    page = client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    assert "Your personal data for the TikTok Claim has been erased." in page
    assert "This address has no sign-up with us (any more)." in page
    assert counter(db_app, visitor) == "The more people join, the stronger we stand."

    stored = everything_stored(db_app)
    for personal in ("Anna de Vries", "anna@example.org", "Kerkstraat", "+31612345678", "1990-05-01"):
        assert personal not in stored, personal

    def check(db: Any) -> None:
        signup = db.get(Signup, anna.id)
        assert db.get(PersonalRecord, anna.id) is None
        assert signup.erased_at is not None and signup.erasure_reason == "participant-request"
        assert signup.withdrawn_at == signup.erased_at and signup.email_hash != anna.email_hash
        assert signup.stage == "signed" and signup.signed_at == anna.signed_at
        assert signup.mandate_sha256 == anna.mandate_sha256 and signup.fee_terms == anna.fee_terms
        steps = [e.step for e in signup.events]
        assert {"agreed", "signed", "mandate-made", "payment-paid", "withdrawn", "erased"} <= set(steps)
        assert not {"form", "code-sent"} & set(steps)
        assert all(e.ip_hash is None and e.user_agent is None for e in signup.events)
        assert [e.detail for e in signup.events if e.step == "erased"] == ["participant-request"]
        assert len(db.scalars(select(AcceptedAgreement)).all()) == 2
        assert db.scalar(select(Payment.paid_at)) is not None  # bookkeeping
        assert {job.status for job in db.scalars(select(Job).where(Job.kind == "participant-login"))} == {
            "done",
            "cancelled",
        }
        assert db.scalars(select(LoginLink)).all() == []

    in_session(db_app, check)
    assert deliver(db_app) == []  # the queued login mail was cancelled
    mandate = f"/en/mandate/{in_session(db_app, lambda db: mandate_link_token('tiktokclaim', anna.token))}"
    gone = db_app.test_client().get(mandate, base_url=TIKTOK)
    assert gone.status_code == 404 and "it was withdrawn, or your personal data was erased" in gone.get_data(
        as_text=True
    )
    assert db_app.test_client().get(f"{mandate}/copy", base_url=TIKTOK).status_code == 404
    assert ask_link(db_app.test_client(), "anna@example.org").status_code == 302
    assert deliver(db_app) == []  # the address is unknown now: no link
    # The address can join afresh, as a new person.
    assert post_form(db_app.test_client(), "en").status_code == 302
    assert len(signups(db_app)) == 2


def test_erasing_an_unfinished_signup_deletes_it_whole(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")  # never verified; its code mail is still queued
    client = db_app.test_client()
    assert ask_link(client, "anna@example.org").status_code == 302
    mails = deliver(db_app)
    assert len(mails) == 2  # the code (still queued before) and the login link
    ask_again = db_app.test_client()
    post_form(ask_again, "en", name="Anna Maria")  # a new code, queued
    login = [m for m in mails if "/my/login/" in m.get_body(("plain",)).get_content()]  # type: ignore[union-attr]
    assert log_in(client, login_link_of(login[0])).location == "/en/my"
    [anna] = signups(db_app)
    assert confirm(client, "erase", anna.token).location == "/en/my"
    assert signups(db_app) == []
    assert "anna@example.org" not in everything_stored(db_app)
    assert deliver(db_app) == []  # the new code's mail was cancelled


def test_retention_keeps_withdrawn_signups_and_removes_old_login_links(runner: FlaskCliRunner, db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    client = db_app.test_client()
    logged_in(db_app, client)
    [anna] = signups(db_app)
    confirm(client, "withdraw", anna.token)
    ask_link(db_app.test_client(), "anna@example.org")
    deliver(db_app)

    def age(db: Any) -> None:
        db.execute(update(Signup).values(created_at=utcnow() - dt_minutes(400 * 24 * 60)))
        db.execute(
            update(LoginLink).where(LoginLink.used_at.is_not(None)).values(created_at=utcnow() - dt_minutes(25 * 60))
        )
        db.commit()

    in_session(db_app, age)
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "tiktokclaim: erased 0 unfinished" in result.output and "login links: removed 1 mailed" in result.output
    assert [s.withdrawn_at is not None for s in signups(db_app)] == [True]
    assert in_session(db_app, lambda db: len(db.scalars(select(LoginLink)).all())) == 1  # the recent one


def login_jobs(app: Flask) -> int:
    return in_session(app, lambda db: len(db.scalars(select(Job).where(Job.kind == "participant-login")).all()))


def test_someone_elses_requests_never_silence_a_participants_own_login_link(db_app: Flask) -> None:
    """An attacker who asks for Anna's login link again and again (from one network) cannot keep her links away:
    her own request, from her own network, still sends one. Links mailed to one address stay bounded all the same."""
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    attacker = db_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for _ in range(10):
        assert ask_link(attacker, "anna@example.org").status_code == 302
    assert login_jobs(db_app) == 5  # one network gets at most five links a day for one address
    assert len(deliver(db_app)) == 5

    anna = db_app.test_client()
    anna.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    link = mailed_link(db_app, anna, "anna@example.org")
    assert log_in(anna, link).status_code == 302

    # Many networks at once: at most six links per address in thirty minutes (asked for an unknown address here:
    # counted the same way).
    before = login_jobs(db_app)
    for n in range(12):
        many = db_app.test_client()
        many.environ_base["REMOTE_ADDR"] = f"192.0.2.{n + 1}"
        assert ask_link(many, "bert@example.org").status_code == 302
    assert login_jobs(db_app) == before + 6


def test_per_ip_limits_count_an_ipv6_64_as_one_network(db_app: Flask) -> None:
    """Rotating through the addresses of one IPv6 /64 does not reset a per-IP limit; an IPv4 address written as an
    IPv4-mapped IPv6 address is the same network as itself."""

    def ask_from(address: str, n: int) -> int:
        client = db_app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return ask_link(client, f"person{n}@example.org").status_code

    statuses = [ask_from(f"2001:db8:1:2::{n + 1:x}", n) for n in range(21)]
    assert statuses[:20] == [302] * 20 and statuses[20] == 429  # 20 an hour per network
    assert ask_from("2001:db8:1:3::1", 99) == 302  # the next /64 is another network

    statuses = [ask_from("203.0.113.20" if n % 2 else "::ffff:203.0.113.20", n) for n in range(21)]
    assert statuses[:20] == [302] * 20 and statuses[20] == 429
