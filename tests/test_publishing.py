"""Publishing: a changed campaign goes live once its files settle; a broken one never takes another down; an
address stays with the campaign that had it, across restarts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from core.campaigns import CampaignRegistry
from core.campaigns.themes import Themes
from core.plugins import PluginHost
from tests.conftest import REPO, CampaignFolder, campaign_data

SCHEMAS = PluginHost().settings_schemas


def titled(title: str, **changes: Any) -> dict[str, Any]:
    data = campaign_data(**changes)
    data["hero"]["title"]["en"] = title
    return data


def touch_later(path: Path, seconds: int) -> None:
    """Give ``path`` a new mtime (a file system's clock may not tick between two writes in a test)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def title_of(registry: CampaignRegistry, slug: str) -> str:
    return registry.snapshot.campaigns[slug].campaign.hero.title["en"]


@pytest.fixture
def registry(campaign_folder: CampaignFolder) -> CampaignRegistry:
    campaign_folder.write("democlaim", titled("First"))
    campaign_folder.write("other", titled("Other first", slug="other", hosts=["other.example"]))
    registry = CampaignRegistry(campaign_folder.path, lambda: SCHEMAS, Themes(REPO / "themes", campaign_folder.path))
    registry.load()
    return registry


# -- settling ------------------------------------------------------------------------------------------------------
def test_a_change_goes_live_once_its_files_have_stopped_changing(
    registry: CampaignRegistry, campaign_folder: CampaignFolder
) -> None:
    touch_later(campaign_folder.write("democlaim", titled("Second")), 1)
    assert not registry.publish_settled(now=100.0, quiet=2.0)  # just seen: it may still be being saved
    assert not registry.publish_settled(now=101.0, quiet=2.0)
    assert title_of(registry, "democlaim") == "First"
    touch_later(campaign_folder.write("democlaim", titled("Third")), 2)  # saved again: the wait starts again
    assert not registry.publish_settled(now=102.5, quiet=2.0)
    assert not registry.publish_settled(now=104.0, quiet=2.0)
    assert title_of(registry, "democlaim") == "First"
    assert registry.publish_settled(now=104.5, quiet=2.0)
    assert title_of(registry, "democlaim") == "Third"
    assert not registry.publish_settled(now=110.0, quiet=2.0)  # nothing new


def test_a_campaign_still_changing_waits_while_a_settled_one_goes_live(
    registry: CampaignRegistry, campaign_folder: CampaignFolder
) -> None:
    other_before = registry.snapshot.campaigns["other"]
    touch_later(campaign_folder.write("democlaim", titled("Second")), 1)
    registry.publish_settled(now=10.0, quiet=2.0)
    touch_later(campaign_folder.write("other", titled("Other second", slug="other", hosts=["other.example"])), 1)
    registry.publish_settled(now=11.5, quiet=2.0)
    assert registry.publish_settled(now=12.0, quiet=2.0)
    assert title_of(registry, "democlaim") == "Second"
    assert registry.snapshot.campaigns["other"] is other_before  # still being edited: not read yet
    assert registry.publish_settled(now=13.5, quiet=2.0)
    assert title_of(registry, "other") == "Other second"


def test_an_edit_of_a_campaign_file_and_its_agreement_goes_live_as_one(
    registry: CampaignRegistry, campaign_folder: CampaignFolder
) -> None:
    """The editor adds an agreement to the file first and its text a moment later: published half, the campaign
    would fail (no text) and keep its old version anyway; published whole, it is the new version at once."""
    data = titled("With a mandate")
    data["signup"] = {"agreements": [{"id": "mandate", "version": "1", "title": {"nl": "Volmacht", "en": "Mandate"}}]}
    touch_later(campaign_folder.write("democlaim", data), 1)
    registry.publish_settled(now=20.0, quiet=2.0)
    texts = campaign_folder.path / "democlaim" / "agreements"
    texts.mkdir(parents=True)
    registry.publish_settled(now=21.0, quiet=2.0)
    for language in ("nl", "en"):
        (texts / f"mandate.1.{language}.md").write_text("# Volmacht\n\nIk geef {organisation} een volmacht.\n")
    assert not registry.publish_settled(now=22.5, quiet=2.0)  # the texts are new: seen now, not yet settled
    assert not registry.publish_settled(now=24.0, quiet=2.0)
    assert registry.publish_settled(now=24.5, quiet=2.0)
    assert registry.snapshot.errors == ()
    assert title_of(registry, "democlaim") == "With a mandate"
    assert registry.snapshot.campaigns["democlaim"].campaign.signup is not None


def test_a_removed_file_stops_serving_once_settled(registry: CampaignRegistry, campaign_folder: CampaignFolder) -> None:
    (campaign_folder.path / "other.yaml").unlink()
    assert not registry.publish_settled(now=30.0, quiet=2.0)
    assert "other" in registry.snapshot.campaigns
    assert registry.publish_settled(now=32.0, quiet=2.0)
    assert list(registry.snapshot.campaigns) == ["democlaim"]


# -- a running production app --------------------------------------------------------------------------------------
def production_app(make_app: Any, folder: CampaignFolder, **overrides: Any) -> Flask:
    from tests.conftest import PRODUCTION_PUBLIC_KEY

    return make_app(  # type: ignore[no-any-return]
        env="production",
        campaigns_dir=folder.path,
        mail_url="smtp://127.0.0.1:1",
        sealing_public_key=PRODUCTION_PUBLIC_KEY,
        page_cache_seconds=0,
        **overrides,
    )


def test_a_running_production_app_publishes_a_new_campaign_within_seconds(
    campaign_folder: CampaignFolder, make_app: Any
) -> None:
    campaign_folder.write("democlaim")
    app = production_app(make_app, campaign_folder, publish_poll_seconds=0.2, publish_quiet_seconds=0.5)
    client = app.test_client()
    assert client.get("/en/", base_url="https://democlaim.example").status_code == 200  # starts the publisher
    assert client.get("/en/", base_url="https://other.example").status_code == 404
    campaign_folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
    started = time.monotonic()
    while client.get("/en/", base_url="https://other.example").status_code != 200:
        assert time.monotonic() - started < 10, "the new campaign was not published within 10 s"
        time.sleep(0.1)
    assert client.get("/en/", base_url="https://democlaim.example").status_code == 200


def test_health_counts_what_is_served_and_what_is_broken(campaign_folder: CampaignFolder, make_app: Any) -> None:
    campaign_folder.write("democlaim")
    app = production_app(make_app, campaign_folder)
    client = app.test_client()
    answer = client.get("/healthz", base_url="https://anything.invalid")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert json.loads(answer.data) | {"generation": 0} == {
        "status": "ok",
        "campaigns_served": 1,
        "campaign_files_with_problems": 0,
        "generation": 0,
    }
    campaign_folder.write("secretdraft", text="slug: secretdraft\nstatus: opne\n")
    app = production_app(make_app, campaign_folder)
    answer = app.test_client().get("/healthz", base_url="https://democlaim.example")
    health = json.loads(answer.data)
    assert health["status"] == "degraded" and health["campaign_files_with_problems"] == 1
    assert health["campaigns_served"] == 1
    assert b"secretdraft" not in answer.data  # a draft's name is not public


# -- who serves an address -------------------------------------------------------------------------------------------
def test_an_address_stays_with_the_campaign_that_had_it_across_restarts(
    campaign_folder: CampaignFolder, make_app: Any, migrated_database_url: str
) -> None:
    campaign_folder.write("palantirclaim", campaign_data(slug="palantirclaim", hosts=["palantirclaim.example"]))
    first = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url)
    assert first.test_client().get("/en/", base_url="https://palantirclaim.example").status_code == 200
    first.extensions["claimsite.db"].engine.dispose()
    # a new file, first by name, names the same address: file order must not decide
    campaign_folder.write("aaanew", campaign_data(slug="aaanew", hosts=["aaanew.example", "palantirclaim.example"]))
    for _restart in range(2):
        app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url)
        snapshot = app.extensions["claimsite"].registry.snapshot
        assert list(snapshot.campaigns) == ["palantirclaim"]
        (problem,) = snapshot.errors
        assert problem.file.endswith("aaanew.yaml") and problem.field == "hosts[1]"
        assert "already served by campaign palantirclaim (palantirclaim.yaml)" in problem.message
        page = app.test_client().get("/en/", base_url="https://palantirclaim.example")
        assert page.status_code == 200 and "Have you used Demo?" in page.get_data(True)
        app.extensions["claimsite.db"].engine.dispose()
    # a broken file keeps its addresses: its error says what to fix, and nobody takes them meanwhile
    (campaign_folder.path / "palantirclaim.yaml").write_text("slug: palantirclaim\nstatus: opne\n")
    app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url)
    snapshot = app.extensions["claimsite"].registry.snapshot
    assert snapshot.campaigns == {}
    assert any(p.file.endswith("aaanew.yaml") and "palantirclaim" in p.message for p in snapshot.errors)
    app.extensions["claimsite.db"].engine.dispose()
    # once the campaign that had it names it no more, the other may take it
    campaign_folder.write("palantirclaim", campaign_data(slug="palantirclaim", hosts=["palantir-only.example"]))
    app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url)
    snapshot = app.extensions["claimsite"].registry.snapshot
    assert snapshot.errors == () and list(snapshot.campaigns) == ["aaanew", "palantirclaim"]
    moved = app.test_client().get("/en/", base_url="https://palantirclaim.example")
    assert moved.status_code == 301 and moved.location.startswith("https://aaanew.example/")  # its second address
    app.extensions["claimsite.db"].engine.dispose()


