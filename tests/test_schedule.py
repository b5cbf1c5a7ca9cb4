"""Scheduling (issue 16, item 5): ``opens`` and ``closes`` as dates or dates and times in the campaign's time zone,
read against the clock at every request, and a day's grace for a sign-up that had confirmed its address before
closing.

The rule is tested with fixed times across each boundary (core/campaigns/schedule.py takes ``now``). The web tests
drive time by writing the campaign file's times relative to now: the app reads its real clock, and nothing of ours
is replaced. The sign-up flow tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from core.campaigns import CampaignConfigError, load_campaign_file
from core.campaigns.schedule import GRACE, Schedule, status_at
from core.campaigns.schema import Campaign
from core.data.db import db_session, utcnow
from core.data.models import Job, Signup, Stage
from core.plugins import PluginHost
from core.signup.payment_reminder import REMINDER_JOB
from tests.conftest import CampaignFolder, campaign_data, run_campaigns_command
from tests.test_signup import (
    TIKTOK,
    VALID,
    code_of,
    csrf_token,
    deliver,
    link_of,
    pay_in_test_mode,
    post_code,
    post_form,
    sign_form,
    signups,
)
from tests.test_staff_console import ADMIN, logged_in_client

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MICROSECOND = dt.timedelta(microseconds=1)
SECOND = dt.timedelta(seconds=1)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


def campaign(**changes: Any) -> Campaign:
    return Campaign.model_validate(campaign_data(**changes))


# -- the rule, with fixed times ----------------------------------------------------------------------------------


def test_a_date_alone_opens_at_the_start_of_its_day_and_closes_at_its_end() -> None:
    c = campaign(opens="2026-11-02", closes="2026-11-30")  # Amsterdam in winter: UTC+1
    assert status_at(c, utc(2026, 11, 1, 23) - MICROSECOND) == "not-yet-open"
    assert status_at(c, utc(2026, 11, 1, 23)) == "open"  # 2 November, 00:00 in Amsterdam
    assert status_at(c, utc(2026, 11, 30, 23) - MICROSECOND) == "open"  # 30 November, 23:59:59.999999
    assert status_at(c, utc(2026, 11, 30, 23)) == "closed"  # 1 December, 00:00


def test_a_date_and_time_is_that_moment_however_it_is_written(campaign_folder: CampaignFolder) -> None:
    schemas = PluginHost().settings_schemas
    base = yaml.safe_dump(campaign_data(opens=None), allow_unicode=True, sort_keys=False)
    # As text (no seconds), as YAML's own timestamp (seconds), and with an explicit offset: one instant each time.
    for written in ("2026-11-30 18:00", "2026-11-30T18:00", "2026-11-30 18:00:00", "2026-11-30T17:00:00Z"):
        path = campaign_folder.write("democlaim", text=base + f"closes: {written}\n")
        c = load_campaign_file(path, schemas).campaign
        assert status_at(c, utc(2026, 11, 30, 17) - MICROSECOND) == "open", written
        assert status_at(c, utc(2026, 11, 30, 17)) == "closed", written


def test_the_campaigns_time_zone_and_summer_time() -> None:
    summer = campaign(opens=None, closes="2026-07-01")  # UTC+2
    assert status_at(summer, utc(2026, 7, 1, 22) - MICROSECOND) == "open"
    assert status_at(summer, utc(2026, 7, 1, 22)) == "closed"
    # 29 March 2026 has 23 hours in Amsterdam: it starts at UTC+1 and ends at UTC+2.
    spring = campaign(opens="2026-03-29", closes="2026-03-29")
    assert status_at(spring, utc(2026, 3, 28, 23) - MICROSECOND) == "not-yet-open"
    assert status_at(spring, utc(2026, 3, 28, 23)) == "open"
    assert status_at(spring, utc(2026, 3, 29, 22) - MICROSECOND) == "open"
    assert status_at(spring, utc(2026, 3, 29, 22)) == "closed"
    # 02:30 happens twice on 25 October 2026: the first time counts (still summer time, UTC+2).
    autumn = campaign(opens=None, closes="2026-10-25 02:30")
    assert status_at(autumn, utc(2026, 10, 25, 0, 30) - MICROSECOND) == "open"
    assert status_at(autumn, utc(2026, 10, 25, 0, 30)) == "closed"
    # Another zone, on the day the United States move their clocks forward (8 March 2026: from UTC-5 to UTC-4).
    new_york = campaign(opens="2026-03-08", closes="2026-03-08", timezone="America/New_York")
    assert status_at(new_york, utc(2026, 3, 8, 5) - MICROSECOND) == "not-yet-open"
    assert status_at(new_york, utc(2026, 3, 8, 5)) == "open"
    assert status_at(new_york, utc(2026, 3, 9, 4) - MICROSECOND) == "open"
    assert status_at(new_york, utc(2026, 3, 9, 4)) == "closed"


def test_the_written_status_read_against_the_clock() -> None:
    before, between, after = utc(2026, 1, 1), utc(2026, 6, 1), utc(2027, 1, 1)
    dates = {"opens": "2026-03-01", "closes": "2026-11-30"}
    opened = campaign(status="open", **dates)
    assert [status_at(opened, t) for t in (before, between, after)] == ["not-yet-open", "open", "closed"]
    waiting = campaign(status="pre-registration", **dates)
    assert [status_at(waiting, t) for t in (before, between, after)] == ["pre-registration", "open", "closed"]
    undated = campaign(status="pre-registration", opens=None, closes="2026-11-30")
    assert [status_at(undated, t) for t in (before, between, after)] == ["pre-registration"] * 2 + ["closed"]
    by_hand = campaign(status="closed", closed_message={"nl": "Dicht.", "en": "Closed."}, **dates)
    assert [status_at(by_hand, t) for t in (before, between, after)] == ["closed"] * 3
    always = campaign(status="open", opens=None)
    assert [status_at(always, t) for t in (before, between, after)] == ["open"] * 3


def test_a_signup_confirmed_before_closing_may_finish_within_24_hours() -> None:
    closes_at = utc(2026, 11, 30, 17)
    schedule = Schedule.of(campaign(closes="2026-11-30 18:00"))
    confirmed = closes_at - SECOND
    assert schedule.may_finish(None, closes_at - SECOND)  # open: anyone goes on
    assert schedule.may_finish(confirmed, closes_at)
    assert schedule.may_finish(confirmed, closes_at + GRACE - MICROSECOND)
    assert not schedule.may_finish(confirmed, closes_at + GRACE)
    assert not schedule.may_finish(closes_at, closes_at + SECOND)  # confirmed as it closed: too late
    assert not schedule.may_finish(None, closes_at)  # never confirmed
    by_hand = Schedule.of(
        campaign(status="closed", closed_message={"nl": "Dicht.", "en": "Closed."}, closes="2026-11-30 18:00")
    )
    assert not by_hand.may_finish(confirmed, closes_at + SECOND)  # closed by hand: no grace
    early = Schedule.of(campaign(opens="2026-12-01", closes="2026-12-31"))
    assert not early.may_finish(confirmed, utc(2026, 11, 30, 18))  # not open yet


# -- the campaign file ---------------------------------------------------------------------------------------------


def problems(folder: CampaignFolder, **changes: Any) -> list[str]:
    text = yaml.safe_dump(campaign_data(**changes), allow_unicode=True, sort_keys=False)
    with pytest.raises(CampaignConfigError) as caught:
        load_campaign_file(folder.write("democlaim", text=text), PluginHost().settings_schemas)
    return [str(problem) for problem in caught.value.problems]


def line_of(folder: CampaignFolder, key: str) -> int:
    lines = (folder.path / "democlaim.yaml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(f"{key}:"))


def test_wrong_schedules_are_explained_with_line_and_field(campaign_folder: CampaignFolder) -> None:
    [zone] = problems(campaign_folder, timezone="Europe/Amsterdamm")
    assert f"line {line_of(campaign_folder, 'timezone')}: timezone: unknown time zone 'Europe/Amsterdamm'" in zone
    [early] = problems(campaign_folder, opens="2026-01-05", closes="2026-01-04")
    assert f"line {line_of(campaign_folder, 'closes')}: closes: closes (2026-01-04) is not after opens" in early
    [empty] = problems(campaign_folder, opens="2026-01-05 18:00", closes="2026-01-05T18:00")
    assert "closes (2026-01-05 18:00) is not after opens (2026-01-05 18:00)" in empty
    [hour] = problems(campaign_folder, closes="2026-11-30 25:00")
    assert "closes: '2026-11-30 25:00' is no date on the calendar" in hour
    [words] = problems(campaign_folder, opens="in december")
    assert "opens: expected a date written as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM" in words
    # A single day is a valid schedule: it opens at its start and closes at its end.
    path = campaign_folder.write("democlaim", campaign_data(opens="2026-01-05", closes="2026-01-05"))
    assert load_campaign_file(path, PluginHost().settings_schemas).campaign.timezone == "Europe/Amsterdam"


# -- the web, with the campaign file's times written relative to now -----------------------------------------------


def local(delta: dt.timedelta) -> dt.datetime:
    """Now plus ``delta`` on the campaign's clock (Amsterdam), to the second, as a campaign file writes it."""
    return (dt.datetime.now(AMSTERDAM) + delta).replace(tzinfo=None, microsecond=0)


