"""Development reload: an edited campaign file shows on the next request; a broken edit never takes a site down."""

from __future__ import annotations

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
