"""Joining a campaign end to end: form, validation and eligibility, e-mail code and link, duplicates,
agreements and signature, evidence, mandate PDF and confirmation mail, counters. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.data import personal_data
from core.data.db import utcnow
from core.data.hashing import sha256_hex
from core.data.models import AcceptedAgreement, Job, Signup, Stage, participant
from core.jobs.queue import Worker
from core.signup.mandate_copy import open_copy
from tests.conftest import opened_personal_data


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    """Every test here that takes a database migrates it first thing: it gets a copy of the migrated template (its
    own upgrade() then finds nothing to do) rather than an empty database."""
    return migrated_database_url


TIKTOK = "https://tiktokclaim.org"
ZOOM = "https://zoomclaim.org"

VALID = {
    "name": "Anna de Vries",
    "email": "anna@example.org",
    "phone": "06 12345678",
    "street": "Kerkstraat 1",
    "postcode": "1234 AB",
    "city": "Utrecht",
    "country": "NL",
    "birth_date": "1990-05-01",
    "account": "",
    "for_whom": "self",
    "child_name": "",
    "child_birth_date": "",
}


def csrf_token(client: FlaskClient, path: str) -> str:
    html = client.get(path, base_url=TIKTOK).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def post_form(client: FlaskClient, language: str = "", **changes: str) -> Any:
    prefix = f"/{language}" if language else ""
    data = {**VALID, **changes, "csrf_token": csrf_token(client, f"{prefix}/join")}
    return client.post(f"{prefix}/join", data=data, base_url=TIKTOK)


def outbox(app: Flask) -> list[Path]:
    folder = app.extensions["claimsite"].settings.instance_dir / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def deliver(app: Flask) -> list[email.message.EmailMessage]:
    """Run the worker until nothing is due; return the mails it wrote, oldest first."""
    before = set(outbox(app))
    while Worker(app).run_once():
        pass
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in outbox(app)
        if p not in before
    ]


def code_of(message: email.message.EmailMessage) -> str:
    return re.search(r"\b(\d{6})\b", str(message["Subject"])).group(1)  # type: ignore[union-attr]


def link_of(message: email.message.EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return re.search(r"https://tiktokclaim\.org(/\S*/join/verify/\S+|/join/verify/\S+)", text).group(1)  # type: ignore[union-attr]


def post_code(client: FlaskClient, code: str, language: str = "") -> Any:
    prefix = f"/{language}" if language else ""
    return client.post(
        f"{prefix}/join/verify",
        base_url=TIKTOK,
        data={"code": code, "csrf_token": csrf_token(client, f"{prefix}/join/verify")},
    )


def sign_form(client: FlaskClient, language: str = "", typed: str = "Anna de Vries", **extra: str) -> dict[str, str]:
    prefix = f"/{language}" if language else ""
    html = client.get(f"{prefix}/join/sign", base_url=TIKTOK).get_data(as_text=True)
    data = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "signature_typed": typed,
    }
    for agreement, sha in re.findall(r'name="sha-([a-z0-9-]+)" value="([0-9a-f]{64})"', html):
        data[f"sha-{agreement}"] = sha
        data[f"agree-{agreement}"] = "yes"
    if 'name="fee_option"' in html:
        data["fee_option"] = "share"
    data.update(extra)
    return data


def pay_in_test_mode(client: FlaskClient, pay_page: str) -> Any:
    """Pay through the test provider's checkout (no Stripe keys in these tests); returns the page paid leads to."""
    html = client.get(pay_page, base_url=TIKTOK).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    checkout = client.post(pay_page, data={"csrf_token": token}, base_url=TIKTOK)
    assert checkout.status_code == 303 and "/payments/test/" in checkout.location, checkout.get_data(as_text=True)
    html = client.get(checkout.location, base_url=TIKTOK).get_data(as_text=True)
    assert "Test mode" in html or "Testmodus" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    paid = client.post(
        checkout.location,
        data={"csrf_token": token, "action": "pay"},
        base_url=TIKTOK,
        headers={"Referer": checkout.location},
    )  # Flask-WTF checks it on HTTPS, as browsers send it
    assert paid.status_code == 303
    return client.get(paid.location, base_url=TIKTOK)


def join_fully(app: Flask, client: FlaskClient, language: str = "", **changes: str) -> Signup:
    assert post_form(client, language, **changes).status_code == 302
    [mail] = deliver(app)
    assert post_code(client, code_of(mail), language).status_code == 302
    prefix = f"/{language}" if language else ""
    response = client.post(f"{prefix}/join/sign", data=sign_form(client, language), base_url=TIKTOK)
    assert response.status_code == 302, response.get_data(as_text=True)
    if "/join/pay/" in response.location:  # the TikTok claim asks a one-time payment before it counts
        assert pay_in_test_mode(client, response.location).status_code == 302
    with app.app_context():
        from core.data.db import db_session

        return db_session().scalars(select(Signup).order_by(Signup.id.desc())).first()  # type: ignore[return-value]