def write_tiktok(folder: CampaignFolder, **moments: dt.datetime | str) -> None:
    """The shipped TikTok campaign (open; a payment before it counts) with these ``opens``/``closes``."""
    path = folder.path / "tiktokclaim.yaml"
    lines = "".join(
        f"{key}: {value.isoformat() if isinstance(value, dt.datetime) else value}\n" for key, value in moments.items()
    )
    text = re.sub(r"^opens: .*\n(closes: .*\n)?", lines, path.read_text(encoding="utf-8"), count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")


def shown(moment: dt.datetime, language: str = "en") -> str:
    """How a page writes a date and time of the campaign's clock."""
    months = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober"]
    months += ["november", "december"]
    if language == "nl":
        return f"{moment.day} {months[moment.month - 1]} {moment.year} om {moment:%H:%M}"
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M}"


@pytest.fixture
def folder(campaign_folder: CampaignFolder) -> CampaignFolder:
    campaign_folder.copy_shipped()
    return campaign_folder


@pytest.fixture
def app_of(make_app: Any, folder: CampaignFolder, migrated_database_url: str) -> Iterator[Any]:
    """Make the app over ``folder`` once its files are written (SQLite and PostgreSQL)."""
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        made.append(make_app(campaigns_dir=folder.path, database_url=migrated_database_url, **settings))
        return made[-1]

    yield make
    for app in made:
        app.extensions["claimsite.db"].engine.dispose()


