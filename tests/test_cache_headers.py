"""Who may keep a response (core/web/caching.py): every public campaign page, in every language, is fit for a
shared cache (public, max-age, stale-while-revalidate, an ETag that gives 304, never a cookie, the same bytes
whatever the browser sends); everything personal is private, no-store; the settings keep a count on a cached page
at most 10 s old."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client
from werkzeug.wrappers import Response as WerkzeugResponse

from core.settings import MAX_COUNTER_AGE_SECONDS, SettingsError, load_settings
from core.web.caching import PrivateByDefault
from tests.conftest import BREACH_KEY, CONTACT_KEY, HASH_KEY, SECRET, CampaignFolder
from tests.test_pages import SHIPPED, base_url_of

PUBLIC = "public, max-age=4, stale-while-revalidate=2"  # the defaults: 2 + 2 + 4 + 2 = 10 s (core/settings.py)
PRIVATE = "private, no-store"
PUBLIC_PAGES = ("", "privacy", "terms", "scoreboard")  # the FAQ is a section of the landing page
SESSION_COOKIE = "claimsite_session"

# What a browser may send that must change nothing on a public page: its languages, its old cookies.
VISITS: dict[str, dict[str, str]] = {
    "plain": {},
    "accept-language en": {"Accept-Language": "en-GB,en;q=0.9", "User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/133"},
    "accept-language nl": {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5", "User-Agent": "Mozilla/5.0 Chrome/131"},
    "old cookies": {"Cookie": f"lang=en; {SESSION_COOKIE}=made-up; other=1", "Accept-Language": "en"},
}


def path_of(prefix: str, language: str, default: str, page: str) -> str:
    return f"{prefix}/" + ("" if language == default else f"{language}/") + page


def public_urls(app: Flask) -> Iterable[tuple[str, str, str]]:
    """(slug, base_url, path) of every public page of every shipped campaign in each of its languages."""
    for slug in SHIPPED:
        base, prefix = base_url_of(slug)
        campaign = app.extensions["claimsite"].registry.snapshot.campaigns[slug].campaign
        for language in campaign.languages:
            for page in PUBLIC_PAGES:
                yield slug, base, path_of(prefix, language, campaign.default_language, page)


def assert_public(response: Any, where: str) -> None:
    assert response.status_code == 200, where
    assert response.headers["Cache-Control"] == PUBLIC, where
    assert "Set-Cookie" not in response.headers, where
    assert re.fullmatch(r'"[0-9a-f]{32,}"', response.headers["ETag"]), where  # strong: no W/
    # the URL alone decides the page: nothing but the host (one path, a campaign per host) may vary it
    assert response.headers.get("Vary") == "Host", where


def test_every_public_page_of_every_campaign_is_fit_for_a_shared_cache(shipped_app: Flask) -> None:
    checked = 0
    for slug, base, path in public_urls(shipped_app):
        bodies = set()
        for visit, headers in VISITS.items():
            client = shipped_app.test_client()
            where = f"{slug} {path} ({visit})"
            response = client.get(path, base_url=base, headers=headers)
            assert_public(response, where)
            bodies.add((response.headers["ETag"], response.get_data()))

            again = client.get(path, base_url=base, headers={**headers, "If-None-Match": response.headers["ETag"]})
            assert again.status_code == 304 and again.get_data() == b"", where
            assert again.headers["Cache-Control"] == PUBLIC and "Set-Cookie" not in again.headers, where
            assert again.headers["ETag"] == response.headers["ETag"], where
            other = client.get(path, base_url=base, headers={**headers, "If-None-Match": '"not-this-one"'})
            assert other.status_code == 200, where
        assert len(bodies) == 1, f"{slug} {path}: the page differs with what the browser sends"
        checked += 1
    assert checked >= len(SHIPPED) * len(PUBLIC_PAGES) * 2  # every campaign in both languages


def test_a_public_page_says_which_language_it_is_by_its_address_only(shipped_app: Flask) -> None:
    """No redirect on Accept-Language, no cookie: a Dutch browser gets the English page at /en/ and the other way
    round, and the page carries (hidden) the suggestion of the other language, written in that language."""
    base, prefix = base_url_of("tiktokclaim")
    client = shipped_app.test_client()
    dutch = client.get(f"{prefix}/", base_url=base, headers={"Accept-Language": "en"})
    html = dutch.get_data(as_text=True)
    assert dutch.status_code == 200 and '<html lang="nl">' in html
    notice = re.search(r'<aside class="language-notice"[^>]*>.*?</aside>', html, re.S).group(0)  # type: ignore[union-attr]
    assert 'lang="en"' in notice and " hidden>" in notice
    assert f'<a href="{prefix}/en/" hreflang="en">This page is also in English</a>' in notice
    assert '<button type="button" class="language-notice__close">Close</button>' in notice
    assert re.search(r'<script src="[^"]+/js/language_notice\.js" defer>', html)

    english = client.get(f"{prefix}/en/privacy", base_url=base, headers={"Accept-Language": "nl"})
    html = english.get_data(as_text=True)
    assert english.status_code == 200 and '<html lang="en">' in html
    assert f'<a href="{prefix}/privacy" hreflang="nl">Deze pagina is ook in het Nederlands</a>' in html
    assert "Sluiten</button>" in html


@pytest.fixture
def one_language_app(campaign_folder: CampaignFolder, make_app: Any) -> Flask:
    from tests.conftest import campaign_data

    campaign_folder.write("democlaim", campaign_data(languages=["nl"]))
    return make_app(campaigns_dir=campaign_folder.path)


def test_a_campaign_in_one_language_suggests_none(one_language_app: Flask) -> None:
    html = one_language_app.test_client().get("/", base_url="https://democlaim.example").get_data(as_text=True)
    assert "language-notice" not in html


def test_personal_pages_are_private_and_never_stored(shipped_app: Flask) -> None:
    base, prefix = base_url_of("tiktokclaim")
    client = shipped_app.test_client()
    for path in ("/join", "/en/join", "/my", "/join/verify", "/join/done", "/my/vault", "/nl/"):
        response = client.get(f"{prefix}{path}", base_url=base)
        assert response.headers["Cache-Control"] == PRIVATE, path
    # the join form carries a CSRF token, so it sets the session cookie: never where a cache may keep it
    form = client.get(f"{prefix}/join", base_url=base)
    assert form.status_code == 200 and "Set-Cookie" in form.headers
    # a post (the join form sent without its token comes back with what was typed), and an error after a post
    posted = client.post(f"{prefix}/join", base_url=base, data={"email": "someone@example.org"})
    assert "someone@example.org" in posted.get_data(as_text=True) and posted.headers["Cache-Control"] == PRIVATE
    refused = client.post(f"{prefix}/", base_url=base)
    assert refused.status_code == 405 and refused.headers["Cache-Control"] == PRIVATE
    # errors are nobody's to keep either, and a webhook's answer neither
    assert client.get(f"{prefix}/no-such-page", base_url=base).headers["Cache-Control"] == PRIVATE
    assert client.post("/payments/stripe/webhook", base_url=base).headers["Cache-Control"] == PRIVATE
    # an unknown host, a secondary address's redirect
    assert client.get("/", base_url="https://unknown.example").headers["Cache-Control"] == PRIVATE
    assert client.get("/", base_url="https://www.tiktokclaim.org").headers["Cache-Control"] == PRIVATE


def test_the_breach_check_is_personal(shipped_app: Flask) -> None:
    """The form carries a CSRF token (in the session), and an answer is about a number: neither is public."""
    base, prefix = base_url_of("facebookleak")
    client = shipped_app.test_client()
    form = client.get(f"{prefix}/check", base_url=base)
    assert form.status_code == 200 and form.headers["Cache-Control"] == PRIVATE
    answer = client.post(f"{prefix}/check", base_url=base, data={"phone": "+31612345678"})
    assert answer.headers["Cache-Control"] == PRIVATE


def test_static_files_stay_immutable_and_health_stays_unstored(shipped_app: Flask) -> None:
    base, prefix = base_url_of("tiktokclaim")
    client = shipped_app.test_client()
    html = client.get(f"{prefix}/", base_url=base).get_data(as_text=True)
    script = re.search(r'<script src="([^"]+/js/language_notice\.js)"', html).group(1)  # type: ignore[union-attr]
    with client.get(script, base_url=base) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/healthz", base_url=base).headers["Cache-Control"] == "no-store"


def test_development_stores_public_pages_but_asks_each_time(dev_app: Flask) -> None:
    """So an edited campaign file shows on the next request; the ETag makes asking cheap."""
    client = dev_app.test_client()
    response = client.get("/", base_url="http://tiktokclaim.localhost:5000")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "public, no-cache"
    again = client.get(
        "/", base_url="http://tiktokclaim.localhost:5000", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.databases("sqlite")
def test_the_staff_consoles_preview_of_a_public_page_is_private(make_app: Any, migrated_database_url: str) -> None:
    from tests.test_staff_console import ADMIN, logged_in_client

    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    client = logged_in_client(app)
    for path in ("/preview/zoomclaim/open/en/", "/preview/tiktokclaim/pre-registration/privacy", "/"):
        response = client.get(path, base_url=ADMIN)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == PRIVATE, path
        assert "ETag" not in response.headers, path
    app.extensions["claimsite.db"].engine.dispose()


def test_a_public_page_that_sets_a_cookie_after_all_is_sent_private(caplog: pytest.LogCaptureFixture) -> None:
    """The safety net under every public page: a shared cache never gets a visitor's cookie."""

    def careless(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        response = WerkzeugResponse("page", headers={"Cache-Control": PUBLIC})
        response.set_cookie("claimsite_session", "someone's")
        return response(environ, start_response)

    def quiet(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return WerkzeugResponse("page")(environ, start_response)

    wrapped = Client(PrivateByDefault(careless))
    assert wrapped.get("/").headers["Cache-Control"] == PRIVATE
    assert "a public page set a cookie" in caplog.text
    assert Client(PrivateByDefault(quiet)).get("/").headers["Cache-Control"] == PRIVATE


def settings_with(**overrides: Any) -> Any:
    return load_settings(
        {
            "env": "test",
            "secret_key": SECRET,
            "hash_key": HASH_KEY,
            "contact_key": CONTACT_KEY,
            "breach_key": BREACH_KEY,
            **overrides,
        }
    )


def test_the_defaults_keep_a_cached_count_at_most_ten_seconds_old() -> None:
    settings = settings_with()
    assert settings.counter_age_bound() == MAX_COUNTER_AGE_SECONDS == 10
    assert f"max-age={settings.public_max_age_seconds}" in PUBLIC
    assert f"stale-while-revalidate={settings.public_stale_seconds}" in PUBLIC


@pytest.mark.parametrize(
    "overrides",
    [
        {"public_max_age_seconds": 5},  # 2 + 2 + 5 + 2
        {"public_stale_seconds": 30},
        {"page_cache_seconds": 5, "counter_cache_seconds": 3},  # the page cache and counter of before issue 22
        {"counter_cache_seconds": 2.5},
    ],
)
def test_settings_refuse_caches_that_add_up_to_more_than_ten_seconds(overrides: dict[str, Any]) -> None:
    with pytest.raises(SettingsError, match=r"at most 10 s"):
        settings_with(**overrides)


def test_settings_take_other_figures_within_ten_seconds() -> None:
    assert settings_with(
        public_max_age_seconds=6, public_stale_seconds=2, page_cache_seconds=1, counter_cache_seconds=1
    )
    assert settings_with(public_max_age_seconds=0, public_stale_seconds=0, page_cache_seconds=0)
