"""Issue 17, items 5 and 6: the call to action at the top and the end of every landing page, what a closed campaign
offers instead, and a counter that says something true at every count (``hide_below``; /my never counts her).

The layout on a phone (what is on the first screen) is checked in a real browser: tests/browser/test_call_to_action.py.
"""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from flask import Flask

from tests.conftest import REPO, CampaignFolder, campaign_data
from tests.test_campaign_config import problems_of
from tests.test_pages import visible_text
from tests.test_participant_page import logged_in
from tests.test_signup import TIKTOK, deliver, join_fully
from tests.test_staff_console import ADMIN, logged_in_client

STEPS = {
    "title": {"nl": "Zo werkt het", "en": "How it works"},
    "hide_when_closed": True,
    "items": [
        {
            "title": {"nl": "Meld je aan!", "en": "Sign up!"},
            "text": {"nl": "Vul het formulier in.", "en": "Fill in the form."},
        }
    ],
}
LEGAL = {
    "title": {"nl": "Wat zegt de AVG?", "en": "What does the GDPR say?"},
    "items": [
        {"title": {"nl": "Artikel 82", "en": "Article 82"}, "text": {"nl": "Schadevergoeding.", "en": "Damages."}}
    ],
}
# The shipped free campaign's sign-up: its agreements are the organisation's shared texts (campaigns/_shared/).
SIGNUP = yaml.safe_load((REPO / "campaigns" / "facebookleak.yaml").read_text(encoding="utf-8"))["signup"]


@pytest.fixture
def cta_app(campaign_folder: CampaignFolder, make_app) -> Flask:  # type: ignore[no-untyped-def]
    """An open campaign (democlaim), one closed by hand with sisters (overclaim), one closed by its ``closes`` date
    without a closed_message (pastclaim), one whose count of 1234 is under its ``hide_below`` (quietclaim)."""
    shutil.copytree(REPO / "campaigns" / "_shared", campaign_folder.path / "_shared")
    campaign_folder.write("democlaim", campaign_data(steps=STEPS, signup=SIGNUP))
    campaign_folder.write(
        "overclaim",
        campaign_data(
            slug="overclaim",
            hosts=["over.example"],
            status="closed",
            closed_message={"nl": "De inschrijving is gesloten.", "en": "Sign-up has ended."},
            instead={"label": {"nl": "Naar het nieuws", "en": "To the news"}, "url": "https://somi.nl/nieuws"},
            steps=STEPS,
            legal=LEGAL,
            signup=SIGNUP,
            sisters=[
                {"label": {"nl": "Democlaim", "en": "Demo claim"}, "campaign": "democlaim"},
                {"label": {"nl": "Voorbij", "en": "Past claim"}, "campaign": "pastclaim"},
                {"label": {"nl": "SOMI", "en": "SOMI"}, "url": "https://somi.nl"},
            ],
        ),
    )
    campaign_folder.write(
        "pastclaim",
        campaign_data(slug="pastclaim", hosts=["past.example"], opens="2020-01-01", closes="2021-06-30"),
    )
    quiet = campaign_data(
        slug="quietclaim", hosts=["quiet.example"], name={"nl": "Stille claim", "en": "Quiet claim"}, signup=SIGNUP
    )
    quiet["plugins"]["counter"] = {"baseline": 1234, "since": "2020-04-10", "hide_below": 2000}
    campaign_folder.write("quietclaim", quiet)
    quiet_closed = campaign_data(
        slug="hushclaim", hosts=["hush.example"], status="closed", closed_message={"nl": "Dicht.", "en": "Closed."}
    )
    quiet_closed["plugins"]["counter"] = {"baseline": 1234, "since": "2020-04-10", "hide_below": 2000}
    campaign_folder.write("hushclaim", quiet_closed)
    return make_app(campaigns_dir=campaign_folder.path, admin_host="staff.example")


def english(app: Flask, host: str, path: str = "/en/") -> str:
    return app.test_client().get(path, base_url=f"https://{host}").get_data(as_text=True)


def test_an_open_campaign_asks_at_the_top_and_again_at_the_end(cta_app: Flask) -> None:
    html = english(cta_app, "democlaim.example")
    assert html.count('data-testid="join-button" href="/en/join"') == 2
    top, end = html.index('<div class="cta cta--open" id="join">'), html.index('id="take-part"')
    assert top < html.index('id="how"') < html.index('id="faq"') < end < html.index("<footer")
    assert html.count('data-testid="costs"') == 2  # what joining costs, beside both
    # The end states the count; the footer of the landing page does not repeat it.
    assert "1,234 people have joined since 10 April 2020." in visible_text(html[end:])
    assert "site-footer__counter" not in html
    # The menu of the page comes after the top section, not above it.
    assert html.index('id="top"') < html.index('class="page-menu"') < html.index('id="how"')