def edit_tiktok(app: Flask, folder: CampaignFolder, **moments: dt.datetime | str) -> None:
    """Staff edit the file. Test apps do not watch their files (development ones do), so the test loads it."""
    write_tiktok(folder, **moments)
    app.extensions["claimsite"].registry.load()


def form_data(client: FlaskClient, language: str = "en") -> dict[str, str]:
    return {**VALID, "csrf_token": csrf_token(client, f"/{language}/join")}


def test_the_clock_closes_the_join_form_on_time_without_a_reload(app_of: Any, folder: CampaignFolder) -> None:
    closes = local(dt.timedelta(seconds=4))  # time enough to make the app and show the form, on a busy machine
    write_tiktok(folder, opens="2020-07-28", closes=closes)
    app = app_of()
    client = app.test_client()
    landing = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert "Join now" in landing and f"Registration closes on {shown(closes)}." in landing
    data = form_data(client)  # the form is on screen while the campaign is open...
    time.sleep(max(0.0, (closes.replace(tzinfo=AMSTERDAM) - utcnow()).total_seconds()) + 0.05)

    late = client.post("/en/join", data=data, base_url=TIKTOK)  # ... and sent once it closed
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Registration closed before your details arrived, so they were not saved." in html
    assert "Registration has closed" in html and 'name="email"' not in html
    assert signups(app) == []
    # The landing page was rendered a moment ago and is kept a few seconds; the new status is a new page.
    landing = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert "cta--closed" in landing and "Join now" not in landing
    assert f"Registration closed on {shown(closes)}." in landing
    dutch = client.get("/join", base_url=TIKTOK).get_data(as_text=True)
    assert f"De inschrijving is gesloten op {shown(closes, 'nl')}." in dutch
    board = client.get("/en/scoreboard", base_url="https://facebookleak.somi.nl").get_data(as_text=True)
    assert "facebookleak.somi.nl" in board and "tiktokclaim.org" not in board  # no longer taking sign-ups


