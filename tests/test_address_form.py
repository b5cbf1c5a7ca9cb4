"""One form of address per campaign (``address_form: je | u``): the formal catalog is complete, a "u" campaign's
pages and mails say "u" while a "je" campaign's say "je", and ``flask campaigns check`` warns about a campaign's own
Dutch text in the other form."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from core.campaigns.address_forms import other_form_words
from core.jobs.queue import Worker
from tests.conftest import REPO, CampaignFolder, campaign_data, run_campaigns_command

CATALOGS = REPO / "translations" / "nl" / "LC_MESSAGES"
INFORMAL = re.compile(r"\b(je|jij|jou|jouw|jezelf)\b", re.IGNORECASE)
FACEBOOK = "https://facebookleak.somi.nl"  # address_form: u
TIKTOK = "https://tiktokclaim.org"  # address_form: je (the default)


def texts(message: Any) -> str:
    return " ".join(message.string) if isinstance(message.string, tuple) else message.string


def read(name: str) -> Any:
    with (CATALOGS / name).open("rb") as f:
        return read_po(f)


def test_every_dutch_string_that_says_je_has_its_u_form() -> None:
    usual, formal = read("messages.po"), read("formal.po")
    informal = {m.id for m in usual if m.id and INFORMAL.search(texts(m))}
    in_formal = {m.id for m in formal if m.id}
    assert sorted(map(str, informal - in_formal)) == [], "add their u form to translations/nl/LC_MESSAGES/formal.po"
    assert sorted(map(str, in_formal - informal)) == [], "formal.po has strings that do not say je (or are gone)"
    for message in formal:
        if message.id:
            assert message.string and all(message.string) and not message.fuzzy, message.id
            assert not INFORMAL.search(texts(message)), message.id  # the u form says no je
    assert [(m.id, errors) for m, errors in formal.check()] == []  # placeholders as in the msgid
    assert (CATALOGS / "formal.mo").is_file(), "run `make i18n-compile`"


def csrf(client: FlaskClient, base: str, path: str) -> str:
    html = client.get(path, base_url=base).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def outbox(app: Flask) -> list[Path]:
    folder = app.extensions["claimsite"].settings.instance_dir / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def deliver(app: Flask) -> list[Any]:
    before = set(outbox(app))
    while Worker(app).run_once():
        pass
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in outbox(app) if p not in before
    ]


FORM = {"name": "Anna de Vries", "email": "anna@example.org", "country": "NL", "birth_date": "1990-05-01"}


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    ("base", "says", "never"),
    [
        (FACEBOOK, ["Land waar u woont", "Vul uw volledige naam in.", "Wij respecteren uw privacy"], "je"),
        (TIKTOK, ["Land waar je woont", "Vul je volledige naam in.", "Wij respecteren je privacy"], "u"),
    ],
)
def test_each_campaign_addresses_the_visitor_in_its_own_form(
    db_app: Flask, base: str, says: list[str], never: str
) -> None:
    client = db_app.test_client()
    html = client.post(
        "/join", data={**FORM, "name": "", "csrf_token": csrf(client, base, "/join")}, base_url=base
    ).get_data(as_text=True)
    for text in says:
        assert text in html
    if never == "je":
        assert "Vul je" not in html and "waar je woont" not in html
    # The English pages are the same for both.
    english = client.get("/en/join", base_url=base).get_data(as_text=True)
    assert "Country where you live" in english


@pytest.mark.databases("sqlite")
def test_a_u_campaigns_mails_say_u(db_app: Flask) -> None:
    """The mails are made by the worker, outside any request: the job's campaign decides."""
    client = db_app.test_client()
    sent = client.post("/join", data={**FORM, "csrf_token": csrf(client, FACEBOOK, "/join")}, base_url=FACEBOOK)
    assert sent.status_code == 302
    tiktok = db_app.test_client()
    tiktok_form = {**FORM, "street": "Kerkstraat 1", "postcode": "1234 AB", "city": "Utrecht", "for_whom": "self"}
    tiktok.post("/join", data={**tiktok_form, "csrf_token": csrf(tiktok, TIKTOK, "/join")}, base_url=TIKTOK)
    mails = {m["Subject"].split(" voor ")[1]: m for m in deliver(db_app)}
    formal, informal = mails["de actie rond het Facebook-datalek"], mails["de TikTok Claim"]
    assert re.fullmatch(r"\d{6} is uw verificatiecode", formal["Subject"].split(" voor ")[0])
    body = formal.get_body(("plain",)).get_content()
    assert "Uw verificatiecode voor" in body and "Hebt u deze code niet aangevraagd?" in body
    assert other_form_words(body, "u") == []
    assert re.fullmatch(r"\d{6} is je verificatiecode", informal["Subject"].split(" voor ")[0])
    assert "Heb je deze code niet aangevraagd?" in informal.get_body(("plain",)).get_content()


def test_campaigns_check_warns_about_a_text_in_the_other_form(campaign_folder: CampaignFolder) -> None:
    data = campaign_data(address_form="u")
    data["hero"]["title"] = {"nl": "Hebt u Demo gebruikt?", "en": "Have you used Demo?"}
    data["hero"]["bullets"] = [{"nl": "Samen met jou sterker.", "en": "Stronger with you."}]
    path = campaign_folder.write("democlaim", data)
    (campaign_folder.path / "democlaim" / "pages").mkdir(parents=True)
    (campaign_folder.path / "democlaim" / "pages" / "privacy.nl.md").write_text(
        "# Privacy\n\nWij gebruiken uw gegevens.\nJe kunt ons mailen.\n", encoding="utf-8"
    )
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    warnings = [line for line in result.output.splitlines() if "address_form" in line]
    assert len(warnings) == 2, result.output
    assert (
        warnings[0].startswith(f"warning: {path}, line ")
        and "hero.bullets[0].nl: this Dutch text says 'jou'" in (warnings[0])
    )
    assert "the campaign's address_form is 'u'" in warnings[0]
    assert warnings[1].startswith(f"warning: {campaign_folder.path / 'democlaim' / 'pages' / 'privacy.nl.md'}, line 4:")
    assert "says 'je'" in warnings[1]
    assert result.exit_code == 0  # a warning, not an error

    informal = campaign_data()  # address_form: je by default; the title says "u"
    informal["hero"]["title"] = {"nl": "Hebt u Demo gebruikt?", "en": "Have you used Demo?"}
    campaign_folder.write("democlaim", informal)
    (campaign_folder.path / "democlaim" / "pages" / "privacy.nl.md").unlink()
    output = run_campaigns_command("check", campaigns_dir=campaign_folder.path).output
    assert "hero.title.nl: this Dutch text says 'u' (u), but the campaign's address_form is 'je'" in output


def test_a_misspelt_address_form_is_refused(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim", campaign_data(address_form="U"))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 1 and "address_form" in result.output
