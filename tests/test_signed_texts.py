"""A published agreement text never changes: the lock files beside the texts catch an edit before it is deployed,
and the running site refuses a campaign whose signed text changed (issue 16, item 4)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.campaigns import CampaignRegistry
from core.campaigns.locks import LOCK_FILE, file_sha256, lock_texts, read_lock
from core.campaigns.themes import Themes
from core.data.models import SignedText
from core.plugins import PluginHost
from tests.conftest import REPO, CampaignFolder, campaign_data, run_campaigns_command

SCHEMAS = PluginHost().settings_schemas
MANDATE = {"id": "mandate", "version": "1", "title": {"nl": "Volmacht", "en": "Mandate"}}


def with_mandate(folder: CampaignFolder, version: str = "1") -> Path:
    """democlaim with one agreement whose texts are in its own folder; returns that folder."""
    data = campaign_data()
    data["signup"] = {"agreements": [{**MANDATE, "version": version}]}
    folder.write("democlaim", data)
    texts = folder.path / "democlaim" / "agreements"
    texts.mkdir(parents=True, exist_ok=True)
    for language in ("nl", "en"):
        path = texts / f"mandate.{version}.{language}.md"
        if not path.exists():
            path.write_text(f"# Volmacht {version}\n\nIk geef {{{{ organisation }}}} een volmacht ({language}).\n")
    return texts


def checked(folder: CampaignFolder) -> Any:
    return CampaignRegistry(folder.path, lambda: SCHEMAS, Themes(REPO / "themes", folder.path)).check()


def test_lock_lists_new_texts_in_sha256sum_format_and_never_changes_a_line(campaign_folder: CampaignFolder) -> None:
    texts = with_mandate(campaign_folder)
    result = run_campaigns_command("lock", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0 and "2 text(s) locked" in result.output
    lines = (texts / LOCK_FILE).read_text().splitlines()
    assert lines == [f"{file_sha256(texts / name)}  {name}" for name in ("mandate.1.en.md", "mandate.1.nl.md")]
    (texts / "mandate.1.en.md").write_text("# Edited\n")
    assert run_campaigns_command("lock", campaigns_dir=campaign_folder.path).output.startswith("every agreement")
    assert (texts / LOCK_FILE).read_text().splitlines() == lines  # the edit is not locked in


def test_a_changed_locked_text_is_refused_and_the_message_says_to_add_a_version(
    campaign_folder: CampaignFolder,
) -> None:
    texts = with_mandate(campaign_folder)
    assert lock_texts(texts) == ["mandate.1.en.md", "mandate.1.nl.md"]
    assert checked(campaign_folder).errors == ()
    (texts / "mandate.1.nl.md").write_text("# Volmacht\n\nEen andere tekst.\n")
    (problem,) = checked(campaign_folder).errors
    assert problem.file.endswith("democlaim.yaml") and problem.field == "signup.agreements[0].version"
    assert problem.line is not None
    assert "mandate.1.nl.md changed after it was published" in problem.message
    assert "new version (mandate.<new version>.nl.md)" in problem.message
    # the way out: a new version in new files; the old one stays as it was signed
    (texts / "mandate.1.nl.md").write_text("# Volmacht 1\n\nIk geef {{ organisation }} een volmacht (nl).\n")
    with_mandate(campaign_folder, version="2")
    snapshot = checked(campaign_folder)
    assert snapshot.errors == () and snapshot.campaigns["democlaim"].campaign.signup.agreements[0].version == "2"


def test_an_older_version_in_the_campaigns_folder_may_not_change_or_go(campaign_folder: CampaignFolder) -> None:
    texts = with_mandate(campaign_folder)
    lock_texts(texts)
    with_mandate(campaign_folder, version="2")  # the campaign now asks version 2; version 1 is evidence
    (texts / "mandate.1.en.md").write_text("# Rewritten history\n")
    (problem,) = checked(campaign_folder).errors
    assert "mandate.1.en.md changed after it was published" in problem.message
    (texts / "mandate.1.en.md").unlink()
    (problem,) = checked(campaign_folder).errors
    assert "mandate.1.en.md was published" in problem.message and "is gone: restore it" in problem.message


def test_a_lock_in_the_shared_folder_counts_too(campaign_folder: CampaignFolder) -> None:
    shared = campaign_folder.path / "_shared" / "agreements"
    shared.mkdir(parents=True)
    for language in ("nl", "en"):
        (shared / f"mandate.1.{language}.md").write_text("# Volmacht\n")
    data = campaign_data()
    data["signup"] = {"agreements": [MANDATE]}
    campaign_folder.write("democlaim", data)
    lock_texts(shared)
    assert set(read_lock(shared)) == {"mandate.1.en.md", "mandate.1.nl.md"}
    (shared / "mandate.1.en.md").write_text("# Changed\n")
    (problem,) = checked(campaign_folder).errors
    assert "_shared/agreements/mandate.1.en.md changed after it was published" in problem.message


def test_the_shipped_texts_are_locked() -> None:
    for folder in sorted((REPO / "campaigns").glob("*/agreements")):
        assert set(read_lock(folder)) == {p.name for p in folder.glob("*.md")}, f"run flask campaigns lock: {folder}"


def test_the_site_refuses_a_campaign_whose_signed_text_changed(
    campaign_folder: CampaignFolder, make_app: Any, migrated_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The lock line is gone (removed by hand, or never written) and the text edited: what people signed still
    decides, because the site recorded the text file each of them signed."""
    from tests.test_signup import join_fully

    campaign_folder.copy_shipped()
    app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url, env="development")
    signup = join_fully(app, app.test_client())
    with app.app_context():
        from core.data.db import db_session

        signed = db_session().scalars(select(SignedText).where(SignedText.campaign == "tiktokclaim")).all()
    texts = campaign_folder.path / "tiktokclaim" / "agreements"
    mandate = f"mandate.2026-12-03.{signup.language}.md"
    assert {(row.agreement, row.language, row.file_sha256) for row in signed} >= {
        ("mandate", signup.language, file_sha256(texts / mandate))
    }
    (texts / LOCK_FILE).unlink()
    (texts / mandate).write_text((texts / mandate).read_text() + "\nA sentence nobody signed.\n")
    client = app.test_client()
    page = client.get("/en/", base_url="https://tiktokclaim.org")
    assert page.status_code == 200  # the running site keeps serving the version people signed
    problems = [p for p in app.extensions["claimsite"].registry.snapshot.errors if "tiktokclaim" in p.file]
    assert len(problems) == 1 and f"{mandate} has been signed, and changed since" in problems[0].message
    assert problems[0].field == "signup.agreements[0].version"
    restarted = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url)
    assert "tiktokclaim" not in restarted.extensions["claimsite"].registry.snapshot.campaigns
    assert "zoomclaim" in restarted.extensions["claimsite"].registry.snapshot.campaigns
    for each in (app, restarted):
        each.extensions["claimsite.db"].engine.dispose()