def signups(app: Flask) -> list[Signup]:
    with app.app_context():
        from core.data.db import db_session

        return list(db_session().scalars(select(Signup).order_by(Signup.id)))


# -- the form ------------------------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
def test_form_asks_the_campaigns_questions_in_each_language(db_app: Flask) -> None:
    client = db_app.test_client()
    dutch = client.get("/join", base_url=TIKTOK).get_data(as_text=True)
    assert "Je TikTok-gebruikersnaam" in dutch and 'name="street"' in dutch and 'name="for_whom"' in dutch
    assert 'type="date"' in dutch and 'autocomplete="email"' in dutch
    english = client.get("/en/join", base_url=TIKTOK).get_data(as_text=True)
    assert "Your TikTok user name" in english and "Netherlands" in english


@pytest.mark.databases("sqlite")
def test_optional_questions_say_so_in_their_label(db_app: Flask) -> None:
    client = db_app.test_client()

    def labels(path: str) -> dict[str, str]:
        html = client.get(path, base_url=TIKTOK).get_data(as_text=True)
        found = re.findall(r'<label class="field__label" for="([a-z_]+)">(.*?)</label>', html)
        return {name: re.sub(r"<[^>]+>", "", text) for name, text in found}

    dutch, english = labels("/join"), labels("/en/join")
    # campaigns/tiktokclaim.yaml: phone and account may be left empty, the rest is required
    assert dutch["phone"] == "Telefoonnummer (niet verplicht)" and english["phone"] == "Phone number (optional)"
    assert dutch["account"].endswith(" (niet verplicht)") and english["account"].endswith(" (optional)")
    assert dutch["name"] == "Volledige naam" and english["email"] == "E-mail address"
    # asked only of whoever joins for a child, and needed then: not marked
    assert "optional" not in english["child_name"] and "optional" not in english["child_birth_date"]


@pytest.mark.databases("sqlite")
def test_landing_call_to_action_leads_to_the_form(db_app: Flask) -> None:
    html = db_app.test_client().get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert 'href="/en/join"' in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Please enter your full name."),
        ({"email": "anna@"}, "email", "This is not a valid e-mail address"),
        ({"email": ""}, "email", "Please enter your e-mail address."),
        ({"phone": "12"}, "phone", "This is not a valid phone number"),
        ({"street": "", "city": ""}, "street", "Please enter your street and house number."),
        ({"postcode": ""}, "postcode", "Please enter your postcode."),
        ({"country": ""}, "country", "Please choose the country where you live."),
        ({"country": "US"}, "country", "Only people who live in the EU, the EEA or Switzerland can join"),
        ({"birth_date": ""}, "birth_date", "Please enter your date of birth."),
        ({"birth_date": "2090-01-01"}, "birth_date", "This date of birth lies in the future."),
        ({"birth_date": "1990-13-45"}, "birth_date", "Not a valid date value."),
        ({"birth_date": "1-5-1990"}, "birth_date", "Not a valid date value."),
        (
            {"birth_date": (dt.date.today() - dt.timedelta(days=365 * 16)).isoformat()},
            "birth_date",
            "You must be 18 or older to join. A parent or guardian can join for you.",
        ),
        ({"for_whom": "child"}, "child_name", "Please enter your child&#39;s full name."),
        (
            {"for_whom": "child", "child_name": "Tim", "child_birth_date": "2001-01-01"},
            "child_birth_date",
            "Your child is 18 or older and can join with their own e-mail address.",
        ),
        (
            {
                "for_whom": "child",
                "child_name": "Tim",
                "child_birth_date": "2016-01-01",
                "birth_date": (dt.date.today() - dt.timedelta(days=365 * 17)).isoformat(),
            },
            "birth_date",
            "A parent or guardian who joins for a child must be 18 or older.",
        ),
    ],
)
@pytest.mark.databases("sqlite")
def test_every_validation_error_is_explained_and_keeps_the_answers(
    db_app: Flask, changes: dict[str, str], field: str, message: str
) -> None:
    client = db_app.test_client()
    response = post_form(client, "en", **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="{field}-error"' in html and message in html
    assert 'aria-invalid="true"' in html and 'href="#' + field + '"' in html  # the summary links to the field
    for key in ("name", "street", "postcode"):  # what was typed stays
        if changes.get(key, VALID[key]):
            assert f'value="{changes.get(key, VALID[key])}"' in html
    assert signups(db_app) == [] and Worker(db_app).run_once() == 0  # nothing stored, nothing sent


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    ("language", "changes", "field", "message"),
    [
        ("en", {"email": ""}, "email", "Please enter your e-mail address."),
        ("nl", {"email": ""}, "email", "Vul je e-mailadres in."),
        ("en", {"street": "", "postcode": "", "city": ""}, "street", "Please fill in your address."),
        ("nl", {"street": "", "postcode": "", "city": ""}, "street", "Vul je adres in."),
        ("en", {"email": "   "}, "email", "Please enter your e-mail address."),  # spaces alone are nothing
        ("en", {"street": " ", "postcode": "  ", "city": ""}, "street", "Please fill in your address."),
        ("en", {"name": " "}, "name", "Please enter your full name."),
    ],
)
def test_a_missing_address_gets_one_message(
    db_app: Flask, language: str, changes: dict[str, str], field: str, message: str
) -> None:
    """One thing left out is one mistake: one entry in the summary and one message at the field, in the page's
    language, whatever validators the field has."""
    client = db_app.test_client()
    html = post_form(client, "en" if language == "en" else "", **changes).get_data(as_text=True)
    summary = html[html.index('id="errors"') : html.index("</ul>", html.index('id="errors"'))]
    assert summary.count("<li>") == 1 and f'href="#{field}"' in summary and message in summary
    assert (
        html.count('class="field__error"') == 1 and f'<p class="field__error" id="{field}-error">{message}</p>' in html
    )


