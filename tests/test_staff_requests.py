"""The console's Data requests page (issue 20): each round's timeline per company with its days, due day and state
(overdue in words, not colour alone), a round prepared with the key file as a console export whose packages
verify, the sending and the company's events recorded from the console with the command line's rules (refusals
shown at their form, with what was typed), who may do what, and the audit log. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.data.db import db_session
from core.data.models import AuditEntry, CompanyRequest, StaffExport
from core.data_requests.deadlines import deadline
from core.exports.round_package import verify_round_package
from core.sealing import generate
from tests.conftest import CampaignFolder
from tests.test_data_request_join import plain, reopened
from tests.test_request_rounds import PALANTIR_RECEIVED, ROUND_1, ROUND_2, TODAY, days, join, prepare
from tests.test_staff_console import ADMIN, audit_actions, csrf, development_private_key, finished, post
from tests.test_staff_identity import audit_details
from tests.test_staff_roles import console

PAGE = "/campaigns/alledata/requests"


@pytest.fixture
def app(make_app: Callable[..., Flask], migrated_database_url: str, campaign_folder: CampaignFolder) -> Iterator[Flask]:
    """alledata open again with two rounds ahead (as in test_request_rounds), and the console on its admin host."""
    rounds = [{"id": "round-1", "submit_on": ROUND_1.isoformat()}, {"id": "round-2", "submit_on": ROUND_2.isoformat()}]
    app = make_app(
        database_url=migrated_database_url,
        campaigns_dir=reopened(campaign_folder, rounds=rounds),
        admin_host="staff.example",
    )
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def anna(app: Flask) -> int:
    return join(
        app, "Anna de Vries", "anna@example.org", company=["tiktok", "zoom", "palantir"],
        **{"detail-tiktok-username": "@anna", "detail-zoom-account-email": "a@example.org",
           "detail-palantir-email": "a@example.org"},
    )  # fmt: skip


def sent(client: FlaskClient, company: str, on: str, channel: str = "email", received: str = "") -> Any:
    data = {"csrf_token": csrf(client, "/"), "on": on, "channel": channel, "received": received}
    return post(client, f"{PAGE}/round-1/{company}/sent", data)


def event(client: FlaskClient, company: str, kind: str, on: str, **more: str) -> Any:
    data = {"csrf_token": csrf(client, "/"), "kind": kind, "on": on, "months": "", "answer": "", "note": "", **more}
    return post(client, f"{PAGE}/round-1/{company}/event", data)


def prepare_on_console(client: FlaskClient, key: bytes, round_id: str = "round-1", *companies: str) -> Any:
    return client.post(
        f"{PAGE}/{round_id}/prepare",
        base_url=ADMIN,
        content_type="multipart/form-data",
        headers={"Referer": f"{ADMIN}/"},
        data={
            "csrf_token": csrf(client, "/"),
            "companies": list(companies),
            "private_keys": (io.BytesIO(key), "private-key.key"),
        },
    )


def timeline(html: str, round_id: str, company: str) -> str:
    """The text of one company's timeline on the page."""
    found = re.search(rf'<article class="timeline [^"]*" id="{round_id}-{company}".*?</article>', html, re.S)
    assert found, html
    return plain(found.group(0))


