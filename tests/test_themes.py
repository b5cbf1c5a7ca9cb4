"""Themes: the lookup chain campaign -> theme -> default, static files with fingerprints, a campaign by config."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import CampaignFolder, campaign_data, run_campaigns_command


def get(app: Flask, path: str = "/en/", host: str = "https://democlaim.example"):  # type: ignore[no-untyped-def]
    response = app.test_client().get(path, base_url=host)
    response.get_data()  # read and close: static files are streamed from an open file
    response.close()
    return response


def test_default_theme_renders_without_overrides(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    html = get(make_app(campaigns_dir=campaign_folder.path)).get_data(as_text=True)
    assert 'class="theme-default' in html and "somi.css" not in html


def test_second_theme_extends_default(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim", campaign_data(theme="somi"))
    html = get(make_app(campaigns_dir=campaign_folder.path)).get_data(as_text=True)
    assert 'class="theme-somi' in html
    assert re.search(r'href="/assets/[0-9a-f]{12}/css/site.css"', html)  # the default's stylesheet...
    assert re.search(r'href="/assets/[0-9a-f]{12}/css/somi.css"', html)  # ...and the theme's own on top


def test_campaign_overrides_one_template(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim", campaign_data(theme="somi"))
    sections = campaign_folder.path / "democlaim" / "templates" / "sections"
    sections.mkdir(parents=True)
    (sections / "hero.html").write_text('<section id="top"><h1>Own hero: {{ section.title | t }}</h1></section>\n')
    html = get(make_app(campaigns_dir=campaign_folder.path)).get_data(as_text=True)
    assert "<h1>Own hero: Have you used Demo?</h1>" in html
    assert "somi.css" in html and "Frequently asked questions" in html  # everything else still comes from the chain


def test_campaign_overrides_one_block_of_its_themes_template(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim", campaign_data(theme="somi"))
    templates = campaign_folder.path / "democlaim" / "templates"
    templates.mkdir(parents=True)
    (templates / "base.html").write_text(
        '{% extends "theme:somi/base.html" %}\n{% block title %}Custom title – {{ super() }}{% endblock %}\n'
    )
    html = get(make_app(campaigns_dir=campaign_folder.path)).get_data(as_text=True)
    assert "<title>Custom title – Demo claim – Have you used Demo?</title>" in html
    assert "somi.css" in html  # the theme's own block is kept


def test_other_campaigns_are_not_affected_by_an_override(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    campaign_folder.write("other", campaign_data(slug="other", hosts=["other.example"]))
    sections = campaign_folder.path / "democlaim" / "templates" / "sections"
    sections.mkdir(parents=True)
    (sections / "hero.html").write_text("<h1>Own hero</h1>\n")
    app = make_app(campaigns_dir=campaign_folder.path)
    assert "Own hero" in get(app).get_data(as_text=True)
    assert "Own hero" not in get(app, host="https://other.example").get_data(as_text=True)


def test_static_files_are_fingerprinted_and_cached_for_a_year(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(campaigns_dir=campaign_folder.path)
    html = get(app).get_data(as_text=True)
    css_url = re.search(r'href="(/assets/[0-9a-f]{12}/css/site.css)"', html).group(1)  # type: ignore[union-attr]
    response = get(app, css_url)
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    stale = get(app, "/assets/000000000000/css/site.css")
    assert stale.status_code == 302 and stale.headers["Location"].endswith(css_url)
    colours_url = re.search(r'href="(/assets/[0-9a-f]{12}/colours.css)"', html).group(1)  # type: ignore[union-attr]
    assert "--primary: #0b5cad;" in get(app, colours_url).get_data(as_text=True)


def test_campaign_static_file_overrides_theme_and_logo_is_used(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write(
        "democlaim", campaign_data(theme_overrides={"logo": "logo.svg", "colours": {"primary": "#123456"}})
    )
    static = campaign_folder.path / "democlaim" / "static"
    static.mkdir(parents=True)
    (static / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    app = make_app(campaigns_dir=campaign_folder.path)
    html = get(app).get_data(as_text=True)
    logo = re.search(r'<img src="(/assets/[0-9a-f]{12}/logo.svg)"', html).group(1)  # type: ignore[union-attr]
    assert get(app, logo).status_code == 200
    colours_url = re.search(r'href="(/assets/[0-9a-f]{12}/colours.css)"', html).group(1)  # type: ignore[union-attr]
    css = get(app, colours_url).get_data(as_text=True)
    assert "--primary: #123456;" in css and "--accent: #ffd23f;" in css


def test_static_lookup_never_leaves_the_theme_folders(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(campaigns_dir=campaign_folder.path)
    for path in (
        "/assets/x/../../democlaim.yaml",
        "/assets/x/..%2f..%2fdemoclaim.yaml",
        "/assets/x/%2e%2e/%2e%2e/theme.yaml",
    ):
        assert get(app, path).status_code == 404, path


def test_a_new_campaign_with_new_domain_and_theme_needs_no_code(campaign_folder: CampaignFolder, make_app) -> None:
    """Staff add one YAML file: it is served on its own domain, in its own theme, in both languages."""
    campaign_folder.copy_shipped()
    campaign_folder.write(
        "metaclaim",
        text="""\
