"""What a browser and a shared link see besides the page: the favicon on campaign hosts and the admin host, and the
Open Graph and Twitter card tags with a per-campaign share image."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from core.campaigns import CampaignConfigError, load_campaign_file
from core.plugins import PluginHost
from tests.conftest import CampaignFolder, campaign_data

BASE = "https://democlaim.example"
SUBTITLE = {"nl": "Claim je schadevergoeding.", "en": "Claim your compensation."}


def with_subtitle() -> dict[str, Any]:
    data = campaign_data()
    data["hero"]["subtitle"] = SUBTITLE
    return data


def meta(html: str, name: str) -> list[str]:
    """The content of every <meta property|name="name">, in order."""
    return re.findall(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', html)


def image_of(client: FlaskClient, url: str) -> Image.Image:
    with client.get(url, base_url=BASE) as response:  # closes the file send_file opened
        assert response.status_code == 200 and response.mimetype == "image/png"
        return Image.open(io.BytesIO(response.get_data()))


@pytest.fixture
def app(campaign_folder: CampaignFolder, make_app: Any) -> Flask:
    campaign_folder.write("democlaim", with_subtitle())
    return make_app(campaigns_dir=campaign_folder.path)


def test_every_campaign_page_links_a_favicon_that_is_served(app: Flask) -> None:
    client = app.test_client()
    for path in ("/", "/en/", "/privacy", "/nosuchpage"):
        html = client.get(path, base_url=BASE).get_data(as_text=True)
        icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/png">', html)
        assert icon is not None, path
        assert image_of(client, icon.group(1)).size == (32, 32)


def test_favicon_ico_redirects_to_the_icon(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/favicon.ico", base_url=BASE)
    assert response.status_code == 302
    assert re.fullmatch(r"/assets/[0-9a-f]{12}/favicon\.png", response.headers["Location"])
    image_of(client, response.headers["Location"])


def test_a_campaign_overrides_the_favicon_in_its_static_folder(campaign_folder: CampaignFolder, make_app: Any) -> None:
    campaign_folder.write("democlaim")
    static = campaign_folder.path / "democlaim" / "static"
    static.mkdir(parents=True)
    Image.new("RGB", (48, 48), "red").save(static / "favicon.png")
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    location = client.get("/favicon.ico", base_url=BASE).headers["Location"]
    assert image_of(client, location).size == (48, 48)


def test_open_graph_tags_describe_the_page_in_its_language(app: Flask) -> None:
    client = app.test_client()
    dutch = client.get("/", base_url=BASE).get_data(as_text=True)
    english = client.get("/en/", base_url=BASE).get_data(as_text=True)
    title = re.search(r"<title>([^<]+)</title>", english).group(1)  # type: ignore[union-attr]
    assert meta(english, "og:title") == [title]
    assert meta(english, "og:site_name") == [campaign_data()["name"]["en"]]
    assert meta(english, "og:description") == [SUBTITLE["en"]]
    assert meta(dutch, "og:description") == [SUBTITLE["nl"]]
    assert meta(english, "og:url") == [f"{BASE}/en/"]
    assert f'<link rel="canonical" href="{BASE}/en/">' in english
    assert meta(dutch, "og:url") == [f"{BASE}/"]
    assert meta(dutch, "og:locale") == ["nl_NL"] and meta(dutch, "og:locale:alternate") == ["en_US"]
    assert meta(english, "og:locale") == ["en_US"] and meta(english, "og:locale:alternate") == ["nl_NL"]
    assert meta(english, "twitter:card") == ["summary_large_image"]


def test_the_default_share_image_is_an_absolute_1200_by_630_png(app: Flask) -> None:
    client = app.test_client()
    html = client.get("/en/", base_url=BASE).get_data(as_text=True)
    [url] = meta(html, "og:image")
    assert re.fullmatch(rf"{BASE}/assets/[0-9a-f]{{12}}/share\.png", url)
    assert image_of(client, url.removeprefix(BASE)).size == (1200, 630)


def test_a_campaign_chooses_its_own_share_image(campaign_folder: CampaignFolder, make_app: Any) -> None:
    campaign_folder.write("democlaim", campaign_data(share_image="img/preview.png"))
    folder = campaign_folder.path / "democlaim" / "static" / "img"
    folder.mkdir(parents=True)
    Image.new("RGB", (1200, 630), "green").save(folder / "preview.png")
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    [url] = meta(client.get("/en/", base_url=BASE).get_data(as_text=True), "og:image")
    assert re.fullmatch(rf"{BASE}/assets/[0-9a-f]{{12}}/img/preview\.png", url)
    assert image_of(client, url.removeprefix(BASE)).getpixel((0, 0)) == (0, 128, 0)


@pytest.mark.parametrize(
    ("share_image", "message"),
    [
        ("img/missing.png", "there is no file democlaim/static/img/missing.png"),
        ("logo.svg", "'logo.svg' must be a PNG or JPEG file"),
        ("../secret.png", "share_image"),
    ],
)
def test_a_share_image_that_is_not_a_campaign_png_or_jpeg_is_refused(
    campaign_folder: CampaignFolder, share_image: str, message: str
) -> None:
    (campaign_folder.path / "democlaim" / "static").mkdir(parents=True)
    (campaign_folder.path / "democlaim" / "static" / "logo.svg").write_text("<svg/>")
    path = campaign_folder.write(
        "democlaim", text=yaml.safe_dump(campaign_data(share_image=share_image), sort_keys=False)
    )
    with pytest.raises(CampaignConfigError) as caught:
        load_campaign_file(path, PluginHost().settings_schemas)
    assert any(message in str(problem) and "share_image" in str(problem) for problem in caught.value.problems)


@pytest.fixture
def staff_app(make_app: Any, migrated_database_url: str) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def test_the_admin_host_has_a_favicon_before_login(staff_app: Flask) -> None:
    client = staff_app.test_client()
    html = client.get("/login", base_url="https://staff.example").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/png">', html)
    assert icon is not None
    response = client.get("/favicon.ico", base_url="https://staff.example")
    assert response.status_code == 302 and response.headers["Location"] == icon.group(1)
    with client.get(icon.group(1), base_url="https://staff.example") as served:
        assert served.status_code == 200 and served.mimetype == "image/png"
