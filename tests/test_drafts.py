"""Drafts serve nothing publicly; staff preview them, share a signed expiring link with a colleague who has no
account, and see every campaign file's errors and warnings in the console (issue 16, item 6)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.staff import preview_links
from tests.conftest import CampaignFolder, campaign_data
from tests.test_staff_console import ADMIN, PASSWORD, add_staff, csrf, log_in, logged_in_client, post

DRAFT = "https://draftclaim.example"


@pytest.fixture
def drafts_app(make_app: Any, campaign_folder: CampaignFolder, migrated_database_url: str) -> Iterator[Flask]:
    """democlaim (open), draftclaim (a draft, named as democlaim's sister) and a broken file."""
    democlaim = campaign_data()
    democlaim["sisters"] = [{"label": {"nl": "Ook: Draft", "en": "Also: Draft"}, "campaign": "draftclaim"}]
    campaign_folder.write("democlaim", democlaim)
    draft = campaign_data(slug="draftclaim", hosts=["draftclaim.example"], status="draft")
    draft["hero"]["title"]["en"] = "A claim nobody may see yet"
    campaign_folder.write("draftclaim", draft)
    campaign_folder.write("brokenclaim", text="slug: brokenclaim\nstatus: opne\n")
    app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def test_a_draft_serves_nothing_publicly(drafts_app: Flask, make_app: Any, campaign_folder: CampaignFolder) -> None:
    client = drafts_app.test_client()
    for path in ("/", "/en/", "/en/join", "/privacy", "/static/style.css", "/healthz/../en/"):
        assert client.get(path, base_url=DRAFT).status_code == 404, path
    landing = client.get("/en/", base_url="https://democlaim.example").get_data(True)
    assert "Also: Draft" not in landing and "draftclaim" not in landing  # no sister link to it
    assert "draftclaim" not in client.get("/en/scoreboard", base_url="https://democlaim.example").get_data(True)
    development = make_app(env="development", campaigns_dir=campaign_folder.path).test_client()
    assert development.get("/en/", base_url="http://draftclaim.localhost:5000").status_code == 404
    listing = development.get("/", base_url="http://nothing.localhost:5000").get_data(True)
    assert "democlaim" in listing and "draftclaim" not in listing


def test_staff_preview_a_draft(drafts_app: Flask) -> None:
    staff = logged_in_client(drafts_app)
    page = staff.get("/campaigns/draftclaim", base_url=ADMIN).get_data(True)
    assert "draft" in page
    preview = staff.get("/preview/draftclaim/open/en/", base_url=ADMIN)
    assert preview.status_code == 200 and "A claim nobody may see yet" in preview.get_data(True)


def make_link(staff: FlaskClient, slug: str, status: str = "open", days: str = "7") -> Any:
    data = {"csrf_token": csrf(staff, f"/campaigns/{slug}"), "status": status, "days": days}
    return post(staff, f"/campaigns/{slug}/preview-link", data)


def link_in(page: str) -> str:
    return re.search(r'id="preview-link" type="text" readonly value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_preview_link_shows_the_draft_to_someone_without_an_account(drafts_app: Flask) -> None:
    staff = logged_in_client(drafts_app)
    made = make_link(staff, "draftclaim", days="3")
    assert made.status_code == 200
    url = link_in(made.get_data(True))
    assert url.startswith(f"{ADMIN}/shared/") and url.endswith("/")
    colleague = drafts_app.test_client()  # no account, no cookie
    page = colleague.get(url.removeprefix(ADMIN) + "en/", base_url=ADMIN)
    assert page.status_code == 200 and "A claim nobody may see yet" in page.get_data(True)
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow" and "Set-Cookie" not in page.headers
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.get_data(True)).group(1)  # type: ignore[union-attr]
    assert stylesheet.startswith(url.removeprefix(ADMIN))  # the page's links stay within the preview
    assert colleague.get(stylesheet, base_url=ADMIN).status_code == 200
    assert colleague.post(url.removeprefix(ADMIN) + "en/join", base_url=ADMIN).status_code == 405  # read only
    token = url.removeprefix(f"{ADMIN}/shared/").rstrip("/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert colleague.get(f"/shared/{tampered}/en/", base_url=ADMIN).status_code == 404
    assert colleague.get("/campaigns/draftclaim", base_url=ADMIN).status_code == 302  # the console still needs a login
    secret = drafts_app.config["SECRET_KEY"]
    link = preview_links.read_token(secret, token)
    assert link is not None and (link.slug, link.status, link.days) == ("draftclaim", "open", 3)
    assert preview_links.read_token(secret, token, now=time.time() + 3 * 86400 - 60) is not None
    assert preview_links.read_token(secret, token, now=time.time() + 3 * 86400 + 60) is None  # expired
    assert preview_links.read_token("another-secret-key-that-is-long-enough", token) is None


def test_an_expired_link_says_so(drafts_app: Flask) -> None:
    secret = drafts_app.config["SECRET_KEY"]
    token = preview_links.make_token(secret, preview_links.PreviewLink("draftclaim", "open", 1, 1))
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class TwoDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 2 * 86400

    old = URLSafeTimedSerializer(secret, salt=preview_links.SALT, signer=TwoDaysAgo)
    expired = old.dumps({"c": "draftclaim", "s": "open", "d": 1, "by": 1})
    client = drafts_app.test_client()
    assert client.get(f"/shared/{token}/en/", base_url=ADMIN).status_code == 200
    answer = client.get(f"/shared/{expired}/en/", base_url=ADMIN)
    assert answer.status_code == 404 and "has expired" in answer.get_data(True)


def test_a_link_is_made_only_for_a_campaign_the_account_sees_and_for_at_most_14_days(drafts_app: Flask) -> None:
    secret = add_staff(drafts_app, "limited@somi.nl", PASSWORD, "--role", "staff", "--campaigns", "democlaim")
    staff = drafts_app.test_client()
    assert log_in(staff, secret, email="limited@somi.nl").status_code == 302
    data = {"csrf_token": csrf(staff, "/campaigns/democlaim"), "status": "open", "days": "7"}
    assert post(staff, "/campaigns/draftclaim/preview-link", data).status_code == 403
    too_long = make_link(staff, "democlaim", days="30")
    assert too_long.status_code == 400 and "A link lasts 1 to 14 days." in too_long.get_data(True)
    assert make_link(staff, "democlaim").status_code == 200


def test_the_console_lists_the_errors_and_warnings_of_campaign_files(drafts_app: Flask) -> None:
    staff = logged_in_client(drafts_app)
    overview = staff.get("/", base_url=ADMIN).get_data(True)
    assert "Campaign files to fix" in overview
    assert re.search(r"<strong>error</strong> <code>brokenclaim\.yaml, line 2, status</code>: expected", overview)
    secret = add_staff(drafts_app, "limited@somi.nl", PASSWORD, "--role", "staff", "--campaigns", "democlaim")
    limited = drafts_app.test_client()
    assert log_in(limited, secret, email="limited@somi.nl").status_code == 302
    assert "brokenclaim" not in limited.get("/", base_url=ADMIN).get_data(True)  # not one of its campaigns
