"""Issue 17, item 9: ``flask campaigns check`` warns about a sentence that speaks of a passed date as still to come
("wordt op 22 november 2021 ingediend"), with the file, the line and the sentence; updates and news keep their
historical dates unwarned; the shipped campaigns have no such sentence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import yaml
from flask import Flask

from core.campaigns.stale_dates import prose_dates, stale_sentences
from tests.conftest import REPO, CampaignFolder, campaign_data, run_campaigns_command

STALE = "still to come, but that date has passed"
NO_YEAR = "still to come, without a year"
PAST_NL = "Het collectieve dataverzoek wordt op 22 november 2021 ingediend bij Facebook."

PAST_EN = "If Facebook does not comply, we will file a complaint by January 2022 at the latest."
FUTURE_NL = "Het verzoek wordt op 1 maart 2099 ingediend."
FUTURE_EN = "The request will be filed in March 2099."


def article(nl: str, en: str) -> dict[str, Any]:
    return {"title": {"nl": "Nieuws", "en": "News"}, "text": {"nl": nl, "en": en}}


def history(nl: str, en: str) -> dict[str, Any]:
    """The same sentences in an update and a news item: history, never warned about."""
    return {
        "timeline": {
            "title": {"nl": "Updates", "en": "Updates"},
            "items": [{"date": "2021-11-01", "title": {"nl": "Plan", "en": "Plan"}, "text": {"nl": nl, "en": en}}],
        },
        "news": {
            "title": {"nl": "In het nieuws", "en": "In the news"},
            "items": [
                {
                    "source": "NOS",
                    "date": "2021-11-01",
                    "title": {"nl": "Plan", "en": "Plan"},
                    "text": {"nl": nl, "en": en},
                }
            ],
        },
    }


def warnings(output: str) -> list[str]:
    return [line.removeprefix("warning: ") for line in output.splitlines() if line.startswith("warning: ")]


ARTICLE = """\
articles:
  - title: {nl: Nieuws, en: News}
    text:
      nl: |
        SOMI onderneemt actie tegen Facebook.

        Ga mee! Het collectieve dataverzoek wordt op 22
        november 2021 ingediend bij Facebook.
      en: |
        Join us.

        If Facebook does not comply, we will file a complaint by January
        2022 at the latest.
