"""Public pages: every shipped campaign in every language, statuses, languages, formats, safety."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from flask import Flask

from core.i18n import long_date, money, number
from tests.conftest import REPO, CampaignFolder, campaign_data

SHIPPED = sorted(p.stem for p in (REPO / "campaigns").glob("*.yaml") if not p.name.startswith("_"))


def base_url_of(slug: str) -> tuple[str, str]:
    """(base_url, prefix) of a shipped campaign's canonical address."""
    data = yaml.safe_load((REPO / "campaigns" / f"{slug}.yaml").read_text())
    if data.get("hosts"):
        return f"https://{data['hosts'][0]}", ""
    host, _, path = data["paths"][0].partition("/")
    return f"https://{host}", f"/{path}"


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_all_five_seed_campaigns_are_shipped() -> None:
    assert {"zoomclaim", "tiktokclaim", "palantirclaim", "facebookleak", "alledata"} <= set(SHIPPED)


@pytest.mark.parametrize("slug", SHIPPED)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_shipped_campaign_renders_in_both_languages(shipped_app: Flask, slug: str, language: str) -> None:
    base, prefix = base_url_of(slug)
    loaded = shipped_app.extensions["claimsite"].registry.snapshot.campaigns[slug]
    campaign = loaded.campaign
    path = f"{prefix}/" if language == campaign.default_language else f"{prefix}/{language}/"
    client = shipped_app.test_client()
    response = client.get(path, base_url=base)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    assert campaign.text(campaign.hero.title, language) in html.replace("&#39;", "'").replace("&amp;", "&")
    for code in campaign.languages:
        assert f'hreflang="{code}"' in html
    # no third-party requests: every script, stylesheet and image is served by the campaign itself
    for url in re.findall(r'<(?:script|img|link rel="stylesheet")[^>]*(?:src|href)="([^"]+)"', html):
        assert url.startswith(f"{prefix}/assets/"), url
    for document in ("privacy", "terms"):
        doc_path = (
            f"{prefix}/{document}" if language == campaign.default_language else f"{prefix}/{language}/{document}"
        )
        assert client.get(doc_path, base_url=base).status_code == 200, doc_path


@pytest.mark.parametrize("slug", SHIPPED)
def test_faq_questions_have_anchors_and_menu_links(shipped_app: Flask, slug: str) -> None:
    base, prefix = base_url_of(slug)
    html = shipped_app.test_client().get(f"{prefix}/", base_url=base).get_data(as_text=True)
    if 'id="faq"' not in html:
        pytest.skip(f"{slug} has no FAQ")
    anchors = re.findall(r'<details class="faq__item" id="(faq-[a-z0-9-]+)"', html)
    assert anchors and len(anchors) == len(set(anchors))
    for anchor in anchors:
        assert f'href="#{anchor}"' in html
    assert '<a href="#faq">' in html


@pytest.fixture
def status_app(campaign_folder: CampaignFolder, make_app) -> Flask:
    campaign_folder.write("democlaim")
    # opens far ahead: from that day on a pre-registration campaign is open (core/campaigns/schedule.py)
    campaign_folder.write(
        "soonclaim",
        campaign_data(slug="soonclaim", hosts=["soon.example"], status="pre-registration", opens="2099-03-01"),
    )
    campaign_folder.write(
        "overclaim",
        campaign_data(
            slug="overclaim",
            hosts=["over.example"],
            status="closed",
            closed_message={"nl": "De inschrijving is **gesloten**.", "en": "Registration has **closed**."},
            instead={
                "label": {"nl": "Naar de nieuwe actie", "en": "To the new campaign"},
                "url": "https://somi.nl/alledata",
            },
        ),
    )
    return make_app(campaigns_dir=campaign_folder.path)


def test_open_campaign_invites_to_join(status_app: Flask) -> None:
    html = status_app.test_client().get("/en/", base_url="https://democlaim.example").get_data(as_text=True)
    assert 'class="cta cta--open"' in html and "Join now" in html
    assert "Registration has been open since 5 January 2026." in html


def test_pre_registration_campaign_invites_to_pre_register(status_app: Flask) -> None:
    client = status_app.test_client()
    english = client.get("/en/", base_url="https://soon.example").get_data(as_text=True)
    assert "cta--pre-registration" in english and "Pre-register" in english
    assert "Registration opens on 1 March 2099." in english
    dutch = client.get("/", base_url="https://soon.example").get_data(as_text=True)
    assert "Schrijf je vooraf in" in dutch and "De inschrijving opent op 1 maart 2099." in dutch


def test_closed_campaign_shows_closed_message_and_where_to_go(status_app: Flask) -> None:
    html = status_app.test_client().get("/en/", base_url="https://over.example").get_data(as_text=True)
    assert "cta--closed" in html and "Join now" not in html and "Pre-register" not in html
    assert "Registration has <strong>closed</strong>." in html
    assert '<a class="button" href="https://somi.nl/alledata">To the new campaign</a>' in html


def test_counter_shows_baseline_and_since_date_per_locale(status_app: Flask) -> None:
    client = status_app.test_client()
    dutch = visible_text(client.get("/", base_url="https://democlaim.example").get_data(as_text=True))
    assert "1.234 mensen hebben zich sinds 10 april 2020 aangemeld." in dutch
    english = visible_text(client.get("/en/", base_url="https://democlaim.example").get_data(as_text=True))
    assert "1,234 people have joined since 10 April 2020." in english