def test_without_a_database_the_check_tells_both_files(campaign_folder: CampaignFolder) -> None:
    """``flask campaigns check`` needs no database: it cannot know which file had the address, so it blames
    neither by file order but tells each (the issue: check blamed palantirclaim.yaml, which had it)."""
    campaign_folder.write("palantirclaim", campaign_data(slug="palantirclaim", hosts=["palantirclaim.example"]))
    campaign_folder.write("aaanew", campaign_data(slug="aaanew", hosts=["palantirclaim.example"]))
    registry = CampaignRegistry(campaign_folder.path, lambda: SCHEMAS, Themes(REPO / "themes", campaign_folder.path))
    messages = {Path(p.file).name: p.message for p in registry.check().errors}
    assert "also named by palantirclaim.yaml" in messages["aaanew.yaml"]
    assert "also named by aaanew.yaml" in messages["palantirclaim.yaml"]


def test_a_worker_reads_a_new_campaign_when_a_job_of_it_arrives(
    campaign_folder: CampaignFolder, make_app: Any, migrated_database_url: str
) -> None:
    """The web process published a new campaign and queued its mail before the worker looked: the worker reads
    that campaign at once instead of failing the job and retrying minutes later."""
    import email
    import email.policy
    import re

    from core.jobs.queue import Worker
    from tests.test_publishing_processes import add_campaign

    campaign_folder.copy_shipped()
    worker_app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url)
    add_campaign(campaign_folder.path)
    web = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url).test_client()
    site = "https://instaclaim.somi.nl"
    form = web.get("/en/join", base_url=site).get_data(True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answers = {"name": "Anna", "email": "anna@example.org", "country": "NL", "birth_date": "1990-05-01"}
    assert web.post("/en/join", data={**answers, "csrf_token": token}, base_url=site).status_code == 302
    assert "instaclaim" not in worker_app.extensions["claimsite"].registry.snapshot.campaigns
    assert Worker(worker_app).run_once() == 1
    outbox = sorted((worker_app.extensions["claimsite"].settings.instance_dir / "outbox").glob("*.eml"))
    (mail,) = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in outbox]
    assert mail["To"] == "anna@example.org"
    assert "instaclaim" in worker_app.extensions["claimsite"].registry.snapshot.campaigns
    for app in (worker_app, web.application):
        app.extensions["claimsite.db"].engine.dispose()
