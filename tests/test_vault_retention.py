"""Retention of vault files (issue 21, item 5): a set time after their campaign ends the files go, after the
participant was told once, through the contact copy, a notice period in advance; two runs at once tell them once; a
late notice or a moved end date moves the removal with it; /my/vault shows each file's date. The TikTok Claim is
given an end (yesterday) and 30 days of keeping, so that files deposited today are due for their notice now. On
SQLite and PostgreSQL, with the notices delivered to a real SMTP server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy
from flask import Flask
from pydantic import ValidationError
from sqlalchemy import delete, select, update

from core.campaigns import LoadedCampaign
from core.campaigns.schema import Campaign
from core.data import vault_retention
from core.data.db import utcnow
from core.data.migrations import downgrade, upgrade
from core.data.models import Contact, Signup, VaultFile, VaultRemovalNotice
from core.i18n import long_date
from core.jobs.queue import Worker
from core.signup import vault_removal
from tests.conftest import CampaignFolder, campaign_data
from tests.smtp_server import SMTPServer
from tests.test_participant_page import logged_in
from tests.test_signup import TIKTOK, deliver
from tests.test_vault_deposit import ANNA, BOB, ZIP_BYTES, give_vault, in_app, join, mapping, rows

DAY = dt.timedelta(days=1)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the TikTok Claim's clock
COMPANY = "ByteDance Ireland Ltd"  # never in a notice


@pytest.fixture
def ended(
    make_app: Callable[..., Flask], migrated_database_url: str, tmp_path: Path, smtp_server: SMTPServer
) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one database, instance folder and campaigns folder, in which the TikTok Claim ended yesterday
    and keeps vault files 30 days: the first writes mail to its outbox (joining reads the codes there), the second
    sends it to the SMTP server (the notices)."""
    folder = CampaignFolder(tmp_path / "campaigns")
    folder.copy_shipped()
    path = folder.path / "tiktokclaim.yaml"
    yesterday = utcnow().astimezone(AMSTERDAM).date() - DAY
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("opens: 2020-07-28\n", f"opens: 2020-07-28\nends: {yesterday}\nvault:\n  files_kept_days: 30\n"),
        encoding="utf-8",
    )
    app = make_app(database_url=migrated_database_url, campaigns_dir=folder.path)
    mailer = make_app(database_url=migrated_database_url, campaigns_dir=folder.path, mail_url=smtp_server.url)
    assert tiktok(app).campaign.ends == yesterday
    yield app, mailer
    for made in (app, mailer):
        made.extensions["claimsite.db"].engine.dispose()


def tiktok(app: Flask) -> LoadedCampaign:
    return app.extensions["claimsite"].registry.snapshot.campaigns["tiktokclaim"]


def deposit(app: Flask, folder: Path, reference: str, *names: str) -> None:
    lines = ["reference,file,company"] + [f"{reference},{name},{COMPANY}" for name in names]
    path = mapping(folder, lines, {name: ZIP_BYTES for name in names})
    result = app.test_cli_runner().invoke(args=["vault", "deposit", str(path), "--campaign", "tiktokclaim"])
    assert result.exit_code == 0, result.output
    deliver(app)  # the arrival mails


def noon() -> dt.datetime:
    """Today's noon on the campaign's clock, as the runs' ``now``: whole days added to it stay on their day, whatever
    the hour the tests run at and across summer time."""
    return dt.datetime.combine(utcnow().astimezone(AMSTERDAM).date(), dt.time(12), AMSTERDAM)


def with_files(app: Flask, folder: Path, address: str, *names: str) -> Signup:
    """``address`` joined the TikTok Claim, set up a vault and got ``names`` deposited in it."""
    signup = join(app, address)
    give_vault(app, signup)
    deposit(app, folder, signup.token[:12], *names)
    return signup


def run(app: Flask, now: dt.datetime, campaigns: list[LoadedCampaign] | None = None) -> vault_removal.Removal:
    with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
        store = app.extensions["claimsite"].vault_store
        return vault_removal.run(session, store, campaigns or [tiktok(app)], now)


