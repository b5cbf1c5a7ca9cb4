"""Development reload: an edited campaign file shows on the next request; a broken edit never takes a site down."""

from __future__ import annotations

import gc
import logging
import os
import shutil
from typing import Any

import pytest

from tests.conftest import REPO, CampaignFolder, campaign_data

# A sign-up whose one agreement has its texts in campaigns/_shared/agreements/ (if anywhere).
SIGNUP_WITH_SHARED_AGREEMENT = {
    "agreements": [{"id": "mandate", "version": "1", "title": {"nl": "Volmacht", "en": "Mandate"}}]
}


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


def test_nothing_is_read_again_while_nothing_changed(two_campaigns: TwoCampaigns) -> None:
    registry = two_campaigns.app.extensions["claimsite"].registry
    generation = registry.snapshot.generation
    for _ in range(3):
        assert two_campaigns.client.get("/en/", base_url="http://other.localhost:5000").status_code == 200
    assert registry.snapshot.generation == generation
    assert not two_campaigns.read_again("democlaim") and not two_campaigns.read_again("other")


def dutch_only(value: Any) -> Any:
    """``value`` with every text given in Dutch only."""
    if isinstance(value, dict):
        if "nl" in value and set(value) <= {"nl", "en"}:
            return {"nl": value["nl"]}
        return {key: dutch_only(item) for key, item in value.items()}
    if isinstance(value, list):
        return [dutch_only(item) for item in value]
    return value


@pytest.fixture
def dutch_and_bilingual(campaign_folder: CampaignFolder, make_app, tmp_path) -> TwoCampaigns:  # type: ignore[no-untyped-def]
    """democlaim in Dutch and English with the default theme; other in Dutch only with the 'somi' theme, both in
    a themes folder of the test's own."""
    themes = tmp_path / "themes"
    shutil.copytree(REPO / "themes", themes)
    campaign_folder.write("democlaim")
    other = dutch_only(campaign_data(slug="other", hosts=["other.example"], theme="somi", languages=["nl"]))
    campaign_folder.write("other", other)

    def factory(**overrides):  # type: ignore[no-untyped-def]
        return make_app(themes_dir=themes, **overrides)

    pair = TwoCampaigns.__new__(TwoCampaigns)
    pair.folder = campaign_folder
    pair.app = factory(env="development", campaigns_dir=campaign_folder.path)
    pair.client = pair.app.test_client()
    pair.at_start = {slug: pair.served(slug) for slug in ("democlaim", "other")}
    pair.themes = themes  # type: ignore[attr-defined]
    return pair


def reloaded_after(pair: TwoCampaigns, change) -> set[str]:  # type: ignore[no-untyped-def]
    """The campaigns read again after ``change`` (the next request reloads), each compared with how it was."""
    before = {slug: pair.served(slug) for slug in ("democlaim", "other")}
    change()
    assert pair.client.get("/", base_url="http://other.localhost:5000").status_code == 200
    return {slug for slug in before if pair.served(slug) is not before[slug]}


def write(path, text: str) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    path.write_text(text)
    if existed:
        bump_mtime(path)


def test_a_shared_page_reloads_exactly_the_campaigns_that_use_it(dutch_and_bilingual: TwoCampaigns) -> None:
    pages = dutch_and_bilingual.folder.path / "_shared" / "pages"
    # only democlaim is in English: an English shared page is of no concern to the Dutch-only campaign
    assert reloaded_after(dutch_and_bilingual, lambda: write(pages / "privacy.en.md", "# Privacy\n")) == {"democlaim"}
    assert reloaded_after(dutch_and_bilingual, lambda: write(pages / "terms.nl.md", "# Voorwaarden\n")) == {
        "democlaim",
        "other",
    }
    assert reloaded_after(dutch_and_bilingual, lambda: write(pages / "privacy.en.md", "# Privacy, edited\n")) == {
        "democlaim"
    }
    assert reloaded_after(dutch_and_bilingual, lambda: write(pages / "unused.nl.md", "# Niet gebruikt\n")) == set()


def test_a_theme_reloads_exactly_the_campaigns_that_use_it(dutch_and_bilingual: TwoCampaigns) -> None:
    themes = dutch_and_bilingual.themes  # type: ignore[attr-defined]
    manifest = themes / "somi" / "theme.yaml"
    edited = manifest.read_text().replace('primary: "#0f6e6e"', 'primary: "#0f6e6f"')
    assert reloaded_after(dutch_and_bilingual, lambda: write(manifest, edited)) == {"other"}
    override = themes / "somi" / "templates" / "landing.html"
    assert reloaded_after(dutch_and_bilingual, lambda: write(override, "SOMI landing override")) == {"other"}
    assert dutch_and_bilingual.client.get("/", base_url="http://other.localhost:5000").get_data(True) == (
        "SOMI landing override"
    )
    assert "override" not in dutch_and_bilingual.client.get("/", base_url="http://democlaim.localhost:5000").get_data(
        True
    )
    default_css = next((themes / "default" / "static").rglob("*.css"))
    assert reloaded_after(dutch_and_bilingual, lambda: write(default_css, default_css.read_text() + "\n")) == {
        "democlaim",
        "other",
    }


def test_a_broken_file_is_read_again_when_the_shared_text_it_lacks_arrives(
    campaign_folder: CampaignFolder, make_app
) -> None:
    data = campaign_data()
    data["signup"] = SIGNUP_WITH_SHARED_AGREEMENT
    campaign_folder.write("democlaim", data)
    app = make_app(env="development", campaigns_dir=campaign_folder.path)
    registry = app.extensions["claimsite"].registry
    assert "democlaim" not in registry.snapshot.campaigns
    assert any("no text for this agreement" in problem.message for problem in registry.snapshot.errors)
    shared = campaign_folder.path / "_shared" / "agreements"
    shared.mkdir(parents=True)
    for language in ("nl", "en"):
        (shared / f"mandate.1.{language}.md").write_text("# Volmacht\n\nIk geef {organisation} een volmacht.\n")
    assert app.test_client().get("/en/", base_url="http://democlaim.localhost:5000").status_code == 200
    assert "democlaim" in registry.snapshot.campaigns and registry.snapshot.errors == ()


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