slug: metaclaim
name: {nl: Meta Claim, en: Meta Claim}
hosts: [metaclaim.eu, www.metaclaim.eu]
status: pre-registration
organisation: {name: SOMI, website: "https://somi.nl", email: campaign@somi.nl}
target_company: Meta
hero:
  title: {nl: "Heb je Instagram gebruikt?", en: "Have you used Instagram?"}
  call_to_action: {nl: "Ik wil meedoen", en: "I want to join"}
theme: somi
theme_overrides: {colours: {primary: "#4c1d95"}}
sisters:
  - {label: {nl: TikTok Claim, en: TikTok Claim}, campaign: tiktokclaim}
plugins:
  counter: {baseline: 10, since: 2026-11-01}
""",
    )
    app = make_app(campaigns_dir=campaign_folder.path)
    client = app.test_client()
    english = client.get("/en/", base_url="https://metaclaim.eu")
    assert english.status_code == 200
    html = english.get_data(as_text=True)
    assert "Have you used Instagram?" in html and "theme-somi" in html and "Pre-register" in html
    assert '<a href="https://tiktokclaim.org/en/">TikTok Claim</a>' in html
    assert client.get("/", base_url="https://www.metaclaim.eu").headers["Location"] == "https://metaclaim.eu/"
    assert client.get("/en/", base_url="https://tiktokclaim.org").status_code == 200  # the others still serve


def test_shipped_campaign_colours_are_readable(shipped_app: Flask) -> None:
    """Every text/background pair of every shipped campaign meets WCAG AA (4.5:1)."""
    from core.campaigns.contrast import weak_pairs

    themes = shipped_app.extensions["claimsite"].themes
    for slug, loaded in shipped_app.extensions["claimsite"].registry.snapshot.campaigns.items():
        c = loaded.campaign
        assert weak_pairs(themes.colours(c.theme, dict(c.theme_overrides.colours))) == [], slug


def test_check_warns_about_unreadable_colours(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim", campaign_data(theme_overrides={"colours": {"primary": "#fe2c55"}}))
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code == 0
    assert "primary_text on primary has contrast 3.68:1, under the 4.5:1" in result.output


def test_broken_theme_is_reported_and_not_offered(tmp_path, campaign_folder: CampaignFolder, make_app) -> None:
    import shutil

    from tests.conftest import REPO

    themes = tmp_path / "themes"
    shutil.copytree(REPO / "themes", themes)
    (themes / "broken").mkdir()
    (themes / "broken" / "theme.yaml").write_text("name: Broken\ncolours: {primary: red}\n")
    campaign_folder.write("democlaim", campaign_data(theme="broken"))
    app = make_app(campaigns_dir=campaign_folder.path, themes_dir=themes)
    [problem] = app.extensions["claimsite"].registry.snapshot.errors
    assert "no theme 'broken'" in problem.message and "available: default, somi" in problem.message
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path, themes_dir=themes)
    assert result.exit_code == 1 and "broken/theme.yaml" in result.output and "primary" in result.output