def notices(app: Flask) -> list[VaultRemovalNotice]:
    def work(db: Any) -> list[VaultRemovalNotice]:
        found = list(db.scalars(select(VaultRemovalNotice).order_by(VaultRemovalNotice.id)))
        db.expunge_all()
        return found

    return in_app(app, work)


def stored_keys(app: Flask) -> list[str]:
    folder = app.extensions["claimsite"].settings.instance_dir / "vault"
    return sorted(path.name for path in folder.rglob("*") if path.is_file())


def listed(app: Flask, address: str) -> list[dict[str, Any]]:
    client = app.test_client()
    logged_in(app, client, address)
    return client.get("/en/my/vault/files", base_url=TIKTOK).get_json()["files"]


def test_the_participant_is_told_once_and_the_files_go_only_after_the_notice_period(
    ended: tuple[Flask, Flask], smtp_server: SMTPServer, tmp_path: Path
) -> None:
    app, mailer = ended
    anna = with_files(app, tmp_path / "a", ANNA, "tiktok-annadv-2024.zip", "videos.zip")
    bob = with_files(app, tmp_path / "b", BOB, "bob.zip")
    now = noon()
    until = vault_retention.today(tiktok(app).campaign, now) + 30 * DAY  # arrived today, after the end: 30 days
    shown = listed(app, ANNA)
    assert [(file["kept_until"], file["kept_until_text"]) for file in shown] == [
        (until.isoformat(), f"Kept until {long_date(until, 'en')}")
    ] * 2

    first = run(mailer, now)
    assert (first.notices_mailed, first.notices_unmailed, first.files_removed) == (2, 0, 0)
    again = run(mailer, now + DAY)  # the next day's run: told already
    assert (again.notices_mailed, again.notices_unmailed, again.files_removed) == (0, 0, 0)
    assert [(n.kept_until, n.mailed) for n in notices(app)] == [(until, True), (until, True)]

    while Worker(mailer).run_once():
        pass
    received = smtp_server.wait_for(2)
    assert sorted(message.rcpt_tos[0] for message in received) == [ANNA, BOB]
    date = long_date(until, "en")
    for message in received:
        assert str(message.message["Subject"]) == f"Files in your vault are kept until {date}"
        text = message.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"For some of yours that time ends on {date}: after that day we remove them for good" in text
        assert f"{TIKTOK}/en/my/vault" in text
        for secret in (COMPANY, "ByteDance", "annadv", "videos.zip", "bob.zip", anna.token[:12], bob.token[:12]):
            assert secret not in message.raw.decode(errors="replace")
    assert len(smtp_server.messages) == 2

    keys = sorted(row.store_key for row in rows(app))
    assert stored_keys(app) == keys
    on_the_date = run(mailer, now + 30 * DAY)  # the last day they are kept: still there
    assert on_the_date.files_removed == 0 and stored_keys(app) == keys
    after = run(mailer, now + 31 * DAY)
    assert after.files_removed == 3 and after.notices_mailed == 0
    assert rows(app) == [] and stored_keys(app) == [] and notices(app) == []
    assert run(mailer, now + 32 * DAY) == vault_removal.Removal()  # idempotent: nothing left to do
    assert len(smtp_server.messages) == 2