@pytest.mark.databases("sqlite")
def test_errors_are_in_dutch_on_the_dutch_page(db_app: Flask) -> None:
    client = db_app.test_client()
    html = post_form(client, "", country="US", name="").get_data(as_text=True)
    assert "Vul je volledige naam in." in html
    assert "Alleen mensen die in de EU, de EER of Zwitserland wonen" in html


def test_a_parent_can_join_for_a_child(db_app: Flask) -> None:
    client = db_app.test_client()
    response = post_form(client, "en", for_whom="child", child_name="Tim de Vries", child_birth_date="2014-03-02")
    assert response.status_code == 302
    with db_app.app_context():
        from core.data.db import db_session

        [signup] = db_session().scalars(select(Signup)).all()
        answers = personal_data.load(db_session(), signup)
    assert answers["child_name"] == "Tim de Vries" and answers["for_whom"] == "child"
    assert answers["phone"] == "+31612345678"  # normalised


@pytest.mark.databases("sqlite")
def test_closed_campaign_has_no_form(db_app: Flask) -> None:
    html = db_app.test_client().get("/en/join", base_url=ZOOM).get_data(as_text=True)
    assert "cta--closed" in html and 'name="email"' not in html


@pytest.mark.databases("sqlite")
def test_expired_form_keeps_the_answers(db_app: Flask) -> None:
    client = db_app.test_client()
    response = client.post("/en/join", base_url=TIKTOK, data={**VALID, "csrf_token": "expired"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "The page was open too long" in html
    assert 'value="Anna de Vries"' in html and signups(db_app) == []


# -- e-mail verification ---------------------------------------------------------------------------------------


def test_code_mail_and_verification(db_app: Flask) -> None:
    client = db_app.test_client()
    response = post_form(client, "en")
    assert response.status_code == 302 and response.headers["Location"] == "/en/join/verify"
    page = client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "A verification code was sent to your e-mail" in page
    assert "Your e-mail address: <strong>anna@example.org</strong>" in page  # the address this browser typed
    [mail] = deliver(db_app)
    assert mail["To"] == "anna@example.org" and "TikTok" in mail["Subject"]
    assert client.get("/en/join/sign", base_url=TIKTOK).headers["Location"] == "/en/join/verify"  # not yet
    response = post_code(client, code_of(mail), "en")
    assert response.status_code == 302 and response.headers["Location"] == "/en/join/sign"
    [signup] = signups(db_app)
    assert signup.stage == Stage.VERIFIED and signup.code_hash is None


def test_wrong_code_counts_down_and_the_fifth_uses_the_code_up(db_app: Flask) -> None:
    client = db_app.test_client()
    post_form(client, "en")
    [mail] = deliver(db_app)
    code = code_of(mail)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    html = post_code(client, wrong, "en").get_data(as_text=True)
    assert "That code is not right. You have 4 tries left." in html
    for _ in range(3):
        post_code(client, wrong, "en")
    html = post_code(client, wrong, "en").get_data(as_text=True)
    assert "Too many wrong tries for this code" in html
    html = post_code(client, code, "en").get_data(as_text=True)  # even the right code no longer works
    assert "Too many wrong tries for this code" in html
    assert signups(db_app)[0].stage == Stage.STARTED


def test_code_expires_after_15_minutes(db_app: Flask) -> None:
    client = db_app.test_client()
    post_form(client, "en")
    [mail] = deliver(db_app)
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        signup.code_expires_at = utcnow() - dt.timedelta(seconds=1)
        db_session().commit()
    html = post_code(client, code_of(mail), "en").get_data(as_text=True)
    assert "This code has expired." in html


def test_resend_waits_a_minute_then_sends_a_new_code(db_app: Flask) -> None:
    client = db_app.test_client()
    post_form(client, "en")
    [first] = deliver(db_app)
    page = client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert re.search(r'data-countdown="(5\d|60)"', page) and "You can ask for a new code in" in page
    token = csrf_token(client, "/en/join/verify")
    client.post("/en/join/verify/resend", data={"csrf_token": token}, base_url=TIKTOK)
    assert "please use that one" in client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert deliver(db_app) == []  # the server enforces the wait, with or without JavaScript
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        signup.code_sent_at = utcnow() - dt.timedelta(seconds=61)
        db_session().commit()
    client.post("/en/join/verify/resend", data={"csrf_token": token}, base_url=TIKTOK)
    [second] = deliver(db_app)
    assert code_of(second) != code_of(first) or True  # codes are random; the old one must stop working:
    assert "That code is not right" in post_code(client, code_of(first), "en").get_data(as_text=True) or code_of(
        first
    ) == code_of(second)
    assert post_code(client, code_of(second), "en").status_code == 302


# The link's page and its button: tests/test_verify_link.py.


def test_tampered_or_foreign_link_is_refused(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")
    [mail] = deliver(db_app)
    link = link_of(mail)
    client = db_app.test_client()
    assert client.get(link[:-3] + "abc", base_url=TIKTOK).headers["Location"].endswith("/join")
    assert client.get(link, base_url="https://facebookleak.somi.nl").headers["Location"].endswith("/join")
    assert signups(db_app)[0].stage == Stage.STARTED


def test_duplicate_signup_reveals_nothing_and_continues_where_left_off(db_app: Flask) -> None:
    first = db_app.test_client()
    join_fully(db_app, first, "en")
    deliver(db_app)
    again = db_app.test_client()
    new_person = db_app.test_client()
    known = post_form(again, "en", name="Someone Else")
    unknown = post_form(new_person, "en", email="new@example.org")
    assert known.status_code == unknown.status_code == 302 and known.headers["Location"] == unknown.headers["Location"]
    known_page = again.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    unknown_page = new_person.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    strip = re.compile(
        r'value="[^"]+"|data-countdown="\d+"|<span class="resend__seconds">\d+</span>'
        r"|<strong>[^<]+@example.org</strong>"
    )
    assert strip.sub("", known_page) == strip.sub("", unknown_page)
    assert again.get("/en/join/sign", base_url=TIKTOK).headers["Location"] == "/en/join/verify"
    mails = {m["To"]: m for m in deliver(db_app)}
    response = post_code(again, code_of(mails["anna@example.org"]), "en")
    assert response.headers["Location"] == "/en/join/done"  # already signed: straight to the end
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup).where(Signup.stage == Stage.SIGNED)).one()
        assert opened_personal_data(db_app, signup).answers["name"] == "Anna de Vries"  # signed data unchanged
    assert len([s for s in signups(db_app) if s.stage == Stage.SIGNED]) == 1


def test_second_form_before_signing_replaces_the_answers_once_verified(db_app: Flask) -> None:
    post_form(db_app.test_client(), "en")
    deliver(db_app)
    again = db_app.test_client()
    post_form(again, "en", name="Anna Maria de Vries")
    [mail] = deliver(db_app)
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert personal_data.load(db_session(), signup)["name"] == "Anna de Vries"  # not before the code
    post_code(again, code_of(mail), "en")
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert personal_data.load(db_session(), signup)["name"] == "Anna Maria de Vries"
        assert opened_personal_data(db_app, signup).answers["name"] == "Anna Maria de Vries"


# -- agreements, signature, evidence, mandate ------------------------------------------------------------------


def test_signing_needs_every_agreement_and_a_signature(db_app: Flask) -> None:
    client = db_app.test_client()
    post_form(client, "en")
    [mail] = deliver(db_app)
    post_code(client, code_of(mail), "en")
    page = client.get("/en/join/sign", base_url=TIKTOK).get_data(as_text=True)
    assert "Power of attorney" in page and "Anna de Vries" in page and "Version 2026-12-03" in page
    data = sign_form(client, "en", typed="")
    del data["agree-terms"]
    html = client.post("/en/join/sign", data=data, base_url=TIKTOK).get_data(as_text=True)
    assert "Please read and accept this agreement." in html
    assert "Please sign: draw your signature in the box, or type your full name." in html
    # The join form's style: one summary that names and links each mistake, and each field marked where it is.
    summary = html[html.index('id="errors"') : html.index("</div>", html.index('id="errors"'))]
    assert "data-focus-on-load" in summary and "Please correct 2 answers" in summary
    assert '<a href="#agree-terms">Terms of participation: Please read and accept this agreement.</a>' in summary
    assert '<a href="#signature">Signature: Please sign:' in summary and "agree-mandate" not in summary
    assert re.search(r'id="agree-terms"[^>]*aria-invalid="true" aria-describedby="agree-terms-error"', html)
    assert 'id="agree-terms-error"' in html and 'id="signature-error"' in html
    assert re.search(r'id="signature_typed"[^>]*aria-invalid="true"', html.replace("\n", " "))
    assert 'id="agree-mandate" name="agree-mandate" value="yes" required\n          checked' in html or re.search(
        r'id="agree-mandate"[^>]*checked', html.replace("\n", " ")
    )
    stale = sign_form(client, "en", **{"sha-mandate": "0" * 64})
    assert "This text was updated while you were reading" in client.post(
        "/en/join/sign", data=stale, base_url=TIKTOK
    ).get_data(as_text=True)
    assert signups(db_app)[0].stage == Stage.VERIFIED


def test_drawn_signature_is_kept_as_png(db_app: Flask) -> None:
    import base64
    import struct
    import zlib

    def png(width: int, height: int) -> bytes:
        # white, with a dark stroke across (a blank drawing is refused)
        raw = b"".join(b"\x00" + (b"\x11\x11\x11" if 40 <= y < 44 else b"\xff\xff\xff") * width for y in range(height))
        chunk = lambda kind, data: (  # noqa: E731
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b"")
        )

    client = db_app.test_client()
    post_form(client, "en")
    [mail] = deliver(db_app)
    post_code(client, code_of(mail), "en")
    drawn = png(300, 100)
    data = sign_form(client, "en", typed="", signature_png="data:image/png;base64," + base64.b64encode(drawn).decode())
    assert client.post("/en/join/sign", data=data, base_url=TIKTOK).status_code == 302
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert signup.signature_kind == "drawn"
        assert personal_data.load_signature(db_session(), signup) == drawn  # the working copy, for the mandate
        assert opened_personal_data(db_app, signup).signature_png == drawn  # the sealed one


