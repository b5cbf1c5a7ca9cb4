"""Which campaign a request reaches: hosts, www redirects, path prefixes, ports, proxies, cookies, URLs."""

from __future__ import annotations

import shutil

import pytest
import yaml
from flask import Flask
from itsdangerous import BadSignature

from core.campaigns.addresses import Address, HostIndex, campaign_url, split_host
from core.web.tenancy import resolve
from tests.conftest import REPO, CampaignFolder, campaign_data


@pytest.fixture
def tenancy_app(campaign_folder: CampaignFolder, make_app) -> Flask:
    campaign_folder.write("democlaim")
    campaign_folder.write("shared", campaign_data(slug="shared", hosts=None, paths=["example.org/claims"]))
    campaign_folder.write(
        "deeper",
        campaign_data(slug="deeper", hosts=None, paths=["example.org/claims/deeper", "example.net/old-deeper"]),
    )
    campaign_folder.write("both", campaign_data(slug="both", hosts=["both.example"], paths=["example.org/both"]))
    return make_app(campaigns_dir=campaign_folder.path)


def title_of(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<title>") + 7 : html.index("</title>")]


def test_exact_host_serves_its_campaign(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/", base_url="http://democlaim.example")
    assert response.status_code == 200
    assert "Democlaim" in title_of(response)


def test_host_is_matched_without_default_port_and_case(tenancy_app: Flask) -> None:
    # Capitals redirect to the canonical address and another port is no campaign's: see tests/test_hosts.py.
    response = tenancy_app.test_client().get("/", base_url="https://democlaim.example:443")
    assert response.status_code == 200
    assert tenancy_app.test_client().get("/", base_url="http://DemoClaim.Example:8080").status_code == 404


def test_www_redirects_permanently_to_canonical_host_keeping_path_and_query(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/en/privacy?ref=mail", base_url="http://www.democlaim.example")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://democlaim.example/en/privacy?ref=mail"


def test_secondary_path_redirects_to_canonical_host(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/both/en/", base_url="http://example.org")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://both.example/en/"


def test_secondary_path_redirects_to_canonical_path(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/old-deeper/terms", base_url="http://example.net")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://example.org/claims/deeper/terms"


def test_path_campaign_is_mounted_under_its_prefix(tenancy_app: Flask) -> None:
    client = tenancy_app.test_client()
    response = client.get("/claims/", base_url="http://example.org")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="/claims/en/"' in html  # links keep the prefix
    assert "/claims/assets/" in html
    english = client.get("/claims/en/", base_url="http://example.org")
    assert english.status_code == 200 and 'lang="en"' in english.get_data(as_text=True)


def test_bare_prefix_redirects_to_prefix_with_slash(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/claims?x=1", base_url="http://example.org")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/claims/?x=1")


def test_longest_path_prefix_wins(tenancy_app: Flask) -> None:
    client = tenancy_app.test_client()
    deeper = client.get("/claims/deeper/", base_url="http://example.org")
    shallow = client.get("/claims/", base_url="http://example.org")
    assert deeper.status_code == shallow.status_code == 200
    # both are "Democlaim" copies: tell them apart by their asset paths
    assert "/claims/deeper/assets/" in deeper.get_data(as_text=True)
    assert "/claims/deeper/" not in shallow.get_data(as_text=True)


def test_prefix_matches_whole_path_segments_only(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/claimsxyz/", base_url="http://example.org")
    assert response.status_code == 404


def test_unknown_host_is_404_without_campaign_list_in_production(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get("/", base_url="http://unknown.example")
    assert response.status_code == 404
    assert "democlaim" not in response.get_data(as_text=True)


def test_unknown_host_in_development_lists_campaigns_with_links(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(env="development", campaigns_dir=campaign_folder.path)
    response = app.test_client().get("/", base_url="http://127.0.0.1:5000")
    assert response.status_code == 404
    assert 'href="http://democlaim.localhost:5000/"' in response.get_data(as_text=True)


def test_slug_localhost_serves_campaign_in_development_only(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    dev = make_app(env="development", campaigns_dir=campaign_folder.path)
    prod = make_app(campaigns_dir=campaign_folder.path)
    assert dev.test_client().get("/", base_url="http://democlaim.localhost:5000").status_code == 200
    assert prod.test_client().get("/", base_url="http://democlaim.localhost:5000").status_code == 404
    assert dev.test_client().get("/", base_url="http://nosuch.localhost:5000").status_code == 404


def test_forwarded_host_ignored_without_trusted_proxies(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get(
        "/", base_url="http://10.0.0.5", headers={"X-Forwarded-Host": "democlaim.example"}
    )
    assert response.status_code == 404


def test_forwarded_host_and_proto_honoured_with_trusted_proxy(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(campaigns_dir=campaign_folder.path, trusted_proxies=1)
    response = app.test_client().get(
        "/",
        base_url="http://10.0.0.5",
        headers={"X-Forwarded-Host": "democlaim.example", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200
    assert '<link rel="canonical" href="https://democlaim.example/">' in response.get_data(as_text=True)


def test_forwarded_proto_ignored_without_trusted_proxies(tenancy_app: Flask) -> None:
    response = tenancy_app.test_client().get(
        "/", base_url="http://democlaim.example", headers={"X-Forwarded-Proto": "https"}
    )
    assert '<link rel="canonical" href="http://democlaim.example/">' in response.get_data(as_text=True)


def test_responses_vary_on_host(tenancy_app: Flask) -> None:
    client = tenancy_app.test_client()
    for base in ("http://democlaim.example", "http://unknown.example"):
        assert "Host" in client.get("/", base_url=base).headers.get("Vary", "")
    assert "Host" in client.get("/", base_url="http://www.democlaim.example").headers["Vary"]


def test_cookies_are_host_only_and_scoped_to_the_path_prefix(campaign_folder: CampaignFolder, make_app) -> None:
    # The join form is a page that sets a cookie (the session, for its CSRF token); public pages set none.
    signup = yaml.safe_load((REPO / "campaigns" / "facebookleak.yaml").read_text(encoding="utf-8"))["signup"]
    shutil.copytree(REPO / "campaigns" / "_shared", campaign_folder.path / "_shared")  # its agreements' texts
    campaign_folder.write("democlaim", campaign_data(signup=signup))
    campaign_folder.write(
        "shared", campaign_data(slug="shared", hosts=None, paths=["example.org/claims"], signup=signup)
    )
    client = make_app(campaigns_dir=campaign_folder.path).test_client()
    response = client.get("/claims/join", base_url="http://example.org")
    cookie = response.headers["Set-Cookie"]
    assert "Path=/claims;" in cookie or cookie.endswith("Path=/claims")
    assert "Domain" not in cookie
    host_cookie = client.get("/join", base_url="http://democlaim.example").headers["Set-Cookie"]
    assert "Path=/;" in host_cookie and "Domain" not in host_cookie


def test_session_signed_for_one_campaign_is_refused_by_another(tenancy_app: Flask) -> None:
    interface = tenancy_app.session_interface
    with tenancy_app.test_request_context(
        "/", base_url="http://democlaim.example", environ_overrides={"claimsite.campaign": "democlaim"}
    ):
        token = interface.get_signing_serializer(tenancy_app).dumps({"step": "verified"})
    with (
        tenancy_app.test_request_context(
            "/", base_url="http://both.example", environ_overrides={"claimsite.campaign": "both"}
        ),
        pytest.raises(BadSignature),
    ):
        interface.get_signing_serializer(tenancy_app).loads(token)
    with tenancy_app.test_request_context(
        "/", base_url="http://democlaim.example", environ_overrides={"claimsite.campaign": "democlaim"}
    ):
        assert interface.get_signing_serializer(tenancy_app).loads(token) == {"step": "verified"}


def test_campaign_url_builds_host_path_and_language_urls(tenancy_app: Flask) -> None:
    with tenancy_app.app_context():
        snapshot = tenancy_app.extensions["claimsite"].registry.snapshot.campaigns
        assert campaign_url(snapshot["democlaim"]) == "https://democlaim.example/"
        assert campaign_url(snapshot["democlaim"], language="en") == "https://democlaim.example/en/"
        assert campaign_url(snapshot["democlaim"], language="nl") == "https://democlaim.example/"
        assert (
            campaign_url(snapshot["deeper"], "pages.terms", language="en")
            == "https://example.org/claims/deeper/en/terms"
        )
        assert campaign_url(snapshot["both"]) == "https://both.example/"


def test_campaign_url_points_at_localhost_in_development(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(env="development", campaigns_dir=campaign_folder.path, port=5123)
    with app.app_context():
        loaded = app.extensions["claimsite"].registry.snapshot.campaigns["democlaim"]
        assert campaign_url(loaded, language="en") == "http://democlaim.localhost:5123/en/"
    with app.test_request_context("/", base_url="http://democlaim.localhost:5999"):
        from flask import request

        request.environ["claimsite.dev_host"] = True
        assert campaign_url(loaded) == "http://democlaim.localhost:5999/"


def test_resolve_unit() -> None:
    index = HostIndex(
        exact={"a.example": "a", "www.a.example": "a"},
        prefixed={"shared.example": [("/x/y", "xy"), ("/x", "x")]},
        canonical={
            "a": Address("a.example"),
            "x": Address("shared.example", "/x"),
            "xy": Address("shared.example", "/x/y"),
        },
    )
    assert resolve(index, "a.example", "/", False).redirect_to is None
    assert resolve(index, "www.a.example", "/", False).redirect_to == Address("a.example")
    assert resolve(index, "shared.example", "/x/y/z", False).slug == "xy"
    assert resolve(index, "shared.example", "/x/yz", False).slug == "x"
    assert resolve(index, "shared.example", "/", False) is None
    assert resolve(index, "a.localhost", "/", True).slug == "a"
    assert resolve(index, "a.localhost", "/", False) is None
    assert split_host("Example.ORG.:8443") == ("example.org", "8443")
    assert split_host("[::1]:5000") == ("[::1]", "5000")