"""


def test_a_passed_date_written_as_to_come_warns_with_file_line_and_sentence(campaign_folder: CampaignFolder) -> None:
    """The line is the one where the date starts, though the YAML wraps it over two lines."""
    base = yaml.safe_dump(campaign_data(), allow_unicode=True, sort_keys=False)
    path = campaign_folder.write("democlaim", text=base + ARTICLE)
    first = base.count("\n")  # articles: is on the line after this one
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0, result.output  # warnings are warnings
    found = [w for w in warnings(result.output) if "still to come" in w]
    assert len(found) == 2, result.output
    dutch, english = found
    assert dutch.startswith(f"{path}, line {first + 7}: articles[0].text.nl: ")
    assert f'"{PAST_NL}" speaks of 22 november 2021 as {STALE}' in dutch
    assert english.startswith(f"{path}, line {first + 12}: articles[0].text.en: ")
    assert f'"{PAST_EN}" speaks of January 2022 as {STALE}' in english


def test_updates_and_news_keep_their_historical_dates_unwarned(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim", campaign_data(plugins=history(PAST_NL, PAST_EN)))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0, result.output
    assert not [w for w in warnings(result.output) if "still to come" in w], result.output


def test_a_date_still_ahead_does_not_warn(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim", campaign_data(articles=[article(FUTURE_NL, FUTURE_EN)]))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0 and not [w for w in warnings(result.output) if "still to come" in w], result.output


def test_a_date_without_a_year_in_a_promise_warns(campaign_folder: CampaignFolder) -> None:
    nl = "SOMI zal het verzoek op maandag 22 november indienen."
    campaign_folder.write("democlaim", campaign_data(articles=[article(nl, "We wrote to Facebook.")]))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    [found] = [w for w in warnings(result.output) if "still to come" in w]
    assert f'"{nl}" speaks of 22 november as {NO_YEAR}' in found


def test_the_shipped_campaigns_promise_no_passed_date() -> None:
    result = run_campaigns_command("check", campaigns_dir=REPO / "campaigns")
    assert result.exit_code == 0, result.output
    assert not [w for w in warnings(result.output) if "still to come" in w], result.output


def test_what_counts_as_a_stale_promise() -> None:
    today = dt.date(2026, 12, 3)

    def stale(text: str) -> list[str]:
        return [date.written for _, date in stale_sentences(text, today)]

    assert stale("De klacht volgt in januari 2022.") == ["januari 2022"]
    assert stale("We will file it on November 22, 2021.") == ["November 22, 2021"]
    assert stale("Het verzoek wordt eind 2025 ingediend.") == ["eind 2025"]
    assert stale("De klacht volgt in december 2026.") == []  # this month has not ended yet
    assert stale("Het verzoek is op 22 november 2021 ingediend.") == []  # told in the past tense
    assert stale("Dit wordt een inventaris van overtredingen sinds 25 mei 2018.") == []  # counted from, not to come
    assert stale("Op 27 maart 2020 stelde Zoom dat het opnames zal maken.") == []  # what was said then
    assert stale("The leak of April 2021 will be investigated.") == []
    assert [d.written for d in prose_dates("van 1 mei 2021 tot 31 mei 2021")] == ["31 mei 2021"]
    # Counted from the day it was written: wrong a few weeks later, in any tense; one warning a sentence.
    assert stale("Op 8 september jl. is onze klachtbrief verstuurd.") == ["8 september jl."]
    assert stale("De brief gaat aanstaande 6 november weg.") == ["aanstaande 6 november"]
    assert stale("Next November we file the complaint.") == ["Next November"]
    assert stale("On 8 September 2021 we sent our letter.") == []
    assert stale("This may take a while; next May we will know more.") == ["next May"]


MILESTONES = {
    "title": {"nl": "Wat er gepland staat", "en": "What is planned"},
    "items": [
        {
            "date": "2099-03-01",
            "planned": {"nl": "SOMI dient de klacht in.", "en": "SOMI files the complaint."},
        },
        {
            "date": "2021-11-22",
            "planned": {"nl": "SOMI dient het verzoek in.", "en": "SOMI will file the request in November 2021."},
        },
        {
            "date": "2021-06-01",
            "planned": {"nl": "SOMI stuurt de brief.", "en": "SOMI sends the letter."},
            "done": {"nl": "SOMI heeft de brief gestuurd.", "en": "SOMI sent the letter."},
        },
    ],
}


def test_a_milestone_shows_its_plan_until_its_day_has_passed_then_what_happened(
    campaign_folder: CampaignFolder, make_app: Callable[..., Flask]
) -> None:
    campaign_folder.write("democlaim", campaign_data(milestones=MILESTONES))
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    dutch = client.get("/", base_url="https://democlaim.example").get_data(as_text=True)
    assert 'id="planned"' in dutch and "Wat er gepland staat" in dutch
    assert '<time datetime="2099-03-01">Gepland op 1 maart 2099</time>' in dutch and "SOMI dient de klacht in." in dutch
    assert '<time datetime="2021-06-01">1 juni 2021</time>' in dutch and "SOMI heeft de brief gestuurd." in dutch
    # a passed plan is never shown as still to come, with or without what happened
    assert "SOMI dient het verzoek in." not in dutch and "SOMI stuurt de brief." not in dutch
    assert "SOMI will file" not in client.get("/en/", base_url="https://democlaim.example").get_data(as_text=True)
    assert dutch.index("1 juni 2021") < dutch.index("1 maart 2099")  # in date order
    english = client.get("/en/", base_url="https://democlaim.example").get_data(as_text=True)
    assert "Planned for 1 March 2099" in english and "SOMI sent the letter." in english


def test_milestones_that_all_passed_unrecorded_leave_no_empty_section(
    campaign_folder: CampaignFolder, make_app: Callable[..., Flask]
) -> None:
    passed = {"title": MILESTONES["title"], "items": [MILESTONES["items"][1]]}
    campaign_folder.write("democlaim", campaign_data(milestones=passed))
    page = make_app(campaigns_dir=campaign_folder.path).test_client().get("/", base_url="https://democlaim.example")
    assert page.status_code == 200 and 'id="planned"' not in page.get_data(as_text=True)


def test_the_check_asks_what_happened_to_a_passed_milestone(campaign_folder: CampaignFolder) -> None:
    path = campaign_folder.write("democlaim", campaign_data(milestones=MILESTONES))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0, result.output
    found = [w for w in warnings(result.output) if "milestones" in w]  # once: not as a stale sentence as well
    line = path.read_text(encoding="utf-8").splitlines().index("  - date: '2021-11-22'") + 1
    assert found == [
        f"{path}, line {line}: milestones.items[1]: planned for 2021-11-22, which has passed, so the page no longer "
        "shows it: write what happened under done:, or remove it"
    ]