def test_evidence_is_recorded(db_app: Flask) -> None:
    client = db_app.test_client()
    join_fully(db_app, client, "en")
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        steps = [e.step for e in signup.events]
        assert steps[:3] == ["form", "code-sent", "verified"] and steps.count("agreed") == 2 and "signed" in steps
        for event in signup.events:
            assert event.at.tzinfo is not None and len(event.ip_hash or "") == 64 and event.user_agent
        assert signup.verified_at <= signup.signed_at  # type: ignore[operator]
        agreements = {a.agreement: a for a in db_session().scalars(select(AcceptedAgreement))}
        mandate_file = Path("campaigns/tiktokclaim/agreements/mandate.2026-12-03.en.md")
        assert set(agreements) == {"mandate", "terms"} and agreements["mandate"].version == "2026-12-03"
        assert agreements["mandate"].language == "en" and len(agreements["mandate"].text_sha256) == 64
        assert agreements["mandate"].text_sha256 != sha256_hex(mandate_file.read_text())  # the filled-in text
        jobs = db_session().scalars(select(Job.kind)).all()
        assert "mandate" in jobs


def test_mandate_pdf_confirmation_mail_and_download(db_app: Flask, tmp_path: Path) -> None:
    client = db_app.test_client()
    join_fully(db_app, client, "en")
    mails = deliver(db_app)  # verification already delivered; this runs the mandate job, then its mail
    [confirmation] = [m for m in mails if m["To"] == "anna@example.org"]
    [attachment] = list(confirmation.iter_attachments())
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-") and attachment.get_filename() == "mandate-tiktokclaim.pdf"
    (tmp_path / "m.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "m.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Anna de Vries" in text and "TikTok" in text and "2026-12-03" in text
    signature = " ".join(text[text.rindex("Signature") : text.index("Evidence")].split())
    assert re.search(r"Signed by Anna de Vries Signed on ", signature), signature  # the name under the signature
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert signup.mandate_sha256 == sha256_hex(pdf)
        assert [e.detail for e in signup.events if e.step == "mandate-made"] == [f"sha256:{sha256_hex(pdf)}"]
    done = client.get("/en/join/done", base_url=TIKTOK).get_data(as_text=True)
    assert "You have successfully joined the TikTok Claim." in done
    # The working copy, and the copy's one-off key with it, was released with the confirmation mail: the done page
    # no longer links the copy, it says where the mandate is.
    assert "/mandate/" not in done and "with your signed mandate attached" in done
    body = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https://tiktokclaim\.org(/en/mandate/[^\s#?]+)#([A-Za-z0-9_-]+)\s", body)
    assert found, body
    page, key = found.group(1), found.group(2)
    shown = db_app.test_client().get(page, base_url=TIKTOK)
    assert shown.status_code == 200 and "js/mandate_copy.js" in shown.get_data(as_text=True)
    copy_url = copy_url_of(shown.get_data(as_text=True))
    assert copy_url == page.removeprefix("/en") + "/copy"  # one address for the copy, whatever the page's language
    copy = db_app.test_client().get(copy_url, base_url=TIKTOK)
    assert copy.status_code == 200 and copy.headers["Cache-Control"] == "private, no-store"
    assert copy.data.startswith(b"CLVAULT1") and open_copy(copy.data, private_key_of(key)) == pdf
    tampered = db_app.test_client().get(page + "x", base_url=TIKTOK)
    assert tampered.status_code == 404 and "This link to your mandate no longer works" in tampered.get_data(
        as_text=True
    )
    assert db_app.test_client().get(copy_url.replace("/copy", "x/copy"), base_url=TIKTOK).status_code == 404
    assert deliver(db_app) == []  # the mandate job does not run twice


def copy_url_of(mandate_page: str) -> str:
    """Where the mandate page's script fetches the encrypted copy."""
    return re.search(r'data-copy-url="([^"]+)"', mandate_page).group(1)  # type: ignore[union-attr]


def private_key_of(fragment: str) -> bytes:
    """The one-off private key (PKCS#8 DER) a mandate link carries in its fragment (base64url, no padding)."""
    return base64.urlsafe_b64decode(fragment + "=" * (-len(fragment) % 4))


def test_counter_goes_up_by_one(db_app: Flask) -> None:
    client = db_app.test_client()
    before = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert "The more people join, the stronger we stand." in before
    join_fully(db_app, client, "en")
    db_app.extensions["claimsite"].page_cache.clear()
    after = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert "1 person has joined since 28 July 2020." in after
    board = client.get("/en/scoreboard", base_url=TIKTOK).get_data(as_text=True)
    assert "TikTok Claim" in board and "Zoom" not in board  # closed campaigns are not listed


def test_dutch_flow_end_to_end(db_app: Flask) -> None:
    client = db_app.test_client()
    join_fully(db_app, client)
    done = client.get("/join/done", base_url=TIKTOK).get_data(as_text=True)
    assert "Gelukt: je doet nu mee aan de TikTok Claim." in done


def test_concurrent_signups_are_all_counted(db_app: Flask) -> None:
    """Many people join at the same moment: every confirmed sign-up is counted, none lost."""
    people = 12
    clients = [db_app.test_client() for _ in range(people)]
    errors: list[BaseException] = []

    def in_parallel(step: Any) -> None:
        def run(n: int) -> None:
            try:
                step(n, clients[n])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(people)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

    def fill_in(n: int, client: FlaskClient) -> None:
        assert post_form(client, "en", email=f"p{n}@example.org").status_code == 302

    in_parallel(fill_in)
    codes = {m["To"]: code_of(m) for m in deliver(db_app)}
    assert len(codes) == people

    def verify_and_sign(n: int, client: FlaskClient) -> None:
        assert post_code(client, codes[f"p{n}@example.org"], "en").status_code == 302
        signed = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
        assert signed.status_code == 302
        assert pay_in_test_mode(client, signed.location).status_code == 302  # the TikTok claim counts once paid

    in_parallel(verify_and_sign)
    with db_app.app_context():
        from core.data.db import db_session

        confirmed = db_session().scalar(select(func.count()).select_from(Signup).where(participant()))
        db_app.extensions["claimsite"].counters.forget("tiktokclaim")
        assert confirmed == people == db_app.extensions["claimsite"].counters.participants("tiktokclaim")


# -- mail over a real SMTP server, and a mail server that is down ---------------------------------------------


def test_whole_flow_with_mail_over_smtp(make_app: Any, database_url: str, smtp_server: Any) -> None:
    from core.data.migrations import upgrade

    upgrade(database_url)
    app = make_app(database_url=database_url, mail_url=smtp_server.url)
    client = app.test_client()
    assert post_form(client, "en").status_code == 302
    while Worker(app).run_once():
        pass
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["anna@example.org"]
    code = code_of(received.message)
    assert post_code(client, code, "en").status_code == 302
    signed = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
    assert signed.status_code == 302
    pay_in_test_mode(client, signed.location)
    while Worker(app).run_once():
        pass
    confirmation = smtp_server.wait_for(2)[1].message
    [attachment] = list(confirmation.iter_attachments())
    assert attachment.get_content().startswith(b"%PDF-")
    app.extensions["claimsite.db"].engine.dispose()


def test_mail_server_down_never_breaks_a_signup_and_staff_see_the_failure(
    make_app: Any, database_url: str, smtp_server: Any
) -> None:
    from core.data.migrations import upgrade

    upgrade(database_url)
    smtp_server.stop()  # the mail server is down
    app = make_app(database_url=database_url, mail_url=smtp_server.url)
    client = app.test_client()
    response = post_form(client, "en")
    assert response.status_code == 302  # the sign-up is saved; the mail waits in the queue
    page = client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    assert "A verification code was sent to your e-mail" in page
    assert Worker(app).run_once() == 1
    with app.app_context():
        from core.data.db import db_session

        job = db_session().scalars(select(Job).where(Job.kind == "mail")).one()
        assert job.status == "pending" and job.attempts == 1 and job.last_error
        assert "anna@example.org" not in job.last_error
        listing = app.test_cli_runner().invoke(args=["jobs"]).output
        assert "mail" in listing and "pending" in listing
        job.run_after = utcnow()  # the retry is due; the server is back
        db_session().commit()
    smtp_server.start()
    assert Worker(app).run_once() == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["anna@example.org"]
    app.extensions["claimsite.db"].engine.dispose()


@pytest.mark.databases("sqlite")
def test_form_fields_carry_only_attributes_that_apply(db_app: Flask) -> None:
    html = db_app.test_client().get("/en/join", base_url=TIKTOK).get_data(as_text=True)
    assert '="None"' not in html
    assert re.search(r'<input[^>]*name="phone"[^>]*>', html).group(0).count("required") == 0  # type: ignore[union-attr]
    assert "required" in re.search(r'<input[^>]*name="email"[^>]*>', html).group(0)  # type: ignore[union-attr]
    assert '<option value="NL" selected>Netherlands</option>' in html


# The autofill field names of the HTML standard (WHATWG, "Autofill"), with the Nu checker's view of them: a value
# outside this list, or one meant for another kind of field (street-address is for a multi-line field), is an error.
AUTOFILL_NAMES = {
    "name", "honorific-prefix", "given-name", "additional-name", "family-name", "honorific-suffix", "nickname",
    "username", "new-password", "current-password", "one-time-code", "organization-title", "organization",
    "address-line1", "address-line2", "address-line3", "address-level4", "address-level3", "address-level2",
    "address-level1", "country", "country-name", "postal-code", "cc-name", "cc-given-name", "cc-additional-name",
    "cc-family-name", "cc-number", "cc-exp", "cc-exp-month", "cc-exp-year", "cc-csc", "cc-type",
    "transaction-currency", "transaction-amount", "language", "bday", "bday-day", "bday-month", "bday-year", "sex",
    "url", "photo", "tel", "tel-country-code", "tel-national", "tel-area-code", "tel-local", "tel-extension",
    "email", "impp", "on", "off",
}  # fmt: skip


def test_every_autocomplete_value_is_one_the_validator_accepts(db_app: Flask) -> None:
    """Every form a visitor fills in (join, verify, sign, their own page) names fields the way browsers and the Nu
    HTML checker know; a one-line input never asks for a multi-line value."""
    client = db_app.test_client()
    pages = [client.get("/en/join", base_url=TIKTOK).get_data(as_text=True)]
    post_form(client, "en")
    pages.append(client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True))
    [mail] = deliver(db_app)
    post_code(client, code_of(mail), "en")
    pages.append(client.get("/en/join/sign", base_url=TIKTOK).get_data(as_text=True))
    pages.append(db_app.test_client().get("/en/my", base_url=TIKTOK).get_data(as_text=True))
    found = [value for html in pages for value in re.findall(r'autocomplete="([^"]*)"', html)]
    assert {"email", "one-time-code", "address-line1", "name"} <= set(found)
    assert [value for value in found if value not in AUTOFILL_NAMES] == []


