"""The data breach check page of facebookleak (core.web.views.breach_check): found and not found alike, limited per
network, proved by a code by SMS, and carried into the join form and the sign-up's evidence."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.data.db import db_session
from core.data.models import PhoneVerification, Signup, SignupEvent
from core.jobs.queue import Worker

FACEBOOK = "https://facebookleak.somi.nl"
HEADER = "phone,name,gender,date_of_birth,location,email"
IN_LEAK = "+31612345601"  # name, gender, birth date, place: see leak()
ALSO_IN_LEAK = "+31612345602"  # name only
NOT_IN_LEAK = "+31612345699"


def leak(app: Flask, folder: Path) -> None:
    """Import a small dump into facebookleak's dataset, through the real command."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / "dump.csv"
    dump.write_text(
        f"{HEADER}\n+31 6 12345601,Anna de Vries,female,1990-01-02,Utrecht,\n0031612345602,Bram,,,,\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["breach", "import", "facebook-2021", str(dump), "--jobs", "1"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def app(db_app: Flask, tmp_path: Path) -> Flask:
    leak(db_app, tmp_path / "dump")
    return db_app


def token(client: FlaskClient, path: str = "/en/check", ip: str = "192.0.2.1") -> str:
    html = client.get(path, base_url=FACEBOOK, environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def check(client: FlaskClient, number: str, ip: str = "192.0.2.1", path: str = "/en/check") -> Any:
    return client.post(
        path,
        data={"phone": number, "csrf_token": token(client, path, ip)},
        base_url=FACEBOOK,
        environ_base={"REMOTE_ADDR": ip},
    )


def funnel(app: Flask) -> dict[str, int]:
    """facebookleak's funnel today, as the staff console reads it (the app's shared counters)."""
    from core.breach.funnel import funnel as read_funnel

    today = dt.datetime.now(dt.UTC).date()
    days = read_funnel(app.extensions["claimsite"].limits, "facebookleak", today - dt.timedelta(days=1), today)
    return {
        step: sum(getattr(day, step) for day in days)
        for step in ("checks", "found", "codes_sent", "verified", "joined")
    }


def answer_text(response: Any) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_only_a_campaign_with_a_breach_check_has_the_page(db_app: Flask) -> None:
    client = db_app.test_client()
    assert client.get("/en/check", base_url="https://tiktokclaim.org").status_code == 404
    page = client.get("/check", base_url=FACEBOOK)
    assert page.status_code == 200
    text = answer_text(page)
    assert "Data breach check" not in text  # facebookleak speaks Dutch first
    assert "Datalekcheck" in text and "533.000.000" in text
    # Before any import the check says so, instead of answering "not found" for every number.
    assert "nog niet beschikbaar" in text and 'name="phone"' not in page.get_data(as_text=True)
    # The landing page leads to it.
    landing = client.get("/en/", base_url=FACEBOOK).get_data(as_text=True)
    assert 'href="/en/check"' in landing


def test_found_and_not_found_answer_alike_and_are_counted_alike(app: Flask) -> None:
    client = app.test_client()
    found, missing = check(client, "06 12345601"), check(client, NOT_IN_LEAK)
    assert found.status_code == missing.status_code == 200
    assert "This number is in the Facebook data leak of April 2021." in answer_text(found)
    assert "This number is not in the Facebook data leak of April 2021." in answer_text(missing)
    # The same page: the same offers, the same headers, no categories before the number is proved.
    for response in (found, missing):
        html = response.get_data(as_text=True)
        assert "Send me a code by SMS" in html and "Join with this number" in html
        assert "Date of birth" not in html and "Utrecht" not in html and "Anna" not in html
        assert response.headers["Cache-Control"] == "private, no-store"
    assert set(found.headers.keys()) == set(missing.headers.keys())
    assert funnel(app) == {"checks": 2, "found": 1, "codes_sent": 0, "verified": 0, "joined": 0}


@pytest.mark.parametrize("typed", ["+31 6 12345601", "0031612345601", "31612345601", "06-12345601", "612345601"])
def test_the_formats_people_type_find_the_number(app: Flask, typed: str) -> None:
    assert "This number is in the" in answer_text(check(app.test_client(), typed))


def test_a_number_that_cannot_be_read_keeps_what_was_typed_and_says_how(app: Flask) -> None:
    client = app.test_client()
    response = check(client, "call me maybe")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="call me maybe"' in html and "Type it with its country code" in html
    assert check(client, "  ").status_code == 422
    expired = client.post("/en/check", data={"phone": "06 12345601", "csrf_token": "stale"}, base_url=FACEBOOK)
    assert expired.status_code == 400 and 'value="06 12345601"' in expired.get_data(as_text=True)
    assert funnel(app)["checks"] == 0  # none of these was checked


def test_one_network_gets_20_checks_an_hour_found_or_not_and_an_ipv6_64_is_one_network(app: Flask) -> None:
    client = app.test_client()
    answers = [check(client, IN_LEAK if n % 2 else NOT_IN_LEAK, ip="192.0.2.7").status_code for n in range(20)]
    assert answers == [200] * 20
    for number in (IN_LEAK, NOT_IN_LEAK, "garbage"):
        refused = check(client, number, ip="192.0.2.7")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert 'value="' + number + '"' in refused.get_data(as_text=True)  # nothing typed is lost
    assert check(client, IN_LEAK, ip="192.0.2.8").status_code == 200  # another network is not held up

    for n in range(20):
        assert check(client, NOT_IN_LEAK, ip=f"2001:db8:1:2::{n + 1:x}").status_code == 200
    assert check(client, IN_LEAK, ip="2001:db8:1:2:ffff::1").status_code == 429  # the same /64
    assert check(client, IN_LEAK, ip="2001:db8:1:3::1").status_code == 200  # the next /64


def sms_code(app: Flask) -> str:
    """Run the queued jobs with the real worker; the code of the newest SMS in the outbox."""
    while Worker(app).run_once():
        pass
    newest = sorted((Path(app.instance_path) / "outbox").glob("*.sms"))[-1]
    return re.search(r"\b(\d{6})\b", newest.read_text()).group(1)  # type: ignore[union-attr]


def prove(client: FlaskClient, app: Flask, number: str) -> Any:
    """Check ``number``, ask for the SMS code, type a wrong one and then the right one: the page it ends on."""
    check(client, number)
    sent = client.post("/en/check/code/send", data={"phone": number, "csrf_token": token(client)}, base_url=FACEBOOK)
    assert sent.status_code == 302 and sent.location.endswith("/en/check/code"), sent.location
    page = client.get("/en/check/code", base_url=FACEBOOK)
    assert "We sent a code by SMS to +31 6 12345601" in answer_text(page) or number != IN_LEAK
    code = sms_code(app)
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(
        "/en/check/code", data={"code": wrong, "csrf_token": token(client, "/en/check/code")}, base_url=FACEBOOK
    )
    assert refused.status_code == 422 and "You have 4 tries left" in answer_text(refused)
    proved = client.post(
        "/en/check/code", data={"code": code, "csrf_token": token(client, "/en/check/code")}, base_url=FACEBOOK
    )
    assert proved.status_code == 302 and proved.location.endswith("/en/check/result"), proved.location
    return client.get("/en/check/result", base_url=FACEBOOK)


def test_a_proved_number_sees_the_kinds_of_its_leaked_data_never_values(app: Flask) -> None:
    client = app.test_client()
    result = prove(client, app, IN_LEAK)
    assert result.status_code == 200
    text = answer_text(result)
    for label in ("Name", "Gender", "Date of birth", "Phone number"):
        assert label in text, label
    assert "E-mail address" not in text  # an empty cell: not in the leak for this number
    assert "Anna" not in text and "Utrecht" not in text and "1990" not in text
    assert "SIM" in text and "phishing" in text  # what to do about it
    assert funnel(app) == {"checks": 1, "found": 1, "codes_sent": 1, "verified": 1, "joined": 0}
    assert f'name="phone" value="{IN_LEAK}"' in result.get_data(as_text=True)  # its join button carries the number
    # Without the proof the result page is not shown: another browser goes back to the check.
    other = app.test_client().get("/en/check/result", base_url=FACEBOOK)
    assert other.status_code == 302 and other.location.endswith("/en/check")


def test_join_with_the_number_fills_it_in_and_a_proved_check_joins_the_evidence(app: Flask) -> None:
    client = app.test_client()
    prove(client, app, IN_LEAK)
    joined = client.post("/en/check/join", data={"phone": IN_LEAK, "csrf_token": token(client)}, base_url=FACEBOOK)
    assert joined.status_code == 302 and joined.location.endswith("/en/join")
    form = client.get("/en/join", base_url=FACEBOOK).get_data(as_text=True)
    assert 'value="+31 6 12345601"' in form
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    sent = client.post(
        "/en/join",
        data={
            "csrf_token": csrf,
            "name": "Anna de Vries",
            "email": "anna@example.org",
            "phone": "+31 6 12345601",
            "country": "NL",
            "birth_date": "1990-01-02",
        },
        base_url=FACEBOOK,
    )
    assert sent.status_code == 302, answer_text(sent)
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup).where(Signup.campaign == "facebookleak")).one()
        [event] = db.scalars(
            select(SignupEvent).where(SignupEvent.signup_id == signup.id, SignupEvent.step == "breach-check")
        ).all()
        detail = json.loads(event.detail or "")
        verification = db.scalars(select(PhoneVerification)).one()
    assert detail["number"] == verification.number_digest and IN_LEAK not in (event.detail or "")
    [dataset] = detail["datasets"]
    assert dataset["id"] == "facebook-2021" and dataset["found"] and dataset["index_version"]
    assert set(dataset["categories"]) == {"phone", "name", "gender", "date_of_birth", "location"}
    assert detail["verified_at"].endswith("Z")
    assert funnel(app)["joined"] == 1