def test_a_closed_campaign_says_what_to_do_instead_at_the_top_and_the_end(cta_app: Flask) -> None:
    html = english(cta_app, "over.example")
    assert "join-button" not in html and "Join now" not in html and "/en/join" not in html
    assert html.count('class="cta cta--closed"') == 2
    for block in re.split(r'<div class="cta cta--closed"', html)[1:]:
        text = visible_text(block.split("</div>\n</section>")[0])
        assert "Registration has closed" in text and "Sign-up has ended." in text
        assert '<a class="button" href="https://somi.nl/nieuws">To the news</a>' in block
        assert "Already joined?" in text and '<a href="/en/my">See your participation' in block
        # Only a sister that takes sign-ups now is offered: not the closed one, not a plain link.
        assert "You can join these campaigns of SOMI now:" in text
        sisters = block[block.index('<ul class="cta__sisters">') : block.index("</ul>")]
        assert re.findall(r">([^<]+)</a>", sisters) == ["Demo claim"]
        assert 'href="https://democlaim.example/en/"' in sisters
    # "How it works" asks people to sign up: hidden once closed, as the file says; the law section stays.
    assert 'id="how"' not in html and "Sign up!" not in html and "#how" not in html
    assert 'id="law"' in html


def test_a_campaign_closed_by_its_date_gets_the_default_words(cta_app: Flask) -> None:
    text = visible_text(english(cta_app, "past.example"))
    assert "Registration closed on 30 June 2021." in text
    assert "This campaign no longer takes sign-ups." in text
    assert "Already joined?" not in text  # no sign-up form, so no participant's page
    dutch = cta_app.test_client()
    assert "Je kunt je niet meer aanmelden voor deze campagne." in visible_text(
        dutch.get("/", base_url="https://past.example").get_data(as_text=True)
    )


def test_the_closed_join_page_states_the_count_once(cta_app: Flask) -> None:
    html = english(cta_app, "over.example", "/en/join")
    assert '<h1 class="cta__title">Registration has closed</h1>' in html
    assert visible_text(html).count("1,234 people have joined since 10 April 2020.") == 1


def test_a_count_under_hide_below_is_not_stated(cta_app: Flask) -> None:
    html = english(cta_app, "quiet.example")
    assert "1,234" not in visible_text(html)
    assert visible_text(html).count("The more people join, the stronger we stand.") == 2
    client = cta_app.test_client()
    dutch = visible_text(client.get("/", base_url="https://quiet.example").get_data(as_text=True))
    assert "Hoe meer mensen meedoen, hoe sterker we staan." in dutch and "1.234" not in dutch
    # On the scoreboard too, and it is listed after the campaigns whose number is shown.
    board = visible_text(english(cta_app, "quiet.example", "/en/scoreboard"))
    assert "Demo claim 1,234" in board and "Quiet claim not shown yet" in board
    assert board.index("Demo claim 1,234") < board.index("Quiet claim not shown yet")
    # A closed campaign under its threshold says nothing about the count: no encouragement to join either.
    closed = visible_text(english(cta_app, "hush.example"))
    assert "1,234" not in closed and "stronger we stand" not in closed


def test_the_staff_console_says_when_visitors_see_no_number(cta_app: Flask) -> None:
    client = logged_in_client(cta_app)
    quiet = visible_text(client.get("/campaigns/quietclaim", base_url=ADMIN).get_data(as_text=True))
    assert "The site shows 1234" in quiet
    assert "Visitors see no number yet: it is under the campaign's hide_below (2000)" in quiet
    shown = visible_text(client.get("/campaigns/democlaim", base_url=ADMIN).get_data(as_text=True))
    assert "The site shows 1234" in shown and "Visitors see no number yet" not in shown


def test_hide_below_is_checked(campaign_folder: CampaignFolder) -> None:
    data = campaign_data()
    data["plugins"]["counter"]["hide_below"] = 0
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "plugins.counter.hide_below" in message and "1" in message
    data["plugins"]["counter"]["hide_below"] = "many"
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "plugins.counter.hide_below" in message


def test_hide_when_closed_is_checked(campaign_folder: CampaignFolder) -> None:
    steps = dict(STEPS, hide_when_closed="sometimes")
    [message] = problems_of(campaign_folder, yaml.safe_dump(campaign_data(steps=steps), sort_keys=False))
    assert "steps.hide_when_closed" in message


def place_line(app: Flask, address: str) -> str:
    html = logged_in(app, app.test_client(), address)
    found = re.search(r'<p class="site-footer__counter">([^<]+)</p>', html)
    assert found, "no counter line in the footer of /my"
    return found.group(1)


def test_the_participants_page_never_counts_her_among_those_before_her(db_app: Flask) -> None:
    for address, name in [
        ("anna@example.org", "Anna de Vries"),
        ("bram@example.org", "Bram"),
        ("carla@example.org", "Carla"),
    ]:
        join_fully(db_app, db_app.test_client(), "en", email=address, name=name)
        deliver(db_app)  # the mandate and the confirmation mail
    # tiktokclaim counts from a baseline of 0: Anna was first, Bram second, Carla third.
    assert place_line(db_app, "anna@example.org") == "You were the first to join. Thank you for taking part."
    assert place_line(db_app, "bram@example.org") == "1 person joined before you. Thank you for taking part."
    assert place_line(db_app, "carla@example.org") == "2 people joined before you. Thank you for taking part."
    # Other pages state the public count, the same for everyone.
    privacy = db_app.test_client().get("/en/privacy", base_url=TIKTOK).get_data(as_text=True)
    assert '<p class="site-footer__counter">3 people have joined since 28 July 2020.</p>' in privacy
    landing = visible_text(db_app.test_client().get("/en/", base_url=TIKTOK).get_data(as_text=True))
    assert "joined before you" not in landing
