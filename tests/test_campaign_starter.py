"""``flask campaigns new``: a commented campaign file with a sign-up section, valid as written and with each of its
commented examples used, and its agreement texts in both languages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from core.campaigns import load_campaign_file
from core.campaigns.starter import STARTER
from core.plugins import PluginHost
from core.signup.agreements import CAMPAIGN_PLACEHOLDERS, PARTICIPANT_PLACEHOLDERS, agreement_text
from tests.conftest import REPO, CampaignFolder, run_campaigns_command

SCHEMAS = PluginHost().settings_schemas
EXAMPLE = re.compile(r"^(?P<indent> *)# ")  # '# ' starts an example; '##' explains (the starter's first lines say so)


def new_campaign(folder: CampaignFolder, *args: str) -> Path:
    result = run_campaigns_command("new", "metaclaim", *args, campaigns_dir=folder.path)
    assert result.exit_code == 0, result.output
    return folder.path / "metaclaim.yaml"


def example_blocks(lines: list[str]) -> list[tuple[int, list[int]]]:
    """Each run of example lines commented at one column, as (column, line numbers)."""
    blocks: list[tuple[int, list[int]]] = []
    for number, line in enumerate(lines):
        match = EXAMPLE.match(line)
        if match is None:
            continue
        column = len(match["indent"])
        if blocks and blocks[-1][0] == column and blocks[-1][1][-1] == number - 1:
            blocks[-1][1].append(number)
        else:
            blocks.append((column, [number]))
    return blocks


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_new_writes_the_campaign_and_its_agreements_in_both_languages(campaign_folder: CampaignFolder) -> None:
    shutil.copytree(REPO / "campaigns" / "_shared", campaign_folder.path / "_shared")  # the privacy and terms pages
    path = new_campaign(campaign_folder, "--host", "metaclaim.eu")
    agreements = campaign_folder.path / "metaclaim" / "agreements"
    assert sorted(p.name for p in agreements.iterdir()) == ["mandate.1.en.md", "mandate.1.nl.md"]
    loaded = load_campaign_file(path, SCHEMAS)
    assert loaded.warnings == [] and loaded.campaign.hosts == ["metaclaim.eu"]
    assert loaded.campaign.signup is not None and [a.id for a in loaded.campaign.signup.agreements] == ["mandate"]
    draft = run_campaigns_command("check", "--production", campaigns_dir=campaign_folder.path)
    assert draft.exit_code == 1 and "mandate.1.nl.md is not in agreements/SHA256SUMS" in draft.output  # a draft
    assert (
        "metaclaim/agreements/mandate.1.en.md"
        in run_campaigns_command("lock", campaigns_dir=campaign_folder.path).output
    )
    assert sorted(p.name for p in agreements.iterdir()) == ["SHA256SUMS", "mandate.1.en.md", "mandate.1.nl.md"]
    result = run_campaigns_command("check", "--production", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0, result.output
    assert "1 campaign(s) valid, 0 error(s), 0 warning(s) (production's rules)" in result.output


def test_each_commented_example_is_valid_once_uncommented(campaign_folder: CampaignFolder) -> None:
    path = new_campaign(campaign_folder)
    written = path.read_text(encoding="utf-8")
    lines = written.splitlines()
    comments = [line.strip() for line in lines if line.strip().startswith("#")]
    assert all(line.startswith(("## ", "# ")) or line == "##" for line in comments), (
        "an example or note of another kind"
    )
    blocks = example_blocks(lines)
    assert len(blocks) >= 15  # the sign-up section's among them
    used = set()
    for column, numbers in blocks:
        changed = list(lines)
        for number in numbers:
            changed[number] = lines[number][:column] + lines[number][column + 2 :]
        path.write_text("\n".join(changed) + "\n", encoding="utf-8")
        block = "\n".join(lines[n] for n in numbers)
        loaded = load_campaign_file(path, SCHEMAS)  # raises, naming file, line and field, when an example is broken
        assert loaded.warnings == [], block
        used.update(loaded.campaign.model_dump(exclude_defaults=True))
        used.update(f"plugins.{name}" for name in loaded.plugin_settings)
    assert {"paths", "closed_message", "reasons", "about", "sisters", "theme_overrides"} <= used
    assert {"plugins.no_cure_no_pay", "plugins.subscription", "plugins.free"} <= used


def test_the_agreement_texts_fill_in_every_placeholder(campaign_folder: CampaignFolder) -> None:
    loaded = load_campaign_file(new_campaign(campaign_folder), SCHEMAS)
    assert loaded.campaign.signup is not None
    [agreement] = loaded.campaign.signup.agreements
    for language, campaign_name in (("nl", "Nieuwe claim"), ("en", "New claim")):
        text = agreement_text(campaign_folder.path, loaded, agreement, language, participant="Anna *de* Vries").text
        assert text.count("Anna \\*de\\* Vries") == 1 and "SOMI" in text and "Example Corp" in text
        assert campaign_name in text and "{" not in text
        for_a_child = agreement_text(campaign_folder.path, loaded, agreement, language, participant="Anna", child="Bo")
        assert "**Bo**" in for_a_child.text and "**Bo**" not in text


def test_readme_lists_every_agreement_placeholder() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^ *\| `\{\{ (\w+) \}\}` \|", readme, re.MULTILINE)
    assert sorted(listed) == sorted([*CAMPAIGN_PLACEHOLDERS, *PARTICIPANT_PLACEHOLDERS])
    used = {
        name
        for path in (STARTER / "agreements").iterdir()
        for name in re.findall(r"\{\{ (\w+) \}\}", path.read_text(encoding="utf-8"))
    }
    # The starter is a claim: every placeholder but the data request's companies (a claim's is its target company).
    assert used == set(listed) - {"companies"}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (("Bad_Slug",), "is not a slug"),
        (("../escape",), "is not a slug"),
        (("metaclaim", "--host", "not a host"), "hosts[0]: expected a host name"),
    ],
)
def test_new_that_fails_leaves_nothing_behind(
    campaign_folder: CampaignFolder, arguments: tuple[str, ...], said: str
) -> None:
    campaign_folder.write("democlaim")
    before = tree(campaign_folder.path.parent)
    result = run_campaigns_command("new", *arguments, campaigns_dir=campaign_folder.path)
    assert result.exit_code == 1 and said in result.output and "nothing written" in result.output
    assert tree(campaign_folder.path.parent) == before


def test_new_never_overwrites_an_agreement_text(campaign_folder: CampaignFolder) -> None:
    existing = campaign_folder.path / "metaclaim" / "agreements" / "mandate.1.en.md"
    existing.parent.mkdir(parents=True)
    existing.write_text("Our own text.\n", encoding="utf-8")
    result = run_campaigns_command("new", "metaclaim", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 1 and f"{existing} already exists" in result.output
    assert existing.read_text(encoding="utf-8") == "Our own text.\n"
    assert sorted(p.name for p in existing.parent.iterdir()) == ["mandate.1.en.md"]
    assert not (campaign_folder.path / "metaclaim.yaml").exists()