@pytest.mark.databases("sqlite")
def test_country_must_come_from_the_list(db_app: Flask) -> None:
    html = post_form(db_app.test_client(), "en", country="XX").get_data(as_text=True)
    assert "Please choose a country from the list." in html


def test_the_same_address_sent_twice_at_once_makes_one_signup(db_app: Flask) -> None:
    clients = [db_app.test_client() for _ in range(4)]
    tokens = [csrf_token(client, "/en/join") for client in clients]
    results: list[int] = []

    def send(n: int) -> None:
        data = {**VALID, "csrf_token": tokens[n]}
        results.append(clients[n].post("/en/join", data=data, base_url=TIKTOK).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [302] * 4
    assert len(signups(db_app)) == 1


# -- attempts and limits under concurrency and from hostile senders ----------------------------------------------


def from_network(client: FlaskClient, address: str) -> FlaskClient:
    """``client`` as a browser at IP ``address`` (every request it sends from now on)."""
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_parallel_wrong_codes_are_compared_at_most_five_times(db_app: Flask) -> None:
    """20 wrong codes sent at the same moment for one sign-up: each attempt is counted before the code is compared,
    so only five are ever compared (four say "not right", the fifth uses the code up) and the right code is then
    refused too."""
    first = db_app.test_client()
    post_form(first, "en")
    [mail] = deliver(db_app)
    code = code_of(mail)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    cookie = first.get_cookie("__Host-claimsite_session", domain="tiktokclaim.org")
    assert cookie is not None
    clients = []
    for _ in range(20):
        client = db_app.test_client()
        client.set_cookie("__Host-claimsite_session", cookie.value, domain="tiktokclaim.org")
        clients.append((client, csrf_token(client, "/en/join/verify")))
    barrier = threading.Barrier(len(clients))
    pages: list[str] = []

    def guess(client: FlaskClient, token: str) -> None:
        barrier.wait()
        response = client.post("/en/join/verify", data={"code": wrong, "csrf_token": token}, base_url=TIKTOK)
        pages.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=guess, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pages) == 20
    assert sum("That code is not right" in page for page in pages) == 4
    assert sum("Too many wrong tries for this code" in page for page in pages) == 16
    assert "Too many wrong tries for this code" in post_code(first, code, "en").get_data(as_text=True)
    [signup] = signups(db_app)
    assert signup.stage == Stage.STARTED and signup.code_attempts == 5


