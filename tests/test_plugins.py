"""Plugins: discovered through entry points, enabled per campaign, every hook documented and tested."""

from __future__ import annotations

import importlib
import inspect
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest

from core import hookspecs
from core.plugins import ENTRY_POINT_GROUP, PluginHost
from tests.conftest import REPO, CampaignFolder, campaign_data

RECORDER = '''\
"""A third-party plugin, installed like any package: it records every call it gets."""
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from core.plugins import hookimpl
from core.campaigns.sections import Section

CALLS = []


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    banner: str


@hookimpl
def claimsite_settings_schema():
    return Settings


@hookimpl
def claimsite_template_dirs():
    return [Path(__file__).parent / "recorder_templates"]


@hookimpl
def claimsite_page_sections(campaign, language):
    CALLS.append(("sections", campaign.slug, language))
    return [Section("banner", 15, "sections/banner.html", campaign.settings_for("recorder"))]


@hookimpl
def claimsite_template_context(campaign, language):
    CALLS.append(("context", campaign.slug, language))
    return {"recorder_seen": True}


@hookimpl
def claimsite_signup_fields(campaign, language):
    from wtforms import StringField

    CALLS.append(("signup_fields", campaign.slug, language))
    return {"recorder_referral": StringField("How did you hear of us?")}


@hookimpl
def claimsite_register_commands(cli):
    @cli.command("recorder-hello")
    def hello():
        print("hello from a plugin command")
'''


def install_plugin(site_dir: Path, module: str, source: str, name: str = "recorder") -> None:
    """Install ``module`` as a distribution with an entry point, the way pip would."""
    (site_dir / f"{module}.py").write_text(source)
    dist = site_dir / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {module}\n")


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    install_plugin(site_dir, "claimsite_recorder", RECORDER)
    templates = site_dir / "recorder_templates" / "sections"
    templates.mkdir(parents=True)
    (templates / "banner.html").write_text('<p class="banner">{{ section.banner }}</p>\n')
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()
    yield importlib.import_module("claimsite_recorder")
    sys.modules.pop("claimsite_recorder", None)


def test_builtin_plugins_come_from_the_entry_point_group() -> None:
    host = PluginHost()
    assert {"faq", "news", "timeline", "counter", "testimonials"} <= set(host.names)
    distributions = {plugin.__name__: dist.project_name for plugin, dist in host.pm.list_plugin_distinfo()}
    assert distributions["plugins.faq"] == "claimsite"


def test_third_party_plugin_runs_only_where_enabled(recorder, campaign_folder: CampaignFolder, make_app) -> None:
    data = campaign_data()
    data["plugins"]["recorder"] = {"banner": "Hello from a plugin"}
    campaign_folder.write("democlaim", data)
    campaign_folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
    app = make_app(campaigns_dir=campaign_folder.path)
    client = app.test_client()
    enabled = client.get("/en/", base_url="https://democlaim.example").get_data(as_text=True)
    assert '<p class="banner">Hello from a plugin</p>' in enabled
    recorder.CALLS.clear()
    other = client.get("/en/", base_url="https://other.example").get_data(as_text=True)
    assert "banner" not in other
    assert recorder.CALLS == []  # never called for a campaign that does not enable it


def test_plugin_validates_its_own_settings(recorder, campaign_folder: CampaignFolder, make_app) -> None:
    data = campaign_data()
    data["plugins"]["recorder"] = {"baner": "typo"}
    campaign_folder.write("democlaim", data)
    app = make_app(campaigns_dir=campaign_folder.path)
    [problem, missing] = sorted(app.extensions["claimsite"].registry.snapshot.errors, key=lambda p: p.field)
    assert problem.field == "plugins.recorder.baner" and "did you mean 'banner'" in problem.message
    assert missing.field == "plugins.recorder.banner"


def test_plugin_commands_join_the_cli(recorder, campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    result = make_app(campaigns_dir=campaign_folder.path).test_cli_runner().invoke(args=["recorder-hello"])
    assert result.exit_code == 0 and "hello from a plugin command" in result.output


def test_misspelt_hook_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    install_plugin(
        site_dir,
        "claimsite_typo",
        textwrap.dedent("""\
        from core.plugins import hookimpl

        @hookimpl
        def claimsite_page_section(campaign, language):
            return []
        """),
        name="typo",
    )
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()
    try:
        with pytest.raises(pluggy.PluginValidationError, match="claimsite_page_section"):
            PluginHost()
    finally:
        sys.modules.pop("claimsite_typo", None)


def test_disabled_builtin_section_is_absent(campaign_folder: CampaignFolder, make_app) -> None:
    data = campaign_data()
    del data["plugins"]["faq"]
    campaign_folder.write("democlaim", data)
    html = (
        make_app(campaigns_dir=campaign_folder.path)
        .test_client()
        .get("/en/", base_url="https://democlaim.example")
        .get_data(as_text=True)
    )
    assert 'id="faq"' not in html and "1,234 people" in html


def test_every_hook_is_documented_and_tested() -> None:
    hooks = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("claimsite_")]
    assert len(hooks) >= 5
    tests = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    for name in hooks:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Returns" in doc and len(doc) > 80, f"{name} needs a docstring saying when it runs and what it returns"
        assert f"def {name}" in tests, f"no test implements {name}"


