"""No traceback from content: every value in a campaign file, agreement text or page that once made a Python error
(at load time or when a page was rendered) now gets the loader's message, with the file, the line and the field.
tests/test_loader_fuzz.py looks for more of them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from flask import Flask

from core.campaigns import CampaignConfigError, ConfigProblem, load_campaign_file
from core.plugins import PluginHost
from tests.conftest import CampaignFolder, campaign_data, run_campaigns_command

SCHEMAS = PluginHost().settings_schemas
GOOD = yaml.safe_dump(campaign_data(), allow_unicode=True, sort_keys=False)


def problems(folder: CampaignFolder, text: str | None = None, raw: bytes | None = None) -> list[ConfigProblem]:
    path = folder.write("democlaim", text=text if text is not None else GOOD)
    if raw is not None:
        path.write_bytes(raw)
    with pytest.raises(CampaignConfigError) as caught:
        load_campaign_file(path, SCHEMAS)
    assert "Traceback" not in str(caught.value)
    return caught.value.problems


def only(found: list[ConfigProblem]) -> ConfigProblem:
    assert len(found) == 1, found
    return found[0]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("2026-02-30", "day is out of range for month"),
        ("2026-13-01", "month must be in 1..12"),
        ("2026-01-05 25:00:00", "hour must be in 0..23"),
        ("2026-01-05 10:00:00 +25:00", "offset must be a timedelta strictly between"),
    ],
)
def test_a_date_that_does_not_exist_is_named_on_its_line(
    campaign_folder: CampaignFolder, value: str, detail: str
) -> None:
    text = GOOD.replace("opens: '2026-01-05'", f"opens: {value}")
    problem = only(problems(campaign_folder, text))
    assert (problem.line, problem.field) == (line_of(text, "opens:"), "opens")
    assert problem.message.startswith(f"'{value}' is not a date (or date and time) that exists ({detail}")
    assert "put it in quotes if it is meant as text" in problem.message


def test_a_date_that_does_not_exist_deep_in_plugin_settings(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("since: '2020-04-10'", "since:\n      2020-02-30")
    problem = only(problems(campaign_folder, text))
    assert (problem.line, problem.field) == (line_of(text, "2020-02-30"), "plugins.counter.since")  # the value's line


def test_the_check_command_names_an_impossible_date_without_a_traceback(
    campaign_folder: CampaignFolder, make_app: Callable[..., Flask]
) -> None:
    campaign_folder.write("democlaim")
    app = make_app(env="development", campaigns_dir=campaign_folder.path)
    other = yaml.safe_dump(campaign_data(slug="other", hosts=["other.example"]), sort_keys=False)
    other = other.replace("opens: '2026-01-05'", "opens: 2026-02-30")
    campaign_folder.write("other", text=other)
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"other.yaml, line {line_of(other, 'opens:')}: opens: '2026-02-30' is not a date" in result.output
    assert "1 campaign(s) valid, 1 error(s)" in result.output
    page = app.test_client().get("/en/", base_url="http://democlaim.localhost:5000")
    assert page.status_code == 200  # and the other campaigns are served


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "cannot be read as a whole number (Exceeds the limit (4300 digits)"),
        ("!!int abc", "'abc' cannot be read as a whole number"),
        ("!!float abc", "'abc' cannot be read as a number"),
        ("!!bool maybe", "'maybe' cannot be read as true or false"),
        ("!!timestamp never", "'never' is not a date (or date and time) that exists"),
    ],
)
def test_a_value_its_tag_cannot_make(campaign_folder: CampaignFolder, value: str, message: str) -> None:
    text = GOOD.replace("baseline: 1234", f"baseline: {value}")
    problem = only(problems(campaign_folder, text))
    assert (problem.line, problem.field) == (line_of(text, "baseline:"), "plugins.counter.baseline")
    assert message in problem.message and len(problem.message) < 300


@pytest.mark.parametrize(
    ("key", "read_as"),
    [
        ("1", "a number"),
        ("null", "nothing (an empty key, ~ or null)"),
        ("~", "nothing (an empty key, ~ or null)"),
        ("no", "true or false (YAML reads yes/no/on/off/true/false so)"),
        ("2026-01-01", "a date"),
    ],
)
def test_a_key_that_is_no_name(campaign_folder: CampaignFolder, key: str, read_as: str) -> None:
    text = GOOD.replace("  en: Demo claim", f"  en: Demo claim\n  {key}: Navn")
    problem = only(problems(campaign_folder, text))
    assert (problem.line, problem.field) == (line_of(text, "Navn"), f"name.{key}")
    assert f"the key '{key}' is read as {read_as}, not as a name; put it in quotes" in problem.message


def test_a_key_that_is_a_list(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("status: open", "status: open\n? [a, b]\n: c")
    problem = only(problems(campaign_folder, text))
    assert problem.line == line_of(text, "[a, b]")
    assert problem.message.startswith("a key must be a name, not a list or a mapping")


def test_an_alias_inside_itself(campaign_folder: CampaignFolder) -> None:
    text = GOOD.replace("hosts:", "hosts: &hosts\n- *hosts\nold_hosts:", 1)
    problem = only(problems(campaign_folder, text))
    # An alias has no line of its own in YAML's node tree: the line is the anchor's, the field the alias's.
    assert (problem.line, problem.field) == (line_of(text, "&hosts"), "hosts[0]")
    assert "refers to the structure it is part of" in problem.message


def test_aliases_that_repeat_out_to_billions_are_refused_at_once(campaign_folder: CampaignFolder) -> None:
    laughs = "".join(f"- &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 10))
    text = GOOD.replace("hosts:\n", "hosts:\n- &l0 [lol]\n" + laughs, 1)
    started = time.perf_counter()
    problem = only(problems(campaign_folder, text))
    assert time.perf_counter() - started < 2
    assert problem.field.startswith("hosts[") and "more than 100,000 values once its aliases" in problem.message
    assert problem.line == line_of(text, "&l") + int(problem.field[6:-1])


@pytest.mark.parametrize("depth", [60, 999, 5000])
def test_deep_nesting(campaign_folder: CampaignFolder, depth: int) -> None:
    text = GOOD.replace("status: open", f"status: {'[' * depth}{']' * depth}")
    problem = only(problems(campaign_folder, text))
    assert problem.line == line_of(text, "status: [")
    assert "nested more than 50 levels deep" in problem.message or "exceeded maximum nesting depth" in problem.message


def test_aliases_and_merge_keys_are_yaml_like_any_other(campaign_folder: CampaignFolder) -> None:
    data = campaign_data()
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).replace(
        "hero:\n  title:", "hero:\n  call_to_action: &cta\n    nl: Doe mee\n    en: Join\n  title:"
    )
    text = text.replace(
        "  call_to_action:\n    nl: Ja, ik doe mee.\n    en: Yes, count me in.\n", "  <<: {subtitle: *cta}\n"
    )
    text = text.replace("organisation:\n", "organisation:\n  <<: {name: Other, chamber_of_commerce: '1'}\n", 1)
    loaded = load_campaign_file(campaign_folder.write("democlaim", text=text), SCHEMAS)
    hero = loaded.campaign.hero
    assert hero.call_to_action == {"nl": "Doe mee", "en": "Join"} == hero.subtitle
    assert loaded.campaign.organisation.name == "SOMI"  # a key of its own overrides a merged one: no duplicate
    assert loaded.campaign.organisation.chamber_of_commerce == "1"


@pytest.mark.parametrize(("character", "code"), [("\x00", "U+0000"), ("\x07", "U+0007"), ("\x1b", "U+001B")])
def test_a_character_yaml_does_not_allow(campaign_folder: CampaignFolder, character: str, code: str) -> None:
    text = GOOD.replace("target_company: Demo Corp", f"target_company: Demo{character}Corp")
    problem = only(problems(campaign_folder, text))
    assert problem.line == line_of(text, "target_company:")
    assert f"holds the character {code}, which a YAML file may not hold; delete it" == problem.message


def test_a_campaign_file_that_is_not_utf8(campaign_folder: CampaignFolder) -> None:
    raw = GOOD.replace("Demo Corp", "Démo Corp").encode("cp1252")
    problem = only(problems(campaign_folder, raw=raw))
    assert problem.line == line_of(GOOD, "Demo Corp")
    assert problem.message == "is not UTF-8 text (byte 0xe9 on this line); save the file as UTF-8"


def test_an_unknown_language_code(campaign_folder: CampaignFolder) -> None:
    text = yaml.safe_dump(campaign_data(languages=["nl", "en", "xx"]), sort_keys=False)
    problem = only(problems(campaign_folder, text))
    assert (problem.line, problem.field) == (line_of(text, "- xx"), "languages[2]")
    assert "'xx' is not a language code Babel knows" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("claim_amount: 500", f"claim_amount: {10**30}", "hero.claim_amount"),
        ("baseline: 1234", f"baseline: {10**30}", "plugins.counter.baseline"),
    ],
)
def test_a_number_too_large_for_its_page(campaign_folder: CampaignFolder, old: str, new: str, field: str) -> None:
    problem = only(problems(campaign_folder, GOOD.replace(old, new)))
    assert problem.field == field and "less than or equal to 1000000000" in problem.message
    assert len(problem.message) < 200  # the number is quoted, cut short


# -- agreement texts and pages --------------------------------------------------------------------------------
def with_agreement(folder: CampaignFolder, nl: str | bytes, en: str = "Mandate for {{ participant }}.") -> Path:
    """The minimal campaign with a sign-up whose one agreement has ``nl`` and ``en`` as its texts."""
    agreements = folder.path / "democlaim" / "agreements"
    agreements.mkdir(parents=True, exist_ok=True)
    dutch = agreements / "mandate.1.nl.md"
    dutch.write_bytes(nl if isinstance(nl, bytes) else nl.encode("utf-8"))
    (agreements / "mandate.1.en.md").write_text(en, encoding="utf-8")
    signup = {"agreements": [{"id": "mandate", "version": "1", "title": {"nl": "Machtiging", "en": "Mandate"}}]}
    folder.write("democlaim", campaign_data(signup=signup))
    return dutch


def agreement_problems(folder: CampaignFolder, nl: str | bytes) -> list[ConfigProblem]:
    dutch = with_agreement(folder, nl)
    with pytest.raises(CampaignConfigError) as caught:
        load_campaign_file(folder.path / "democlaim.yaml", SCHEMAS)
    assert all(problem.file == str(dutch) for problem in caught.value.problems)
    return caught.value.problems


def test_a_good_agreement_text_loads(campaign_folder: CampaignFolder) -> None:
    with_agreement(campaign_folder, "Ik, {{ participant }}{% if child %} voor {{ child }}{% endif %}, {{ campaign }}.")
    assert load_campaign_file(campaign_folder.path / "democlaim.yaml", SCHEMAS).warnings == []


def test_a_placeholder_that_does_not_exist(campaign_folder: CampaignFolder) -> None:
    problem = only(
        agreement_problems(campaign_folder, "Machtiging\n\nIk machtig {{ organisation }}\nvoor {{ campain }}.")
    )
    assert (problem.line, problem.field) == (4, "campain")
    assert problem.message.startswith("no placeholder 'campain'; the placeholders are campaign, organisation")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Ik\n{{ campaign\nen meer", 3, "is not a valid template: expected token 'end of print statement'"),
        ("Ik\n\n{% if child %}voor {{ child }}", 3, "is not a valid template: Unexpected end of template"),
        ("Ik {{ campaign | nosuchfilter }}", 1, "is not a valid template: No filter named 'nosuchfilter'"),
        ("Ik\n{{ campaign.name.first }}", 2, "cannot be filled in: 'str object' has no attribute 'name'"),
        ("Ik\n\n{{ campaign.__class__.__mro__ }}", 3, "cannot be filled in: access to attribute '__class__'"),
    ],
)
def test_a_malformed_agreement_text(campaign_folder: CampaignFolder, text: str, line: int, message: str) -> None:
    problem = only(agreement_problems(campaign_folder, text))
    assert problem.line == line and problem.message.startswith(message), problem


def test_an_agreement_text_that_is_not_utf8(campaign_folder: CampaignFolder) -> None:
    problem = only(agreement_problems(campaign_folder, b"Ik\nverklaar " + "dat ik één".encode("latin-1")))
    assert problem.line == 2 and "is not UTF-8 text (byte 0xe9" in problem.message


def test_a_placeholder_with_single_braces_is_a_warning(campaign_folder: CampaignFolder) -> None:
    with_agreement(campaign_folder, "Ik machtig\n{organisation} voor { campaign }.")
    [first, second] = load_campaign_file(campaign_folder.path / "democlaim.yaml", SCHEMAS).warnings
    assert (first.line, first.field) == (2, "organisation")
    assert first.message == "'{organisation}' is shown as written; a placeholder is written {{ organisation }}"
    assert second.field == "campaign"


def test_a_page_that_is_not_utf8(campaign_folder: CampaignFolder) -> None:
    pages = campaign_folder.path / "_shared" / "pages"
    pages.mkdir(parents=True)
    (pages / "privacy.nl.md").write_text("# Privacy\n", encoding="utf-8")
    (pages / "privacy.en.md").write_bytes(b"# Privacy\n\nWe \x93care\x94.\n")
    problem = only(problems(campaign_folder))
    assert (problem.file, problem.line) == (str(pages / "privacy.en.md"), 3)
    assert problem.message == "is not UTF-8 text (byte 0x93 on this line); save the file as UTF-8"