def test_the_timeline_shows_each_step_its_day_the_due_day_and_the_state(app: Flask, tmp_path: Path) -> None:
    anna(app)
    admin = console(app, "mira@somi.nl")
    html = admin.get(PAGE, base_url=ADMIN).get_data(as_text=True)
    assert "round-1" in html and ROUND_1.isoformat() in html and "round-2" in html
    assert "Not prepared" in timeline(html, "round-1", "tiktok") and "1 participant(s) wait for it" in html
    assert "Nobody named another company" in plain(html)
    assert prepare(app, "round-1", tmp_path).exit_code == 0
    with app.app_context():
        manifests = {r.company: r.manifest_sha256 for r in db_session().scalars(select(CompanyRequest))}

    # TikTok: e-mailed 60 days ago, an extension claimed late: overdue. Zoom: a letter 20 days ago, three months
    # claimed in time (two count), answered in part. Palantir: received some 23 days ago as recorded: due soon.
    assert sent(admin, "tiktok", days(-60)).status_code == 200
    response = event(admin, "tiktok", "extension", days(-5), months="2")
    assert response.status_code == 200
    assert "does NOT move the deadline" in plain(response.get_data(as_text=True))
    assert sent(admin, "zoom", days(-20), "letter").status_code == 200
    assert event(admin, "zoom", "extension", days(-10), months="3").status_code == 200
    response = event(admin, "zoom", "answered", days(-2), answer="part", note="no location data")
    assert response.status_code == 200 and "answered recorded" in plain(response.get_data(as_text=True))
    assert sent(admin, "palantir", days(-PALANTIR_RECEIVED - 2), "email", days(-PALANTIR_RECEIVED)).status_code == 200

    html = admin.get(PAGE, base_url=ADMIN).get_data(as_text=True)
    tiktok_due = deadline(TODAY - dt.timedelta(days=60), "IE").due
    tiktok = timeline(html, "round-1", "tiktok")
    assert "OVERDUE" in tiktok and f"due {tiktok_due.isoformat()}" in tiktok
    assert f"{(TODAY - tiktok_due).days} day(s) overdue" in tiktok
    assert f"{days(-60)} sent : by email" in tiktok and f"{days(-60)} received : assumed for email" in tiktok
    assert f"{days(-5)} extension : 2 further month(s) claimed; claimed after the first month" in tiktok
    assert manifests["tiktok"] in tiktok and "1 participant(s)" in tiktok
    assert 'class="timeline state-overdue"' in html  # red, besides the word

    zoom_due = deadline(
        TODAY - dt.timedelta(days=17), "NL", extension_claimed_on=TODAY - dt.timedelta(days=10), extension_months=3
    ).due
    zoom = timeline(html, "round-1", "zoom")
    assert "Answered" in zoom and f"due {zoom_due.isoformat()}" in zoom and "overdue" not in zoom
    assert f"{days(-17)} received : assumed for letter" in zoom and "capped at the two further months" in zoom
    assert f"{days(-2)} answered : answer: part Note: no location data" in zoom
    assert "Mark sent" not in zoom and "Record" not in zoom  # nothing is recorded after the answer

    palantir_due = deadline(TODAY - dt.timedelta(days=PALANTIR_RECEIVED), "NL").due
    palantir = timeline(html, "round-1", "palantir")
    assert "Due soon" in palantir and f"{(palantir_due - TODAY).days} day(s) left" in palantir
    assert f"{days(-PALANTIR_RECEIVED)} received : recorded" in palantir

    with app.app_context():
        entries = db_session().scalars(select(AuditEntry).where(AuditEntry.action.like("requests-%"))).all()
    assert sorted(e.action for e in entries if e.staff_id) == ["requests-event"] * 3 + ["requests-sent"] * 3
    details = audit_details(app, "requests-event")
    assert f"round-1 zoom: answered on {days(-2)}" in details
    assert not any("location" in detail for detail in details)  # the note is free text: never in the audit log


def test_refusals_are_shown_at_their_form_with_what_was_typed(app: Flask, tmp_path: Path) -> None:
    anna(app)
    assert prepare(app, "round-1", tmp_path).exit_code == 0
    admin = console(app, "mira@somi.nl")

    response = event(admin, "tiktok", "acknowledged", days(-1))
    assert response.status_code == 400 and "not marked sent yet" in plain(response.get_data(as_text=True))
    response = sent(admin, "tiktok", days(3), "letter")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "has not come yet" in plain(html)
    form = re.search(r"<form[^>]*round-1/tiktok/sent.*?</form>", html, re.S).group(0)  # type: ignore[union-attr]
    assert 'role="alert"' in form and f'value="{days(3)}"' in form  # the error at its form, the day kept
    assert '<option selected value="letter">' in form
    other_form = re.search(r"<form[^>]*round-1/zoom/sent.*?</form>", html, re.S).group(0)  # type: ignore[union-attr]
    assert f'value="{TODAY.isoformat()}"' in other_form and 'role="alert"' not in other_form  # today, by default
    response = sent(admin, "tiktok", "3 May")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Sent on: Give the day as YYYY-MM-DD" in plain(html)
    assert 'value="3 May"' in html

    assert sent(admin, "tiktok", days(-60)).status_code == 200
    response = sent(admin, "tiktok", days(-59))
    assert response.status_code == 400 and "a request is sent once" in plain(response.get_data(as_text=True))
    response = event(admin, "tiktok", "extension", days(-5))
    assert response.status_code == 400 and "needs the further months" in plain(response.get_data(as_text=True))
    response = event(admin, "tiktok", "overdue", days(-5))  # recorded by the reminder only, never by hand
    assert response.status_code == 400 and "What happened: Not a valid choice" in plain(response.get_data(as_text=True))
    response = event(admin, "tiktok", "answered", days(-5))
    assert response.status_code == 400 and "needs its kind" in plain(response.get_data(as_text=True))
    response = event(admin, "tiktok", "acknowledged", days(-61), note="kept")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "before the request was sent" in plain(html)
    assert 'value="kept"' in html
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "requests-event")) == 0  # fmt: skip