def test_a_late_notice_gives_a_later_date_and_a_moved_end_date_brings_its_own_notice(
    ended: tuple[Flask, Flask], tmp_path: Path
) -> None:
    app, _ = ended
    with_files(app, tmp_path, ANNA, "a.zip")
    loaded = tiktok(app)
    now = noon()
    today = vault_retention.today(loaded.campaign, now)

    # The run did not run for ten days: the notice gives 30 days from when it goes out, not the planned date.
    late = run(app, now + 10 * DAY)
    assert late.notices_mailed == 1
    [notice] = notices(app)
    assert (notice.planned_until, notice.kept_until) == (today + 30 * DAY, today + 40 * DAY)
    [mail] = deliver(app)
    assert long_date(today + 40 * DAY, "en") in str(mail["Subject"])
    assert [file["kept_until"] for file in listed(app, ANNA)] == [(today + 40 * DAY).isoformat()]
    assert run(app, now + 40 * DAY).files_removed == 0

    # The campaign's end moves 100 days later: the old notice does not remove anything; the new date gets its own.
    assert loaded.campaign.ends is not None
    moved_campaign = loaded.campaign.model_copy(update={"ends": loaded.campaign.ends + 100 * DAY})
    moved = [dataclasses.replace(loaded, campaign=moved_campaign)]
    [row] = rows(app)
    planned = vault_retention.planned_until(moved_campaign, row.deposited_at)
    assert planned == today + 129 * DAY  # yesterday + 100 days + 30 days kept
    assert run(app, now + 41 * DAY, moved) == vault_removal.Removal()
    not_yet = run(app, now + 98 * DAY, moved)  # planned - 31 days: not due yet
    assert not_yet.notices_mailed == 0 and not_yet.notices_spent == 1  # the old date's notice, long past: forgotten
    assert notices(app) == []
    told = run(app, now + 99 * DAY, moved)
    assert told.notices_mailed == 1
    assert [(n.planned_until, n.kept_until) for n in notices(app)] == [(planned, planned)]
    [mail] = deliver(app)
    assert long_date(planned, "en") in str(mail["Subject"])
    assert run(app, now + 129 * DAY, moved).files_removed == 0
    assert run(app, now + 130 * DAY, moved).files_removed == 1
    assert rows(app) == [] and stored_keys(app) == []


def test_without_a_contact_copy_nobody_is_told_and_the_files_go_on_their_date(
    ended: tuple[Flask, Flask], tmp_path: Path
) -> None:
    app, _ = ended
    with_files(app, tmp_path, ANNA, "a.zip")

    def signed_before_contact_copies(db: Any) -> None:
        db.execute(delete(Contact))
        db.commit()

    in_app(app, signed_before_contact_copies)
    now = noon()
    first = run(app, now)
    assert (first.notices_mailed, first.notices_unmailed) == (0, 1)
    assert deliver(app) == []
    [notice] = notices(app)
    assert notice.mailed is False and notice.kept_until == vault_retention.today(tiktok(app).campaign, now) + 30 * DAY
    assert run(app, now + 30 * DAY).files_removed == 0
    assert run(app, now + 31 * DAY).files_removed == 1 and stored_keys(app) == []


def test_two_runs_at_once_send_one_notice(ended: tuple[Flask, Flask], tmp_path: Path) -> None:
    app, _ = ended
    anna, bob = with_files(app, tmp_path / "a", ANNA, "a.zip"), with_files(app, tmp_path / "b", BOB, "b.zip")
    now, sessions = noon(), app.extensions["claimsite.db"].sessions

    # One notice recorded by two runs whose transactions overlap: the second waits for the first, then does nothing.
    with app.app_context(), sessions() as first:
        [group] = [g for g in vault_retention.due(first, [tiktok(app)], now) if g.email_hash == anna.email_hash]
        first.commit()
        assert vault_retention.record_notice(first, group, now, mailed=True)
        outcome: dict[str, bool] = {}

        def second_run() -> None:
            with app.app_context(), sessions() as second:
                outcome["recorded"] = vault_retention.record_notice(second, group, now, mailed=True)
                second.commit()

        thread = threading.Thread(target=second_run)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # held up by the first run's open transaction
        first.commit()
        thread.join(30)
    assert outcome == {"recorded": False}

    # Two whole runs at the same moment: Bob is told once.
    barrier, results = threading.Barrier(2), []

    def whole_run() -> None:
        with app.app_context(), sessions() as session:
            barrier.wait()
            results.append(vault_removal.run(session, app.extensions["claimsite"].vault_store, [tiktok(app)], now))

    runs = [threading.Thread(target=whole_run) for _ in range(2)]
    for started in runs:
        started.start()
    for started in runs:
        started.join(60)
    assert sum(result.notices_mailed for result in results) == 1
    assert sorted(n.email_hash for n in notices(app)) == sorted([anna.email_hash, bob.email_hash])
    assert [mail["To"] for mail in deliver(app)] == [BOB]