def test_a_second_after_closes_the_join_form_refuses(app_of: Any, folder: CampaignFolder) -> None:
    write_tiktok(folder, opens="2020-07-28", closes=local(-SECOND))
    app = app_of()
    client = app.test_client()
    page = client.get("/en/join", base_url=TIKTOK)
    assert page.status_code == 200 and "Registration has closed" in page.get_data(as_text=True)
    assert 'name="email"' not in page.get_data(as_text=True)
    # the closed notice is the whole page, so it is the page's one heading of level 1 (axe: page-has-heading-one)
    assert page.get_data(as_text=True).count("<h1") == 1
    assert '<h1 class="cta__title">Registration has closed</h1>' in page.get_data(as_text=True)
    sent = client.post("/join", data={**VALID, "csrf_token": "from-a-page-opened-earlier"}, base_url=TIKTOK)
    assert sent.status_code == 409
    assert "De inschrijving sloot voordat je gegevens binnenkwamen" in sent.get_data(as_text=True)
    assert signups(app) == []


def test_before_opens_the_form_is_closed_and_the_pages_say_when(app_of: Any, folder: CampaignFolder) -> None:
    # Written in UTC on purpose: the pages show it on the campaign's clock.
    opens = (utcnow() + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    write_tiktok(folder, opens=opens.strftime("%Y-%m-%dT%H:%M:%SZ"))
    app = app_of()
    client = app.test_client()
    wall = opens.astimezone(AMSTERDAM).replace(tzinfo=None)
    english = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert "cta--not-yet-open" in english and "Registration has not opened yet" in english
    assert f"Registration opens on {shown(wall)}. Come back then to join." in english
    assert "Join now" not in english and "Pre-register" not in english
    dutch = client.get("/", base_url=TIKTOK).get_data(as_text=True)
    assert f"De inschrijving opent op {shown(wall, 'nl')}." in dutch
    join = client.get("/en/join", base_url=TIKTOK).get_data(as_text=True)
    assert 'name="email"' not in join and f"Registration opens on {shown(wall)}." in join
    sent = client.post("/en/join", data={**VALID, "csrf_token": "any"}, base_url=TIKTOK)
    assert sent.status_code == 409 and signups(app) == []


def confirm_address(app: Flask, client: FlaskClient, email: str, confirmed_ago: dt.timedelta) -> None:
    """Send the form and enter the code while the campaign is open; then date the confirmation back."""
    assert post_form(client, "en", email=email).status_code == 302
    [mail] = deliver(app)
    assert post_code(client, code_of(mail), "en").status_code == 302
    with app.app_context():
        db = db_session()
        db.execute(update(Signup).where(Signup.verified_at.is_not(None)).values(verified_at=utcnow() - confirmed_ago))
        db.commit()


def test_a_signup_confirmed_before_closing_signs_and_pays_within_24_hours(app_of: Any, folder: CampaignFolder) -> None:
    app = app_of()
    client = app.test_client()
    confirm_address(app, client, "anna@example.org", dt.timedelta(days=2))
    closes = local(-dt.timedelta(hours=23))
    edit_tiktok(app, folder, opens="2020-07-28", closes=closes)
    assert "cta--closed" in app.test_client().get("/en/join", base_url=TIKTOK).get_data(as_text=True)

    finish_until = shown(closes + dt.timedelta(hours=24))
    page = client.get("/en/join/sign", base_url=TIKTOK).get_data(as_text=True)
    assert f"so you can still finish until {finish_until}." in page and 'name="signature_typed"' in page
    signed = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
    assert signed.status_code == 302 and "/join/pay/" in signed.location
    assert f"so you can still finish until {finish_until}." in client.get(signed.location, base_url=TIKTOK).get_data(
        as_text=True
    )
    done = pay_in_test_mode(client, signed.location)
    assert done.status_code == 302 and done.location.endswith("/join/done")
    [signup] = signups(app)
    assert signup.stage == Stage.SIGNED and signup.paid_at is not None


def test_after_24_hours_the_signup_gets_the_closed_message(app_of: Any, folder: CampaignFolder) -> None:
    app = app_of()
    anna, ben = app.test_client(), app.test_client()
    confirm_address(app, anna, "anna@example.org", dt.timedelta(days=3))
    signed = anna.post("/en/join/sign", data=sign_form(anna, "en"), base_url=TIKTOK)
    assert "/join/pay/" in signed.location  # signed, but not paid
    confirm_address(app, ben, "ben@example.org", dt.timedelta(days=3))
    closes = local(-dt.timedelta(hours=25))
    edit_tiktok(app, folder, opens="2020-07-28", closes=closes)

    passed = f"could be finished until {shown(closes + dt.timedelta(hours=24))}; that time has passed."
    page = ben.get("/en/join/sign", base_url=TIKTOK)
    assert page.status_code == 200 and passed in page.get_data(as_text=True)
    assert 'name="signature_typed"' not in page.get_data(as_text=True)
    sent = ben.post("/en/join/sign", data={"signature_typed": "Ben", "csrf_token": "x"}, base_url=TIKTOK)
    assert sent.status_code == 409 and passed in sent.get_data(as_text=True)
    pay = anna.get(signed.location, base_url=TIKTOK).get_data(as_text=True)
    assert passed in pay and "One step left" not in pay
    assert anna.post(signed.location, data={"csrf_token": "x"}, base_url=TIKTOK).status_code == 409
    stages = {s.stage for s in signups(app)}
    assert stages == {Stage.SIGNED, Stage.VERIFIED} and all(s.paid_at is None for s in signups(app))
    # The "pay later" mail queued at signing is due; its link would open the closed page, so it is not sent.
    with app.app_context():
        db = db_session()
        db.execute(update(Job).where(Job.kind == REMINDER_JOB).values(run_after=utcnow() - SECOND))
        db.commit()
    assert not [mail for mail in deliver(app) if "One step left" in str(mail["Subject"])]
    assert all(s.payment_reminded_at is None for s in signups(app))


def test_a_signup_not_confirmed_when_registration_closed_cannot_finish(app_of: Any, folder: CampaignFolder) -> None:
    app = app_of()
    client = app.test_client()
    assert post_form(client, "en").status_code == 302
    [mail] = deliver(app)
    edit_tiktok(app, folder, opens="2020-07-28", closes=local(-SECOND))

    assert "Registration has closed" in client.get("/en/join/verify", base_url=TIKTOK).get_data(as_text=True)
    late = client.post("/en/join/verify", data={"code": code_of(mail), "csrf_token": "x"}, base_url=TIKTOK)
    message = "Registration closed before your e-mail address was confirmed, so this sign-up can no longer be finished."
    assert late.status_code == 409 and message in late.get_data(as_text=True)
    link = client.get(link_of(mail), base_url=TIKTOK)
    assert message in link.get_data(as_text=True) and "Confirm" not in link.get_data(as_text=True)
    [signup] = signups(app)
    assert signup.stage == Stage.STARTED and signup.verified_at is None and signup.code_attempts == 0
    assert client.get("/en/join/sign", base_url=TIKTOK).location.endswith("/join/verify")


def test_staff_and_the_command_line_see_the_status_the_clock_gives(app_of: Any, folder: CampaignFolder) -> None:
    write_tiktok(folder, opens="2020-07-28", closes="2026-11-30 18:00")
    app = app_of(admin_host="staff.example")
    listing = run_campaigns_command("list", campaigns_dir=folder.path).output
    [row] = [line for line in listing.splitlines() if line.startswith("tiktokclaim")]
    assert "closed (file: open)" in row
    client = logged_in_client(app)
    overview = client.get("/", base_url=ADMIN).get_data(as_text=True)
    assert re.search(r"tiktokclaim</span></th>\s*<td><span class=\"status status-closed\">closed</span>", overview)
    page = client.get("/campaigns/tiktokclaim", base_url=ADMIN).get_data(as_text=True)
    assert "closed (file: open)" in page and "2026-11-30 18:00 (Europe/Amsterdam)" in page
    assert "2020-07-28 (from the start of the day, Europe/Amsterdam)" in page
    preview = client.get("/preview/tiktokclaim/not-yet-open/en/", base_url=ADMIN).get_data(as_text=True)
    assert "Registration opens on 28 July 2020. Come back then to join." in preview
    join = client.get("/preview/tiktokclaim/not-yet-open/en/join", base_url=ADMIN).get_data(as_text=True)
    assert "Registration has not opened yet" in join and 'name="email"' not in join
    join = client.get("/preview/tiktokclaim/open/en/join", base_url=ADMIN).get_data(as_text=True)
    assert 'name="email"' in join  # the preview shows the form as it would be, whatever the clock says now