def test_join_with_another_number_than_the_proved_one_records_no_check(app: Flask) -> None:
    client = app.test_client()
    check(client, NOT_IN_LEAK)
    client.post("/en/check/join", data={"phone": NOT_IN_LEAK, "csrf_token": token(client)}, base_url=FACEBOOK)
    form = client.get("/en/join", base_url=FACEBOOK).get_data(as_text=True)
    assert 'value="+31 6 12345699"' in form  # filled in, though not proved
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": csrf, "name": "Bram", "email": "bram@example.org", "phone": NOT_IN_LEAK}
    data.update({"country": "NL", "birth_date": "1980-01-02"})
    assert client.post("/en/join", data=data, base_url=FACEBOOK).status_code == 302
    with app.app_context():
        steps = db_session().scalars(select(SignupEvent.step)).all()
    assert "breach-check" not in steps and funnel(app)["joined"] == 0


def test_join_from_an_expired_answer_page_says_the_number_was_not_filled_in(app: Flask) -> None:
    client = app.test_client()
    check(client, IN_LEAK)
    joined = client.post("/en/check/join", data={"phone": IN_LEAK, "csrf_token": "stale"}, base_url=FACEBOOK)
    assert joined.status_code == 302 and joined.location.endswith("/en/join")
    form = client.get("/en/join", base_url=FACEBOOK).get_data(as_text=True)
    assert "your number was not filled in" in form and "+31 6 12345601" not in form