def test_someone_elses_form_posts_never_stop_a_visitors_own_code(db_app: Flask) -> None:
    """An attacker who sends the form with Anna's address again and again (from one network) cannot keep her
    codes away: she still gets one from her own network. Mail to one address stays bounded all the same."""
    attacker = from_network(db_app.test_client(), "198.51.100.7")
    for _ in range(10):
        assert post_form(attacker, "en").status_code == 302
    assert len(deliver(db_app)) == 6  # one network gets at most six codes a day for one address

    anna = from_network(db_app.test_client(), "203.0.113.9")
    assert post_form(anna, "en").status_code == 302
    assert "A verification code was sent" in anna.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    [mail] = deliver(db_app)
    assert mail["To"] == "anna@example.org"
    assert post_code(anna, code_of(mail), "en").status_code == 302

    # Many networks at once: at most seven codes per address in fifteen minutes (the one above included).
    for n in range(12):
        post_form(from_network(db_app.test_client(), f"192.0.2.{n + 1}"), "en", email="bert@example.org")
    assert len(deliver(db_app)) == 7


def test_a_visitor_who_switches_language_gets_one_language_per_document(db_app: Flask, tmp_path: Path) -> None:
    """The form in Dutch, the agreements read and signed in English: the mandate's frame, its mail and the done
    page are English, like the agreements (issue 17: a Dutch frame around English agreements)."""
    client = db_app.test_client()
    assert post_form(client, "").status_code == 302  # Dutch, the default language
    [mail] = deliver(db_app)
    assert post_code(client, code_of(mail)).status_code == 302
    response = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert pay_in_test_mode(client, response.location).status_code == 302
    mails = deliver(db_app)
    [confirmation] = [m for m in mails if m["To"] == "anna@example.org"]
    body = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "mandate" in body.lower() and "volmacht" not in body.lower(), body[:400]
    [attachment] = list(confirmation.iter_attachments())
    (tmp_path / "m.pdf").write_bytes(attachment.get_content())
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "m.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Date of birth" in text and "Geboortedatum" not in text
    with db_app.app_context():
        from core.data.db import db_session

        signup = db_session().scalars(select(Signup)).one()
        assert signup.language == "en" and {a.language for a in signup.agreements} == {"en"}