def test_flask_retention_run_tells_then_removes_and_finishes_what_a_killed_run_left(
    ended: tuple[Flask, Flask], tmp_path: Path
) -> None:
    app, _ = ended
    with_files(app, tmp_path, ANNA, "a.zip", "b.zip")
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and "vault: would queue 1 notice(s)" in dry.output, dry.output
    assert notices(app) == [] and deliver(app) == []
    told = runner.invoke(args=["retention", "run"])
    assert told.exit_code == 0, told.output
    assert (
        "vault: queued 1 notice(s) of files kept until a date 30 days away or less (0 not mailed: no contact copy of "
        "the address), removed 0 file(s) past the date their notice gave"
    ) in told.output
    assert "vault: queued 0 notice(s)" in runner.invoke(args=["retention", "run"]).output
    assert len(deliver(app)) == 1

    def as_if_the_date_had_passed(db: Any) -> None:
        yesterday = vault_retention.today(tiktok(app).campaign, utcnow()) - DAY
        db.execute(update(VaultRemovalNotice).values(kept_until=yesterday, queued_at=utcnow() - 31 * DAY))
        db.commit()

    in_app(app, as_if_the_date_had_passed)
    # A run killed after deleting a stored file but before deleting its row left this: the next run finishes it.
    first = rows(app)[0]
    app.extensions["claimsite"].vault_store.delete(first.store_key)
    removed = runner.invoke(args=["retention", "run"])
    assert "removed 2 file(s) past the date their notice gave" in removed.output, removed.output
    assert rows(app) == [] and stored_keys(app) == [] and notices(app) == []


# -- the campaign file and the migration ------------------------------------------------------------------------


def test_ends_is_not_before_closes_and_files_are_kept_at_least_the_notice_period() -> None:
    ok = Campaign.model_validate(campaign_data(closes="2027-06-30", ends="2027-06-30"))
    assert ok.ends == dt.date(2027, 6, 30) and ok.vault.files_kept_days == 365
    assert vault_retention.last_day(ok) == dt.date(2027, 6, 30)
    assert vault_retention.last_day(Campaign.model_validate(campaign_data(closes="2027-06-30 18:00"))) == dt.date(
        2027, 6, 30
    )
    assert vault_retention.last_day(Campaign.model_validate(campaign_data())) is None
    with pytest.raises(ValidationError, match=r"ends \(2027-06-29\) is before closes \(2027-06-30\)"):
        Campaign.model_validate(campaign_data(closes="2027-06-30", ends="2027-06-29"))
    with pytest.raises(ValidationError, match="greater than or equal to 30"):
        Campaign.model_validate(campaign_data(vault={"files_kept_days": 7}))


def test_the_migration_finds_the_signup_of_files_deposited_before_it(
    make_app: Callable[..., Flask], database_url: str, tmp_path: Path
) -> None:
    upgrade(database_url)
    app = make_app(database_url=database_url)
    anna = with_files(app, tmp_path, ANNA, "a.zip", "b.zip")
    app.extensions["claimsite.db"].engine.dispose()

    downgrade(database_url, "0019")  # as the files were before this revision: no sign-up recorded
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:  # a file whose token no sign-up makes (its name changed since)
        connection.execute(
            sqlalchemy.text("UPDATE vault_files SET file_name = 'renamed.zip' WHERE file_name = 'b.zip'")
        )
    engine.dispose()
    upgrade(database_url)

    found = {row.file_name: row.signup_id for row in rows(app)}
    assert found == {"a.zip": anna.id, "renamed.zip": None}
    app.extensions["claimsite.db"].engine.dispose()
    assert VaultFile.__table__.c.signup_id.nullable
