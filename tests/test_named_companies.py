"""Staff review of a company a participant named themselves (issue 20): counted without the key, listed with it
(each entry in the audit log), matched to the catalogue (the next round's package to that company takes them, and
their page shows its state) or declined with a reason mailed through the contact copy (their page shows it); one
decision when two staff members decide at once; admins only. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.data.db import db_session
from core.data.models import AuditEntry, RequestChoice, Signup
from core.data_requests.request_log import today_in_nl
from core.exports.evidence import spreadsheet_safe
from core.exports.round_package import verify_round_package
from core.i18n import long_date
from core.sealing import generate
from tests.conftest import CampaignFolder
from tests.test_confirmation_race import WAIT, HoldAfterRead, run_in_thread
from tests.test_data_request_join import deliver, log_in_to_my_page, plain, reopened
from tests.test_request_rounds import annex, cli, join, prepare, printed_sha
from tests.test_staff_console import ADMIN, audit_actions, csrf, development_private_key, post
from tests.test_staff_roles import console

NAMED = "/campaigns/alledata/named"
ROUND_1 = today_in_nl() + dt.timedelta(days=1)


@pytest.fixture
def app(make_app: Callable[..., Flask], migrated_database_url: str, campaign_folder: CampaignFolder) -> Iterator[Flask]:
    """alledata open again (participants may name a company), one round, and the console on its admin host."""
    folder = reopened(campaign_folder, rounds=[{"id": "round-1", "submit_on": ROUND_1.isoformat()}])
    app = make_app(database_url=migrated_database_url, campaigns_dir=folder, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def named(app: Flask, name: str, email: str, other: str) -> str:
    """A participant who chose Zoom and named ``other``; their reference."""
    signup_id = join(app, name, email, company=["zoom"], other=other, **{"detail-zoom-account-email": email})
    deliver(app)
    with app.app_context():
        token = db_session().scalar(select(Signup.token).where(Signup.id == signup_id))
        assert token is not None
        return token[:12]


def open_names(client: FlaskClient, key: bytes | None) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf(client, "/")}
    if key is not None:
        data["private_keys"] = (io.BytesIO(key), "private-key.key")
    return client.post(
        NAMED, base_url=ADMIN, content_type="multipart/form-data", headers={"Referer": f"{ADMIN}/"}, data=data
    )


def match(client: FlaskClient, reference: str, company: str) -> Any:
    return post(client, f"{NAMED}/{reference}/match", {"csrf_token": csrf(client, "/"), "company": company})


def decline(client: FlaskClient, reference: str, reason: str, other: str = "") -> Any:
    data = {"csrf_token": csrf(client, "/"), "reason": reason, "other": other}
    return post(client, f"{NAMED}/{reference}/decline", data)


def choices_of(app: Flask, reference: str) -> dict[str, RequestChoice]:
    with app.app_context():
        db = db_session()
        rows = db.scalars(
            select(RequestChoice)
            .join(Signup, Signup.id == RequestChoice.signup_id)
            .where(Signup.token.startswith(reference))
        ).all()
        for row in rows:
            db.expunge(row)
        return {row.company: row for row in rows}


def audit_details(app: Flask, action: str) -> list[str]:
    with app.app_context():
        query = select(AuditEntry.detail).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return [detail or "" for detail in db_session().scalars(query)]


def test_the_names_are_counted_without_the_key_and_listed_with_it_each_in_the_audit_log(
    app: Flask, tmp_path: Path
) -> None:
    anna = named(app, "Anna de Vries", "anna@example.org", "Acme Data BV")
    bram = named(app, "Bram Bos", "bram@example.org", "Meta Platforms Ireland")
    admin = console(app, "mira@somi.nl")

    requests_page = admin.get("/campaigns/alledata/requests", base_url=ADMIN).get_data(as_text=True)
    assert f'href="{NAMED}"' in requests_page
    page = admin.get(NAMED, base_url=ADMIN)
    assert page.status_code == 200
    text = plain(page.get_data(as_text=True))
    assert "Waiting for review 2" in text
    assert "Acme" not in text and anna not in text and bram not in text

    without = open_names(admin, None)
    assert without.status_code == 400 and "Choose the private key file" in without.get_data(as_text=True)
    wrong_private, _public, _key = generate(tmp_path / "other")
    wrong = open_names(admin, wrong_private.read_bytes())
    assert wrong.status_code == 400 and "The names were not opened" in wrong.get_data(as_text=True)
    assert "Acme" not in wrong.get_data(as_text=True)
    assert audit_details(app, "named-view") == []

    opened = open_names(admin, development_private_key(app))
    assert opened.status_code == 200 and opened.headers["Cache-Control"] == "private, no-store"
    html = opened.get_data(as_text=True)
    assert "Acme Data BV" in html and "Meta Platforms Ireland" in html
    assert html.index(anna) < html.index(bram)  # oldest first
    # Every catalogue company can be chosen, the campaign's own first.
    assert '<option value="meta">Facebook Ireland Ltd. (meta)</option>' in html
    assert html.index('value="tiktok"') < html.index('value="meta"')
    views = audit_details(app, "named-view")
    assert sorted(views) == sorted([f"named company of sign-up {anna}", f"named company of sign-up {bram}"])
    with app.app_context():
        every = " ".join(detail or "" for detail in db_session().scalars(select(AuditEntry.detail)))
    assert "Acme" not in every and "Meta Platforms" not in every

    # The command line lists the same, with the key file.
    result = cli(app, "requests", "named", "--campaign", "alledata", "--private-key", private_key_path(app))
    assert result.exit_code == 0, result.output
    assert f"{anna}  Acme Data BV" in result.output and f"{bram}  Meta Platforms Ireland" in result.output


def private_key_path(app: Flask) -> str:
    return str(app.extensions["claimsite"].settings.development_key_pair()[0])


def test_a_matched_company_is_in_the_next_rounds_package_and_on_the_participants_page(
    app: Flask, tmp_path: Path
) -> None:
    anna = named(app, "Anna de Vries", "anna@example.org", "Meta Platforms Ireland")
    bram = named(app, "Bram Bos", "bram@example.org", "Zoom Video")
    admin = console(app, "mira@somi.nl")

    unknown = match(admin, anna, "acme")
    assert unknown.status_code == 400 and "is not a company of the catalogue" in unknown.get_data(as_text=True)
    done = match(admin, anna, "meta")
    assert done.status_code == 200
    assert f"Matched: {anna} is in the next round&#39;s request to meta" in plain(done.get_data(as_text=True))
    assert choices_of(app, anna)["other"].review == "matched"
    assert choices_of(app, anna)["other"].matched_company == "meta"
    assert set(choices_of(app, anna)) == {"zoom", "other", "meta"}
    # Matched on the command line to a company they chose already: no second choice of it.
    result = cli(app, "requests", "match", bram, "zoom", "--campaign", "alledata")
    assert result.exit_code == 0, result.output
    assert set(choices_of(app, bram)) == {"zoom", "other"}
    again = cli(app, "requests", "match", bram, "tiktok", "--campaign", "alledata")
    assert again.exit_code != 0 and "no longer waiting for review" in again.output
    assert deliver(app) == []  # a match mails nothing
    assert audit_details(app, "named-match") == [f"sign-up {anna}: meta", f"sign-up {bram}: zoom"]

    out = tmp_path / "round-1"
    prepared = prepare(app, "round-1", out)
    assert prepared.exit_code == 0, prepared.output
    assert "named another company" not in prepared.output  # nobody waits for a review
    assert "annex has their name, reference and birth date only" in prepared.output
    package = out / "alledata-round-1-meta.zip"
    assert verify_round_package(package, printed_sha(prepared.output, "meta")).ok
    rows = annex(package)
    assert rows[0][:2] == ["Reference", "Name"] and len(rows) == 2
    # (a reference that starts with '-', one token in 64, carries the spreadsheet-safe apostrophe in the annex)
    assert rows[1][0] == spreadsheet_safe(anna) and rows[1][1] == "Anna de Vries" and "1990-05-01" in rows[1]
    assert len(rows[1]) == len(rows[0])
    zoom = annex(out / "alledata-round-1-zoom.zip")
    assert sorted(row[0] for row in zoom[1:]) == sorted(spreadsheet_safe(ref) for ref in (anna, bram))

    page = log_in_to_my_page(app, app.test_client())
    ready = f"your request is ready to go out on {long_date(ROUND_1, 'en')}"
    assert f"Meta (Facebook): {ready}" in page and f"Zoom: {ready}" in page
    assert "we check it before the requests go out" not in page


def test_a_declined_company_is_mailed_with_the_reason_and_shown_on_the_participants_page(app: Flask) -> None:
    anna = named(app, "Anna de Vries", "anna@example.org", "Acme Data BV")
    page = log_in_to_my_page(app, app.test_client())
    assert "And the company you named yourself: we check it before the requests go out." in page
    admin = console(app, "mira@somi.nl")

    assert decline(admin, anna, "other").status_code == 400
    too_long = decline(admin, anna, "other", "x" * 501)
    assert too_long.status_code == 400 and "shorten it to at most 500" in too_long.get_data(as_text=True)
    assert choices_of(app, anna)["other"].review is None

    done = decline(admin, anna, "outside-eea")
    assert done.status_code == 200
    assert f"Declined: {anna} gets a mail with the reason" in plain(done.get_data(as_text=True))
    reason = "it is not established in the EU or the EEA and does not offer its services here."
    assert choices_of(app, anna)["other"].review_reason == reason
    [mail] = deliver(app)
    assert mail["To"] == "anna@example.org"
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"we will not send a request to it: {reason}" in " ".join(body.split())
    assert "The other companies you chose are not affected" in body and anna in body
    with app.app_context():
        token = db_session().scalar(select(Signup.token).where(Signup.token.startswith(anna)))
    assert token is not None and token not in body and "Acme" not in body
    assert audit_details(app, "named-decline") == [f"sign-up {anna}, mailed"]
    assert decline(admin, anna, "not-found").status_code == 409  # decided already
    assert deliver(app) == []

    page = log_in_to_my_page(app, app.test_client())
    assert f"The company you named yourself: not requested: {reason}" in page
    assert "we check it before the requests go out" not in page
    assert "Zoom:" in page  # the other company stays


def test_a_reference_that_starts_with_a_dash_is_taken_as_typed_on_the_command_line(app: Flask) -> None:
    """One token in 64 begins with '-' (secrets.token_urlsafe), and so does its reference: the command line takes
    it as the reference it is, not as an option ("No such option: -h" on main)."""
    anna = with_reference(app, named(app, "Anna de Vries", "anna@example.org", "Acme Data BV"), "-hAnnaDeVrie")
    bram = with_reference(app, named(app, "Bram Bos", "bram@example.org", "Meta Platforms Ireland"), "--BramBos123")

    listed = cli(app, "requests", "named", "--campaign", "alledata", "--private-key", private_key_path(app))
    assert f"{anna}  Acme Data BV" in listed.output and f"{bram}  Meta Platforms Ireland" in listed.output
    declined = cli(app, "requests", "decline", anna, "--campaign", "alledata", "--reason", "outside-eea")
    assert declined.exit_code == 0, declined.output
    assert choices_of(app, anna)["other"].review == "declined"
    assert [mail["To"] for mail in deliver(app)] == ["anna@example.org"]
    matched = cli(app, "requests", "match", bram, "meta", "--campaign", "alledata")
    assert matched.exit_code == 0, matched.output
    assert choices_of(app, bram)["other"].matched_company == "meta"
    # An option mistyped is still refused, and nothing is decided by it.
    carla = named(app, "Carla Dijk", "carla@example.org", "Acme Data BV")
    mistyped = cli(app, "requests", "match", carla, "meta", "--campaing", "alledata")
    assert mistyped.exit_code != 0 and "--campaing" in mistyped.output
    assert choices_of(app, carla)["other"].review is None


def with_reference(app: Flask, reference: str, wanted: str) -> str:
    """Gives the sign-up whose reference is ``reference`` the reference ``wanted`` (its token's first 12
    characters, the rest kept); returns it."""
    assert len(wanted) == 12
    with app.app_context():
        signup = db_session().scalars(select(Signup).where(Signup.token.startswith(reference))).one()
        signup.token = wanted + signup.token[12:]
        db_session().commit()
    return wanted


def test_two_staff_members_deciding_at_once_make_one_decision(app: Flask) -> None:
    """Mira declines and Kim matches the same entry at the same moment: Mira's request has read the entry when
    Kim's decision lands. Only Kim's counts; Mira is told, and no mail goes out."""
    anna = named(app, "Anna de Vries", "anna@example.org", "Meta Platforms Ireland")
    mira = console(app, "mira@somi.nl")
    kim = console(app, "kim@somi.nl")
    mira_token = csrf(mira, "/")
    answers: list[Any] = []
    hold = HoldAfterRead(app, "mira", table="signups")  # Mira read the entry: still waiting
    try:
        thread, errors = run_in_thread(
            "mira",
            lambda: answers.append(
                post(mira, f"{NAMED}/{anna}/decline", {"csrf_token": mira_token, "reason": "not-found"})
            ),
        )
        assert hold.reached.wait(WAIT)
        assert match(kim, anna, "meta").status_code == 200
        hold.release()
        thread.join(WAIT)
        assert not thread.is_alive() and not errors, errors
    finally:
        hold.remove()
    [late] = answers
    assert late.status_code == 409 and "no longer waiting for review" in late.get_data(as_text=True)
    other = choices_of(app, anna)["other"]
    assert other.review == "matched" and other.review_reason is None
    assert deliver(app) == []
    decided = [actor for actor, action in audit_actions(app) if action in ("named-match", "named-decline")]
    assert decided == ["kim@somi.nl"]


def test_a_view_account_gets_403_on_all_of_it(app: Flask) -> None:
    anna = named(app, "Anna de Vries", "anna@example.org", "Acme Data BV")
    viewer = console(app, "kim@somi.nl", "--role", "staff", "--campaigns", "alledata")
    requests_page = viewer.get("/campaigns/alledata/requests", base_url=ADMIN)
    assert requests_page.status_code == 200 and NAMED not in requests_page.get_data(as_text=True)
    assert viewer.get(NAMED, base_url=ADMIN).status_code == 403
    opened = open_names(viewer, development_private_key(app))
    assert opened.status_code == 403 and "Acme" not in opened.get_data(as_text=True)
    assert match(viewer, anna, "meta").status_code == 403
    assert decline(viewer, anna, "not-found").status_code == 403
    assert choices_of(app, anna)["other"].review is None
    assert audit_actions(app).count(("kim@somi.nl", "forbidden")) == 4
    assert audit_details(app, "named-view") == []
    assert deliver(app) == []
    # A campaign whose participants name no company has no such page, even for an admin.
    admin = console(app, "mira@somi.nl")
    assert admin.get("/campaigns/tiktokclaim/named", base_url=ADMIN).status_code == 404
    assert re.search(r"Waiting for review\s*</dt>\s*<dd>1<", admin.get(NAMED, base_url=ADMIN).get_data(as_text=True))
