"""Development reload: an edited campaign file shows on the next request; a broken edit never takes a site down."""

from __future__ import annotations

import gc
import logging
import os

import pytest

from tests.conftest import CampaignFolder, campaign_data


def bump_mtime(path) -> None:  # type: ignore[no-untyped-def]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_edit_shows_on_next_request(campaign_folder: CampaignFolder, make_app) -> None:
    path = campaign_folder.write("democlaim")
    client = make_app(env="development", campaigns_dir=campaign_folder.path).test_client()
    assert "Have you used Demo?" in client.get("/en/", base_url="http://democlaim.localhost:5000").get_data(True)
    data = campaign_data()
    data["hero"]["title"]["en"] = "Edited title"
    campaign_folder.write("democlaim", data)
    bump_mtime(path)
    assert "Edited title" in client.get("/en/", base_url="http://democlaim.localhost:5000").get_data(True)


def test_new_and_removed_files_are_picked_up(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    client = make_app(env="development", campaigns_dir=campaign_folder.path).test_client()
    assert client.get("/", base_url="http://other.localhost:5000").status_code == 404
    campaign_folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
    assert client.get("/", base_url="http://other.localhost:5000").status_code == 200
    (campaign_folder.path / "other.yaml").unlink()
    assert client.get("/", base_url="http://other.localhost:5000").status_code == 404


def test_invalid_edit_keeps_last_good_version_and_logs(
    campaign_folder: CampaignFolder, make_app, caplog: pytest.LogCaptureFixture
) -> None:
    path = campaign_folder.write("democlaim")
    client = make_app(env="development", campaigns_dir=campaign_folder.path).test_client()
    client.get("/en/", base_url="http://democlaim.localhost:5000")
    path.write_text(path.read_text().replace("status: open", "status: opne"))
    bump_mtime(path)
    with caplog.at_level(logging.ERROR, logger="core.campaigns.registry"):
        response = client.get("/en/", base_url="http://democlaim.localhost:5000")
    assert response.status_code == 200 and "Have you used Demo?" in response.get_data(True)
    assert any("democlaim.yaml" in r.getMessage() and "status: expected" in r.getMessage() for r in caplog.records)


def test_production_does_not_reload(campaign_folder: CampaignFolder, make_app) -> None:
    path = campaign_folder.write("democlaim")
    client = make_app(campaigns_dir=campaign_folder.path, page_cache_seconds=0).test_client()
    client.get("/en/", base_url="https://democlaim.example")
    data = campaign_data()
    data["hero"]["title"]["en"] = "Edited title"
    campaign_folder.write("democlaim", data)
    bump_mtime(path)
    assert "Edited title" not in client.get("/en/", base_url="https://democlaim.example").get_data(True)


class TwoCampaigns:
    """A development app over two campaigns, and the loaded campaign objects it served at start."""

    def __init__(self, folder: CampaignFolder, make_app) -> None:  # type: ignore[no-untyped-def]
        self.folder = folder
        folder.write("democlaim")
        folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
        self.app = make_app(env="development", campaigns_dir=folder.path)
        self.client = self.app.test_client()
        self.at_start = {slug: self.served(slug) for slug in ("democlaim", "other")}

    def served(self, slug: str):  # type: ignore[no-untyped-def]
        return self.app.extensions["claimsite"].registry.snapshot.campaigns[slug]

    def read_again(self, slug: str) -> bool:
        """Whether ``slug`` is served from a newly loaded object (its files were read again)."""
        return self.served(slug) is not self.at_start[slug]


@pytest.fixture
def two_campaigns(campaign_folder: CampaignFolder, make_app) -> TwoCampaigns:  # type: ignore[no-untyped-def]
    return TwoCampaigns(campaign_folder, make_app)


def test_an_edit_reads_only_the_file_that_changed(two_campaigns: TwoCampaigns) -> None:
    data = campaign_data()
    data["hero"]["title"]["en"] = "Edited title"
    bump_mtime(two_campaigns.folder.write("democlaim", data))
    page = two_campaigns.client.get("/en/", base_url="http://democlaim.localhost:5000")
    assert "Edited title" in page.get_data(True)
    assert two_campaigns.read_again("democlaim")
    assert not two_campaigns.read_again("other")  # the same object: its file was not read again


def test_a_change_in_a_campaigns_own_folder_reloads_that_campaign_only(two_campaigns: TwoCampaigns) -> None:
    page = two_campaigns.folder.path / "democlaim" / "pages" / "privacy.en.md"
    page.parent.mkdir(parents=True)
    page.write_text("# Our own privacy page\n")
    assert two_campaigns.client.get("/en/", base_url="http://democlaim.localhost:5000").status_code == 200
    assert two_campaigns.read_again("democlaim")
    assert not two_campaigns.read_again("other")


def test_a_change_under_shared_reloads_the_campaigns(two_campaigns: TwoCampaigns) -> None:
    shared = two_campaigns.folder.path / "_shared" / "pages" / "privacy.en.md"
    shared.parent.mkdir(parents=True)
    shared.write_text("# Shared privacy page\n")
    assert two_campaigns.client.get("/en/", base_url="http://other.localhost:5000").status_code == 200
    assert two_campaigns.read_again("democlaim")
    assert two_campaigns.read_again("other")


def test_an_edit_keeps_the_compiled_templates_of_the_other_campaigns(two_campaigns: TwoCampaigns) -> None:
    client, env = two_campaigns.client, two_campaigns.app.jinja_env
    for host in ("democlaim", "other"):
        assert client.get("/en/", base_url=f"http://{host}.localhost:5000").status_code == 200
    other_before = env.get_template("campaign:other/landing.html")
    demo_before = env.get_template("campaign:democlaim/landing.html")
    data = campaign_data()
    data["hero"]["title"]["en"] = "Edited title"
    bump_mtime(two_campaigns.folder.write("democlaim", data))
    assert "Edited title" in client.get("/en/", base_url="http://democlaim.localhost:5000").get_data(True)
    assert env.get_template("campaign:other/landing.html") is other_before
    assert env.get_template("campaign:democlaim/landing.html") is not demo_before


def test_the_garbage_collector_runs_again_after_a_load_also_a_failed_one(
    campaign_folder: CampaignFolder, make_app
) -> None:
    path = campaign_folder.write("democlaim")
    app = make_app(env="development", campaigns_dir=campaign_folder.path)
    assert gc.isenabled()
    path.write_text(path.read_text().replace("status: open", "status: opne"))
    bump_mtime(path)
    assert app.test_client().get("/en/", base_url="http://democlaim.localhost:5000").status_code == 200
    assert gc.isenabled()
