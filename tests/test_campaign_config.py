"""Campaign files: every kind of mistake gets one clear message with file, line, field and what was expected."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
import yaml

from core.campaigns import CampaignConfigError, CampaignRegistry, load_campaign_file
from core.campaigns.themes import Themes
from core.plugins import PluginHost
from tests.conftest import PRODUCTION_PUBLIC_KEY, REPO, CampaignFolder, campaign_data, run_campaigns_command

SCHEMAS = PluginHost().settings_schemas
GOOD = yaml.safe_dump(campaign_data(), allow_unicode=True, sort_keys=False)


def problems_of(folder: CampaignFolder, text: str, slug: str = "democlaim") -> list[str]:
    path = folder.write(slug, text=text)
    with pytest.raises(CampaignConfigError) as caught:
        load_campaign_file(path, SCHEMAS)
    error = caught.value
    for problem in error.problems:
        assert problem.file == str(path)
    return [str(p) for p in error.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_good_file_is_valid(campaign_folder: CampaignFolder) -> None:
    loaded = load_campaign_file(campaign_folder.write("democlaim", text=GOOD), SCHEMAS)
    assert loaded.campaign.slug == "democlaim" and loaded.warnings == []


def test_yaml_syntax_error_names_the_line(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("status: open", "status: open\n  bad indent: [")
    [message] = problems_of(campaign_folder, text)
    assert "is not valid YAML" in message and "line " in message and "Traceback" not in message


def test_unknown_key_suggests_the_right_one(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("status: open", "stauts: open")
    messages = problems_of(campaign_folder, text)
    typo = next(m for m in messages if "stauts" in m)
    assert f"line {line_of(text, 'stauts')}" in typo
    assert "unknown key 'stauts'; did you mean 'status'?" in typo
    assert any("status: this field is required but missing" in m for m in messages)


def test_unknown_nested_key_names_the_field_path(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("  claim_amount: 500", "  claim_amunt: 500")
    [message] = problems_of(campaign_folder, text)
    assert f"line {line_of(text, 'claim_amunt')}: hero.claim_amunt: unknown key" in message
    assert "did you mean 'claim_amount'" in message


def test_missing_required_field(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(target_company=None)
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "target_company: this field is required but missing" in message


def test_wrong_status_value_lists_the_allowed_ones(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("status: open", "status: opne")
    [message] = problems_of(campaign_folder, text)
    assert f"line {line_of(text, 'status:')}: status:" in message
    assert "'pre-registration', 'open' or 'closed', got 'opne'" in message


def test_bad_date(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("opens: '2026-01-05'", "opens: 5 januari 2026")
    [message] = problems_of(campaign_folder, text)
    expected = "expected a date written as YYYY-MM-DD, or a date and time as YYYY-MM-DD HH:MM"
    assert f"opens: {expected}, got '5 januari 2026'" in message


def test_duplicate_key_is_an_error(campaign_folder: CampaignFolder) -> None:
    text = GOOD + "status: closed\n"
    messages = problems_of(campaign_folder, text)
    assert any(f"line {len(text.splitlines())}: status: this key is written twice" in m for m in messages)


def test_default_language_must_be_offered(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(languages=["en"], default_language="nl")
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "default_language 'nl' is not one of languages ['en']" in message


def test_slug_must_match_file_name(campaign_folder: CampaignFolder) -> None:
    messages = problems_of(campaign_folder, GOOD, slug="otherclaim")
    assert any("slug: the slug 'democlaim' must match the file name 'otherclaim.yaml'" in m for m in messages)


def test_bad_slug(campaign_folder: CampaignFolder) -> None:
    messages = problems_of(campaign_folder, GOOD.replace("slug: democlaim", "slug: Demo Claim"))
    assert any("expected a slug: 2-40 lowercase letters" in m for m in messages)


def test_unknown_plugin_suggests_installed_one(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("  faq:", "  faqs:")
    [message] = problems_of(campaign_folder, text)
    assert f"line {line_of(text, 'faqs:')}: plugins.faqs: unknown plugin 'faqs'; did you mean 'faq'?" in message
    assert "Installed plugins: breach_check, counter, data_request, faq" in message


def test_plugin_settings_are_validated_by_the_plugin(campaign_folder: CampaignFolder) -> None:
    data = campaign_data()
    del data["plugins"]["faq"]["items"][0]["answer"]
    text = yaml.safe_dump(data, sort_keys=False)
    [message] = problems_of(campaign_folder, text)
    assert "plugins.faq.items[0].answer: this field is required but missing" in message
    assert f"line {line_of(text, 'question:')}" in message


def test_plugin_settings_unknown_key(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("baseline: 1234", "basline: 1234")
    [message] = problems_of(campaign_folder, text)
    assert "plugins.counter.basline: unknown key 'basline'; did you mean 'baseline'?" in message


def test_bad_colour(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(theme_overrides={"colours": {"primary": "blue"}})
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "theme_overrides.colours.primary: expected a colour such as '#1a2b3c', got 'blue'" in message


def test_unknown_colour_name(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(theme_overrides={"colours": {"primray": "#000000"}})
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "theme_overrides.colours.primray" in message and "'primary'" in message


def test_text_in_a_language_the_campaign_does_not_offer(campaign_folder: CampaignFolder) -> None:
    data = campaign_data()
    data["hero"]["title"]["de"] = "Hast du Demo benutzt?"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    [message] = problems_of(campaign_folder, text)
    assert f"line {line_of(text, 'de: Hast')}: hero.title.de: 'de' is not one of this campaign's languages" in message


def test_plain_string_where_text_per_language_is_expected(campaign_folder: CampaignFolder) -> None:
    data = campaign_data()
    data["hero"]["title"] = "Heb je Demo gebruikt?"
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "hero.title: expected a mapping of keys to values" in message


def test_closed_campaign_needs_a_closed_message(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(status="closed")
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "a closed campaign needs a 'closed_message'" in message


def test_bad_url(campaign_folder: CampaignFolder) -> None:
    data = campaign_data()
    data["organisation"]["website"] = "somi.nl"
    [message] = problems_of(campaign_folder, yaml.safe_dump(data, sort_keys=False))
    assert "organisation.website: expected a web address starting with https://" in message


def test_empty_file(campaign_folder: CampaignFolder) -> None:
    [message] = problems_of(campaign_folder, "")
    assert "expected a mapping of campaign settings, got an empty file" in message


def test_top_level_list(campaign_folder: CampaignFolder) -> None:
    [message] = problems_of(campaign_folder, "- slug: democlaim\n")
    assert "expected a mapping of campaign settings, got a list" in message


def test_every_problem_of_a_file_is_reported_at_once(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("status: open", "status: opne").replace("  claim_amount: 500", "  claim_amount: -3")
    messages = problems_of(campaign_folder, text)
    assert len(messages) == 2


def registry_for(folder: CampaignFolder) -> CampaignRegistry:
    themes = Themes(REPO / "themes", folder.path)
    return CampaignRegistry(folder.path, lambda: SCHEMAS, themes)


def test_host_served_by_two_campaigns(campaign_folder: CampaignFolder) -> None:
    """Without a database nothing says which file had the address first (file order and times mean nothing), so
    the check tells both files; the running site keeps it with the one that serves it (tests/test_publishing.py)."""
    campaign_folder.write("democlaim")
    text = yaml.safe_dump(campaign_data(slug="second"), sort_keys=False)
    campaign_folder.write("second", text=text)
    snapshot = registry_for(campaign_folder).check()
    problems = {(Path(p.file).name, p.field): p for p in snapshot.errors}
    assert set(problems) == {(f, h) for f in ("democlaim.yaml", "second.yaml") for h in ("hosts[0]", "hosts[1]")}
    problem = problems[("second.yaml", "hosts[0]")]
    assert problem.line == line_of(text, "- democlaim.example")
    assert "'democlaim.example' is also named by democlaim.yaml" in problem.message
    assert "'democlaim.example' is also named by second.yaml" in problems[("democlaim.yaml", "hosts[0]")].message
    assert list(snapshot.campaigns) == []


def test_unknown_theme_and_sister(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(theme="fancy", sisters=[{"label": {"nl": "X"}, "campaign": "nosuch"}])
    campaign_folder.write("democlaim", data)
    messages = [str(p) for p in registry_for(campaign_folder).check().errors]
    assert any("theme: no theme 'fancy'" in m and "available: default, somi" in m for m in messages)
    assert any("sisters[0].campaign: no campaign 'nosuch'" in m for m in messages)


def test_missing_translation_warns_and_falls_back(campaign_folder: CampaignFolder, make_app) -> None:
    data = campaign_data()
    data["hero"]["title"] = {"nl": "Alleen Nederlands"}
    text = yaml.safe_dump(data, sort_keys=False)
    path = campaign_folder.write("democlaim", text=text)
    loaded = load_campaign_file(path, SCHEMAS)
    [warning] = loaded.warnings
    assert warning.field == "hero.title" and warning.line == line_of(text, "title:")
    assert "no en text; visitors will see the nl text instead" in warning.message
    app = make_app(campaigns_dir=campaign_folder.path)
    english = app.test_client().get("/en/", base_url="http://democlaim.example").get_data(as_text=True)
    assert "Alleen Nederlands" in english and "Yes, count me in." in english


def test_check_command_reports_errors_without_traceback(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim")
    campaign_folder.write("broken", text=GOOD.replace("slug: democlaim", "slug: broken").replace("hosts:", "hostz:"))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 1
    assert "broken.yaml, line" in result.output and "unknown key 'hostz'; did you mean 'hosts'?" in result.output
    assert "Traceback" not in result.output
    assert "1 campaign(s) valid, 1 error(s)" in result.output


def test_check_passes_on_shipped_campaigns() -> None:
    result = run_campaigns_command("check", campaigns_dir=REPO / "campaigns")
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_production_leaves_an_invalid_campaign_out_and_serves_the_others(
    campaign_folder: CampaignFolder, make_app, caplog: pytest.LogCaptureFixture
) -> None:
    campaign_folder.write("democlaim", text=GOOD.replace("status: open", "status: opne"))
    campaign_folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
    with caplog.at_level(logging.ERROR):
        app = make_app(
            env="production",
            campaigns_dir=campaign_folder.path,
            mail_url="smtp://127.0.0.1:1",
            sealing_public_key=PRODUCTION_PUBLIC_KEY,
        )
    assert any("democlaim.yaml" in r.getMessage() and "status: expected" in r.getMessage() for r in caplog.records)
    client = app.test_client()
    assert client.get("/en/", base_url="https://other.example").status_code == 200
    assert client.get("/en/", base_url="https://democlaim.example").status_code == 404


def test_new_writes_a_valid_commented_file_and_list_shows_it(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim")
    result = run_campaigns_command(
        "new", "metaclaim", "--host", "metaclaim.example", campaigns_dir=campaign_folder.path
    )
    assert result.exit_code == 0, result.output
    written = campaign_folder.path / "metaclaim.yaml"
    assert written.read_text().startswith("## Campaign file for metaclaim")
    load_campaign_file(written, SCHEMAS)
    again = run_campaigns_command("new", "metaclaim", campaigns_dir=campaign_folder.path)
    assert again.exit_code != 0 and "already exist" in again.output  # never overwrites
    listing = run_campaigns_command("list", campaigns_dir=campaign_folder.path).output
    assert "metaclaim" in listing and "pre-registration" in listing and "metaclaim.example" in listing
    assert "democlaim" in listing and "nl*,en" in listing


def test_new_refuses_a_bad_slug(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim")
    result = run_campaigns_command("new", "Bad_Slug", campaigns_dir=campaign_folder.path)
    assert result.exit_code != 0 and "nothing written" in result.output
    assert not (campaign_folder.path / "Bad_Slug.yaml").exists()


def test_shipped_campaign_files_have_no_warnings() -> None:
    for path in sorted((REPO / "campaigns").glob("*.yaml")):
        assert load_campaign_file(path, SCHEMAS).warnings == [], path


@pytest.mark.parametrize(
    "text",
    [
        textwrap.dedent("""\
    slug: democlaim
    hosts: [democlaim.example]
    status: open
    """)
    ],
)
def test_many_missing_fields_each_named(campaign_folder: CampaignFolder, text: str) -> None:
    messages = problems_of(campaign_folder, text)
    for name in ("name", "organisation", "target_company", "hero"):
        assert any(f"{name}: this field is required but missing" in m for m in messages)
    assert all(Path(m.split(",")[0]).name == "democlaim.yaml" for m in messages)


def test_a_broken_file_never_takes_its_sister_campaigns_down(campaign_folder: CampaignFolder, make_app) -> None:  # type: ignore[no-untyped-def]
    campaign_folder.copy_shipped()
    tiktok = campaign_folder.path / "tiktokclaim.yaml"
    tiktok.write_text(tiktok.read_text().replace("status: open", "status: opn", 1))
    app = make_app(env="development", campaigns_dir=campaign_folder.path)
    snapshot = app.extensions["claimsite"].registry.snapshot
    assert [problem.field for problem in snapshot.errors] == ["status"]  # only the broken file's own error
    assert "tiktokclaim" not in snapshot.campaigns and "facebookleak" in snapshot.campaigns
    page = app.test_client().get("/en/", base_url="http://facebookleak.localhost:5000")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "zoomclaim.localhost" in html and "tiktokclaim.localhost" not in html