def test_money_dates_and_numbers_follow_the_locale() -> None:
    assert money(500, "nl") == "€\xa0500,00"
    assert money(500, "en") == "€500.00"
    assert number(12345, "nl") == "12.345" and number(12345, "en") == "12,345"
    import datetime as dt

    assert long_date(dt.date(2020, 4, 10), "nl") == "10 april 2020"
    assert long_date(dt.date(2020, 4, 10), "en") == "10 April 2020"


def test_claim_amount_is_formatted_per_language(status_app: Flask) -> None:
    client = status_app.test_client()
    assert "tot €\xa0500,00 per persoon" in client.get("/", base_url="https://democlaim.example").get_data(as_text=True)
    assert "up to €500.00 per person" in client.get("/en/", base_url="https://democlaim.example").get_data(as_text=True)


def test_the_address_alone_says_the_language(status_app: Flask) -> None:
    """No redirect on Accept-Language and no language cookie (a shared cache keeps each page by its URL:
    core/web/caching.py); the page suggests the browser's language itself (tests/browser/test_campaign_pages.py)."""
    client = status_app.test_client()
    first = client.get("/", base_url="https://democlaim.example", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert first.status_code == 200 and '<html lang="nl">' in first.get_data(as_text=True)
    assert "Set-Cookie" not in first.headers and first.headers["Vary"] == "Host"
    client.get("/en/", base_url="https://democlaim.example")
    again = client.get("/", base_url="https://democlaim.example", headers={"Accept-Language": "en"})
    assert again.status_code == 200 and '<html lang="nl">' in again.get_data(as_text=True)


def test_prefixed_pages_ignore_accept_language(status_app: Flask) -> None:
    response = status_app.test_client().get(
        "/en/", base_url="https://democlaim.example", headers={"Accept-Language": "nl"}
    )
    assert response.status_code == 200 and '<html lang="en">' in response.get_data(as_text=True)


def test_default_language_prefix_redirects_to_unprefixed(status_app: Flask) -> None:
    response = status_app.test_client().get("/nl/privacy", base_url="https://democlaim.example")
    assert response.status_code == 301 and response.headers["Location"] == "/privacy"


def test_language_the_campaign_does_not_offer_is_404(status_app: Flask) -> None:
    assert status_app.test_client().get("/de/", base_url="https://democlaim.example").status_code == 404


def test_language_switcher_links_to_the_same_page(status_app: Flask) -> None:
    client = status_app.test_client()
    html = client.get("/terms", base_url="https://democlaim.example").get_data(as_text=True)
    assert '<a href="/en/terms" hreflang="en" lang="en"' in html
    assert '<link rel="alternate" hreflang="en" href="https://democlaim.example/en/terms">' in html


def test_english_default_campaign_serves_english_at_root(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim", campaign_data(default_language="en"))
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    assert '<html lang="en">' in client.get("/", base_url="https://democlaim.example").get_data(as_text=True)
    assert '<html lang="nl">' in client.get("/nl/", base_url="https://democlaim.example").get_data(as_text=True)
    assert client.get("/en/", base_url="https://democlaim.example").status_code == 301


def test_markdown_is_rendered_safely(campaign_folder: CampaignFolder, make_app) -> None:
    data = campaign_data(
        articles=[
            {
                "title": {"nl": "Test", "en": "Test"},
                "text": {
                    "nl": "**vet** <script>alert(1)</script> [klik](javascript:alert(1)) [ok](https://somi.nl)",
                    "en": "x",
                },
            }
        ]
    )
    campaign_folder.write("democlaim", data)
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    html = client.get("/", base_url="https://democlaim.example").get_data(as_text=True)
    assert "<strong>vet</strong>" in html and '<a href="https://somi.nl">ok</a>' in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_unknown_page_of_a_campaign_is_a_translated_404(status_app: Flask) -> None:
    client = status_app.test_client()
    response = client.get("/en/nosuchpage", base_url="https://democlaim.example")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
    dutch = client.get("/nosuchpage", base_url="https://democlaim.example")
    assert dutch.status_code == 404 and "Pagina niet gevonden" in dutch.get_data(as_text=True)


def test_privacy_page_falls_back_to_shared_then_default_language(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    shared = campaign_folder.path / "_shared" / "pages"
    shared.mkdir(parents=True)
    (shared / "privacy.nl.md").write_text("# Gedeelde privacyverklaring\n")
    own = campaign_folder.path / "democlaim" / "pages"
    own.mkdir(parents=True)
    (own / "terms.en.md").write_text("# Demo terms\n")
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    assert "Gedeelde privacyverklaring" in client.get("/en/privacy", base_url="https://democlaim.example").get_data(
        as_text=True
    )
    assert "Demo terms" in client.get("/en/terms", base_url="https://democlaim.example").get_data(as_text=True)
    assert client.get("/terms", base_url="https://democlaim.example").status_code == 404


def test_shared_legal_pages_exist_in_both_languages() -> None:
    for name in ("privacy", "terms"):
        for language in ("nl", "en"):
            assert Path(REPO / "campaigns" / "_shared" / "pages" / f"{name}.{language}.md").is_file()