@pytest.mark.databases("sqlite")
def test_the_database_and_the_index_hold_no_checked_number(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    prove(client, app, IN_LEAK)
    check(client, NOT_IN_LEAK)
    url = app.extensions["claimsite"].settings.resolved_database_url()
    database = Path(url.removeprefix("sqlite:///"))
    folder = app.extensions["claimsite"].settings.resolved_breach_dir()
    files = [database, *database.parent.glob(database.name + "-*"), *folder.iterdir()]
    forms = [b"612345601", b"612345699", b"6 12345601", b"Anna", b"Utrecht"]
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form not in data and form.decode().encode("utf-16-le") not in data, (path, form)


def test_the_staff_console_shows_the_index_and_the_funnel(
    make_app: Any, migrated_database_url: str, tmp_path: Path
) -> None:
    from tests.test_staff_console import ADMIN, logged_in_client

    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    staff = logged_in_client(app)
    before = answer_text(staff.get("/campaigns/facebookleak", base_url=ADMIN))
    assert "Data breach check" in before and "Not imported yet" in before
    assert "Data breach check" not in answer_text(staff.get("/campaigns/tiktokclaim", base_url=ADMIN))

    leak(app, tmp_path / "dump")
    client = app.test_client()
    check(client, IN_LEAK)
    check(client, NOT_IN_LEAK)
    prove(client, app, IN_LEAK)
    page = answer_text(staff.get("/campaigns/facebookleak", base_url=ADMIN))
    assert "facebook-2021 2 " in page  # two records in the index
    assert "3 numbers checked, 2 found in a leak, 1 SMS codes sent, 1 numbers proved, 0 sign-up forms" in page
    assert "67%" in page and "No SMS limit refused a code." in page
    app.extensions["claimsite.db"].engine.dispose()
