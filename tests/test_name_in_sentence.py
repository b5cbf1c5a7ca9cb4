"""Issue 17, item 4: a sentence names a campaign the way its file says ("Je doet mee aan het Datalek"), or with a
phrase that reads right for any name; ``flask campaigns check`` shows every such sentence for review."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask

from core.campaigns.naming import NAME_SENTENCES
from core.jobs.mail import compose
from tests.conftest import REPO, CampaignFolder, campaign_data, run_campaigns_command

LEAK = "https://lekclaim.example"
DEMO = "https://democlaim.example"


def write_campaigns(folder: CampaignFolder) -> None:
    """lekclaim says how it is named in a sentence in both languages; democlaim only in Dutch."""
    folder.write(
        "lekclaim",
        campaign_data(
            slug="lekclaim",
            hosts=["lekclaim.example"],
            name={"nl": "Datalek", "en": "Data leak"},
            name_in_sentence={"nl": "het Datalek", "en": "the data leak campaign"},
        ),
    )
    folder.write("democlaim", campaign_data(name_in_sentence={"nl": "de Democlaim"}))
    shared = folder.path / "_shared" / "pages"
    shared.mkdir(parents=True)
    for language in ("nl", "en"):
        (shared / f"privacy.{language}.md").write_text("# Privacy\n", encoding="utf-8")


@pytest.fixture
def naming_app(campaign_folder: CampaignFolder, make_app: Callable[..., Flask]) -> Flask:
    write_campaigns(campaign_folder)
    return make_app(campaigns_dir=campaign_folder.path)


def test_every_sentence_naming_a_campaign_is_listed_for_the_check_and_translated() -> None:
    """The check shows the sentences of NAME_SENTENCES: a new UI string that names a campaign must be added there
    (and one that went must leave), and each has its Dutch text."""
    with (REPO / "translations" / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    naming = {
        m.id for m in template if isinstance(m.id, str) and ("%(campaign)s" in m.id or "%(campaign_name)s" in m.id)
    }
    assert naming == set(NAME_SENTENCES)
    with (REPO / "translations" / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        dutch = {m.id: m.string for m in read_po(po, locale="nl")}
    for msgid in NAME_SENTENCES:
        assert dutch[msgid] and dutch[msgid] != msgid, msgid
    assert dutch["the ‘%(name)s’ campaign"] == "de actie ‘%(name)s’"


def test_a_page_names_the_campaign_as_its_file_says_in_both_languages(naming_app: Flask) -> None:
    client = naming_app.test_client()
    assert "Terug naar het Datalek" in client.get("/privacy", base_url=LEAK).get_data(as_text=True)
    assert "Back to the data leak campaign" in client.get("/en/privacy", base_url=LEAK).get_data(as_text=True)
    # Footer: the name as a title, which reads right whatever it is.
    assert "Datalek: een actie van SOMI." in client.get("/", base_url=LEAK).get_data(as_text=True)


def test_without_a_phrase_in_a_language_the_generic_one_is_used_never_another_languages(naming_app: Flask) -> None:
    client = naming_app.test_client()
    assert "Terug naar de Democlaim" in client.get("/privacy", base_url=DEMO).get_data(as_text=True)
    english = client.get("/en/privacy", base_url=DEMO).get_data(as_text=True)
    assert "Back to the ‘Demo claim’ campaign" in english and "de Democlaim" not in english


@pytest.mark.parametrize(
    ("slug", "language", "subject", "sentence"),
    [
        ("lekclaim", "nl", "Je doet mee aan het Datalek", "Je doet mee aan het Datalek: bedankt!"),
        ("lekclaim", "en", "You have joined the data leak campaign", "You have joined the data leak campaign: thank"),
        ("democlaim", "en", "You have joined the ‘Demo claim’ campaign", "Demo claim: a campaign by SOMI."),
    ],
)
def test_a_mail_names_the_campaign_as_its_file_says(
    naming_app: Flask, slug: str, language: str, subject: str, sentence: str
) -> None:
    with naming_app.app_context():
        loaded = naming_app.extensions["claimsite"].registry.snapshot.campaigns[slug]
        context = {"name": "Jan", "mandate_url": "https://x.example/m.pdf", "next_steps": "", "fee_summary": ""}
        message = compose(
            loaded=loaded, language=language, to="jan@example.org", template="confirmation", context=context
        )
    assert message["Subject"] == subject
    text = message.get_body(("plain",))
    assert text is not None and sentence in text.get_content()


def test_the_check_lists_each_sentence_naming_a_campaign_per_language(campaign_folder: CampaignFolder) -> None:
    write_campaigns(campaign_folder)
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def sentences(slug: str, language: str) -> list[str]:
        start = lines.index(f"  {slug} ({language}):") + 1
        end = next((i for i in range(start, len(lines)) if not lines[i].startswith("    ")), len(lines))
        return [line.strip() for line in lines[start:end]]

    for slug, language in (("lekclaim", "nl"), ("lekclaim", "en"), ("democlaim", "nl"), ("democlaim", "en")):
        assert len(sentences(slug, language)) == len(NAME_SENTENCES)
    assert "Gelukt: je doet nu mee aan het Datalek." in sentences("lekclaim", "nl")
    assert "Your login link for the data leak campaign" in sentences("lekclaim", "en")
    assert "Datalek: een actie van SOMI." in sentences("lekclaim", "nl")
    assert "Je inloglink voor de Democlaim" in sentences("democlaim", "nl")
    assert "Withdraw from the ‘Demo claim’ campaign?" in sentences("democlaim", "en")
    assert lines[-1].startswith("2 campaign(s) valid, 0 error(s)")
    quiet = run_campaigns_command("check", "--no-sentences", campaigns_dir=campaign_folder.path)
    assert "Datalek" not in quiet.output and quiet.output.splitlines()[-1] == lines[-1]


def test_the_shipped_campaigns_each_say_how_they_are_named_in_both_languages() -> None:
    result = run_campaigns_command("check", campaigns_dir=REPO / "campaigns")
    for slug in ("tiktokclaim", "zoomclaim", "palantirclaim", "facebookleak", "alledata"):
        assert f"  {slug} (nl):" in result.output and f"  {slug} (en):" in result.output
    assert "Je doet mee aan de actie rond het Facebook-datalek" in result.output
    assert "You have joined the Facebook data leak campaign" in result.output
    assert "‘Facebook-datalek’" not in result.output and "de Facebook-datalek" not in result.output


def test_name_in_sentence_missing_a_language_is_a_warning(campaign_folder: CampaignFolder, tmp_path: Path) -> None:
    campaign_folder.write("democlaim", campaign_data(name_in_sentence={"nl": "de Democlaim"}))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert "name_in_sentence: no en text" in result.output
