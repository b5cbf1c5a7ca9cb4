"""The request's host, normalised once: case, trailing dot and default port; other ports are no campaign address;
the staff console is reached only through the Host header itself, never through a forwarded one."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import CampaignFolder, campaign_data


@pytest.fixture
def hosts_app(campaign_folder: CampaignFolder, make_app) -> Flask:
    campaign_folder.write("democlaim")
    campaign_folder.write("shared", campaign_data(slug="shared", hosts=None, paths=["example.org/claims"]))
    return make_app(campaigns_dir=campaign_folder.path, admin_host="staff.example")


@pytest.fixture
def proxied_app(campaign_folder: CampaignFolder, make_app) -> Flask:
    campaign_folder.write("democlaim")
    return make_app(campaigns_dir=campaign_folder.path, admin_host="staff.example", trusted_proxies=1)


def links_of(response) -> str:
    html = response.get_data(as_text=True)
    return html[: html.index("</head>")]


def test_a_forwarded_host_never_reaches_the_staff_console(proxied_app: Flask) -> None:
    client = proxied_app.test_client()
    for path in ("/", "/login"):
        response = client.get(
            path,
            base_url="http://democlaim.example",
            headers={"X-Forwarded-Host": "staff.example", "X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 404, path
        assert "password" not in response.get_data(as_text=True).lower()


def test_the_staff_console_is_still_reached_through_its_own_host_behind_a_proxy(proxied_app: Flask) -> None:
    client = proxied_app.test_client()
    response = client.get(
        "/login",
        base_url="http://staff.example",
        headers={"X-Forwarded-Host": "staff.example", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200 and "password" in response.get_data(as_text=True).lower()
    # A campaign's host forwarded on the admin host's connection: still the console, never a campaign page.
    mixed = client.get("/login", base_url="http://staff.example", headers={"X-Forwarded-Host": "democlaim.example"})
    assert mixed.status_code == 200 and "password" in mixed.get_data(as_text=True).lower()


def test_another_form_of_the_host_redirects_to_the_canonical_address(hosts_app: Flask) -> None:
    client = hosts_app.test_client()
    for host in ("DemoClaim.EXAMPLE", "democlaim.example.", "DEMOCLAIM.EXAMPLE."):
        response = client.get("/en/?ref=mail", base_url="https://democlaim.example", headers={"Host": host})
        assert response.status_code == 301, host
        assert response.headers["Location"] == "https://democlaim.example/en/?ref=mail"
    shared = client.get("/claims/en/", base_url="https://example.org", headers={"Host": "Example.ORG."})
    assert shared.status_code == 301 and shared.headers["Location"] == "https://example.org/claims/en/"
    staff = client.get("/login", base_url="https://staff.example", headers={"Host": "Staff.Example."})
    assert staff.status_code == 301 and staff.headers["Location"] == "https://staff.example/login"


def test_the_default_port_of_the_public_scheme_is_the_same_address(hosts_app: Flask) -> None:
    client = hosts_app.test_client()
    for base in ("https://democlaim.example:443", "http://democlaim.example:443"):
        response = client.get("/", base_url=base)
        assert response.status_code == 200, base
        head = links_of(response)
        assert ":443" not in head
        assert '<link rel="canonical" href="' in head


def test_a_forwarded_default_port_is_the_same_address_without_a_redirect_loop(proxied_app: Flask) -> None:
    response = proxied_app.test_client().get(
        "/",
        base_url="http://127.0.0.1:8000",
        headers={"X-Forwarded-Host": "democlaim.example", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200
    assert '<link rel="canonical" href="https://democlaim.example/">' in links_of(response)


@pytest.mark.parametrize(
    "host",
    [
        "democlaim.example:99",
        "DemoClaim.EXAMPLE.:99",
        "democlaim.example:8080",
        "example.org:8443",
        "www.democlaim.example:99",
    ],
)
def test_a_host_with_another_port_is_not_a_campaign_address(hosts_app: Flask, host: str) -> None:
    path = "/claims/" if "example.org" in host else "/"
    response = hosts_app.test_client().get(path, base_url="https://democlaim.example", headers={"Host": host})
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert 'rel="canonical"' not in response.get_data(as_text=True)


def test_the_staff_console_is_not_served_on_another_port(hosts_app: Flask) -> None:
    response = hosts_app.test_client().get("/login", base_url="https://staff.example:99")
    assert response.status_code == 404
    assert "password" not in response.get_data(as_text=True).lower()


def test_with_a_plain_http_public_scheme_port_80_is_the_default(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(campaigns_dir=campaign_folder.path, public_scheme="http")
    client = app.test_client()
    assert client.get("/", base_url="http://democlaim.example:80").status_code == 200
    assert client.get("/", base_url="http://democlaim.example:443").status_code == 404


def test_the_page_cache_keeps_one_copy_whatever_the_host_looks_like(hosts_app: Flask) -> None:
    cache = hosts_app.extensions["claimsite"].page_cache
    client = hosts_app.test_client()
    for host in (
        "democlaim.example",
        "democlaim.example:443",
        "democlaim.example:99",
        "democlaim.example:100",
        "DEMOCLAIM.example",
        "democlaim.example.:443",
    ):
        client.get("/", base_url="https://democlaim.example", headers={"Host": host})
    assert len(cache._entries) == 1  # the landing page once, for https://democlaim.example


def test_development_serves_slug_localhost_on_any_port(campaign_folder: CampaignFolder, make_app) -> None:
    campaign_folder.write("democlaim")
    app = make_app(env="development", campaigns_dir=campaign_folder.path)
    client = app.test_client()
    for base in ("http://democlaim.localhost:5000", "http://democlaim.localhost:8123", "http://democlaim.localhost"):
        response = client.get("/en/", base_url=base)
        assert response.status_code == 200, base
        assert f'<link rel="canonical" href="{base}/en/">' in links_of(response)
    assert client.get("/", base_url="http://staff.localhost:5000").status_code in (200, 302)


def test_a_request_without_a_host_header_never_reaches_the_staff_console(proxied_app: Flask) -> None:
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(
        "/login", base_url="http://staff.example", headers={"X-Forwarded-Host": "staff.example"}
    ).get_environ()
    del environ["HTTP_HOST"]  # an HTTP/1.0 request: the server's own name stands in
    _body, status, _headers = run_wsgi_app(proxied_app.wsgi_app, environ, buffered=True)
    assert status.startswith("404")