def test_a_view_account_sees_the_page_but_may_not_prepare_send_or_record(app: Flask, tmp_path: Path) -> None:
    anna(app)
    assert prepare(app, "round-1", tmp_path).exit_code == 0
    viewer = console(app, "kim@somi.nl", "--role", "staff", "--campaigns", "alledata")
    html = viewer.get(PAGE, base_url=ADMIN).get_data(as_text=True)
    assert "Mark sent" not in html and "Prepare round-1" not in html and "Not prepared" in html
    assert 'href="/campaigns/alledata/requests"' in viewer.get("/campaigns/alledata", base_url=ADMIN).get_data(
        as_text=True
    )
    assert prepare_on_console(viewer, development_private_key(app)).status_code == 403
    assert sent(viewer, "tiktok", days(-1)).status_code == 403
    assert event(viewer, "tiktok", "acknowledged", days(-1)).status_code == 403
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffExport)) == 0
        assert all(r.sent_on is None for r in db_session().scalars(select(CompanyRequest)))
    assert audit_details(app, "forbidden") == [
        f"POST {PAGE}/round-1/prepare",
        f"POST {PAGE}/round-1/tiktok/sent",
        f"POST {PAGE}/round-1/tiktok/event",
    ]

    # Support staff record the sending and the events (they open nothing), but do not prepare.
    helper = console(app, "lea@somi.nl", "--role", "staff", "--campaigns", "alledata", "--rights", "support")
    assert "Mark sent" in helper.get(PAGE, base_url=ADMIN).get_data(as_text=True)
    assert sent(helper, "tiktok", days(-1)).status_code == 200
    assert prepare_on_console(helper, development_private_key(app)).status_code == 403

    other = console(app, "bo@somi.nl", "--role", "staff", "--campaigns", "zoomclaim", "--rights", "support")
    assert other.get(PAGE, base_url=ADMIN).status_code == 403
    assert event(other, "tiktok", "acknowledged", days(-1)).status_code == 403
    admin = console(app, "mira@somi.nl")
    assert admin.get("/campaigns/tiktokclaim/requests", base_url=ADMIN).status_code == 404  # files no requests
    assert 'href="/campaigns/tiktokclaim/requests"' not in admin.get("/campaigns/tiktokclaim", base_url=ADMIN).get_data(
        as_text=True
    )


def test_a_round_prepared_on_the_console_gives_packages_that_verify(app: Flask) -> None:
    anna(app)
    join(app, "Bob Jansen", "bob@example.org", company=["zoom"], **{"detail-zoom-account-email": "b@example.org"})
    carl = {"detail-zoom-account-email": "c@example.org"}
    join(app, "Carl Smit", "carl@example.org", id_proof="received", company=["zoom"], **carl)  # copy not reviewed
    admin = console(app, "mira@somi.nl")
    assert "zoom" in admin.get(PAGE, base_url=ADMIN).get_data(as_text=True)

    response = prepare_on_console(admin, development_private_key(app))
    assert response.status_code == 302 and response.location.startswith("/exports/")
    page = finished(admin, response.location)
    assert "Done: 4 participant(s)" in page, page  # anna for three companies, bob for zoom; carl waits
    assert "Data requests of a round" in page and "manifest SHA-256" in page
    with admin.get(f"{response.location}/download", base_url=ADMIN) as download:
        assert download.status_code == 200 and download.mimetype == "application/zip"
        bundle = zipfile.ZipFile(io.BytesIO(download.data))
    with app.app_context():
        manifests = {r.company: r.manifest_sha256 for r in db_session().scalars(select(CompanyRequest))}
    assert sorted(bundle.namelist()) == [f"alledata-round-1-{c}.zip" for c in ("palantir", "tiktok", "zoom")]
    for company, manifest in manifests.items():
        check = verify_round_package(io.BytesIO(bundle.read(f"alledata-round-1-{company}.zip")), manifest)
        assert check.ok, check.problems
    html = admin.get(PAGE, base_url=ADMIN).get_data(as_text=True)
    assert manifests["zoom"] in timeline(html, "round-1", "zoom") and "2 participant(s)" in timeline(
        html, "round-1", "zoom"
    )
    [started] = audit_details(app, "requests-prepare")
    assert re.fullmatch(r"round-1: export \d+, tiktok, palantir, zoom", started)  # counts and names, no person
    assert "export-download" in {action for _actor, action in audit_actions(app)}

    # Sent requests are not made again: refused on the page, before the key is used; the others may be.
    assert sent(admin, "tiktok", days(0)).status_code == 200
    response = prepare_on_console(admin, development_private_key(app))
    assert response.status_code == 409
    assert "tiktok (sent" in plain(response.get_data(as_text=True)) and "Nothing was prepared" in plain(
        response.get_data(as_text=True)
    )
    response = prepare_on_console(admin, development_private_key(app), "round-1", "zoom")
    assert response.status_code == 302
    assert "Done: 2 participant(s)" in finished(admin, response.location)


def test_a_wrong_key_is_refused_with_a_message_and_nothing_is_started(app: Flask, tmp_path: Path) -> None:
    anna(app)
    admin = console(app, "mira@somi.nl")
    other_private, _public, _key = generate(tmp_path / "other")
    response = prepare_on_console(admin, other_private.read_bytes())
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was prepared" in plain(html)
    assert "seals personal data to" in plain(html)
    form = re.search(r"<form[^>]*round-1/prepare.*?</form>", html, re.S).group(0)  # type: ignore[union-attr]
    assert 'role="alert"' in form
    assert prepare_on_console(admin, b"not a key at all").status_code == 400
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(StaffExport)) == 0
        assert db_session().scalar(select(func.count()).select_from(CompanyRequest)) == 0