def test_news_timeline_and_testimonials_render_in_order(campaign_folder: CampaignFolder, make_app) -> None:
    data = campaign_data()
    data["plugins"]["news"] = {
        "title": {"nl": "In het nieuws", "en": "In the news"},
        "items": [
            {"source": "Trouw", "date": "2020-07-28", "title": {"nl": "Ouder", "en": "Older"}, "text": {"nl": "x"}},
            {
                "source": "AD",
                "date": "2021-01-02",
                "title": {"nl": "Nieuwer", "en": "Newer"},
                "text": {"nl": "y"},
                "link": "https://www.ad.nl/",
            },
        ],
    }
    data["plugins"]["timeline"] = {
        "title": {"nl": "Updates", "en": "Updates"},
        "items": [
            {"title": {"nl": "Zonder datum", "en": "Undated"}, "text": {"nl": "z"}},
            {"date": "2020-07-14", "title": {"nl": "Klachtbrief", "en": "Complaint letter"}, "text": {"nl": "k"}},
        ],
    }
    data["plugins"]["testimonials"] = {
        "title": {"nl": "Ervaringen", "en": "Experiences"},
        "items": [
            {"quote": {"nl": "Verschrikkelijk.", "en": "Terrible."}, "by": {"nl": "Mevrouw G", "en": "Mrs G"}},
        ],
    }
    campaign_folder.write("democlaim", data)
    html = (
        make_app(campaigns_dir=campaign_folder.path)
        .test_client()
        .get("/en/", base_url="https://democlaim.example")
        .get_data(as_text=True)
    )
    assert html.index("Newer") < html.index("Older")
    assert html.index("Complaint letter") < html.index("Undated")
    assert (
        html.index('id="news"') < html.index('id="experiences"') < html.index('id="updates"') < html.index('id="faq"')
    )
    data["plugins"]["timeline"]["order"] = "as-written"
    campaign_folder.write("democlaim", data)
    as_written = (
        make_app(campaigns_dir=campaign_folder.path)
        .test_client()
        .get("/en/", base_url="https://democlaim.example")
        .get_data(as_text=True)
    )
    assert as_written.index("Undated") < as_written.index("Complaint letter")
    assert "Read the article at AD" in html and "Terrible." in html and "2 January 2021" in html


def test_plugin_adds_a_signup_question_and_its_answer_is_kept(
    recorder, campaign_folder: CampaignFolder, make_app
) -> None:
    import re

    campaign_folder.copy_shipped()
    import yaml

    path = campaign_folder.path / "tiktokclaim.yaml"
    data = yaml.safe_load(path.read_text())
    data["plugins"]["recorder"] = {"banner": "x"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    app = make_app(campaigns_dir=campaign_folder.path)
    client = app.test_client()
    html = client.get("/en/join", base_url="https://tiktokclaim.org").get_data(as_text=True)
    assert 'name="recorder_referral"' in html and "How did you hear of us?" in html
    assert 'name="recorder_referral"' not in client.get("/en/join", base_url="https://facebookleak.somi.nl").get_data(
        as_text=True
    )
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post(
        "/en/join",
        base_url="https://tiktokclaim.org",
        data={
            "csrf_token": token,
            "name": "Anna",
            "email": "anna@example.org",
            "street": "Kerkstraat 1",
            "postcode": "1234 AB",
            "city": "Utrecht",
            "country": "NL",
            "birth_date": "1990-05-01",
            "for_whom": "self",
            "recorder_referral": "a friend",
        },
    )
    assert response.status_code == 302
    from sqlalchemy import select

    from core.data import personal_data
    from core.data.db import db_session
    from core.data.models import Signup

    with app.app_context():
        signup = db_session().scalars(select(Signup)).one()
        assert personal_data.load(db_session(), signup)["recorder_referral"] == "a friend"