def test_a_refused_edit_never_reaches_a_visitor(
    campaign_folder: CampaignFolder, make_app: Any, migrated_database_url: str
) -> None:
    """The pages and agreement texts served are those the campaign was published with: an edit the site refuses
    (a signed text changed, a page that is not UTF-8) shows nowhere, neither as a changed text nor as an error."""
    from tests.test_signup import TIKTOK, code_of, deliver, post_code, post_form

    campaign_folder.copy_shipped()
    app = make_app(campaigns_dir=campaign_folder.path, database_url=migrated_database_url, env="development")
    client = app.test_client()
    assert post_form(client, "en").status_code == 302
    [mail] = deliver(app)
    assert post_code(client, code_of(mail), "en").status_code == 302
    before = client.get("/en/join/sign", base_url=TIKTOK).get_data(True)
    privacy = client.get("/en/privacy", base_url=TIKTOK).get_data(True)
    texts = campaign_folder.path / "tiktokclaim" / "agreements"
    mandate = texts / "mandate.2026-12-03.en.md"
    mandate.write_text(mandate.read_text() + "\nA sentence nobody signed.\n")
    own_page = campaign_folder.path / "tiktokclaim" / "pages" / "privacy.en.md"
    own_page.parent.mkdir(parents=True)
    own_page.write_bytes("# Privacyverklaring\n\nNa\xefve bytes.\n".encode("cp1252"))
    sign = client.get("/en/join/sign", base_url=TIKTOK)
    assert sign.status_code == 200 and without_csrf(sign.get_data(True)) == without_csrf(before)
    assert "A sentence nobody signed" not in sign.get_data(True)
    page = client.get("/en/privacy", base_url=TIKTOK)
    assert page.status_code == 200 and page.get_data(True) == privacy
    problems = [str(p) for p in app.extensions["claimsite"].registry.snapshot.errors]
    assert any("mandate.2026-12-03.en.md changed after it was published" in p for p in problems)
    assert any("privacy.en.md" in p and "not UTF-8" in p for p in problems)
    app.extensions["claimsite.db"].engine.dispose()


def without_csrf(html: str) -> str:
    """A page without its CSRF token, which is signed with the time of each request."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', html)
