"""The nginx configuration ``flask deploy nginx`` makes (core/deploy/nginx.py), checked by Debian's nginx itself
(``nginx -t``) and then run: nginx on a loopback port in front of real gunicorn, as README's "Production" sets
them up, with the staff console on its own host and ``CLAIMSITE_TRUSTED_PROXIES=1``."""

from __future__ import annotations

import datetime as dt
import grp
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, current_app

from core.cli.campaigns import CampaignSources
from core.cli.deploy import deploy_cli
from core.deploy.nginx import IDENTITY_PATH, PIECE_PATH, NginxOptions, campaign_hosts, render_nginx
from core.settings import MAX_COUNTER_AGE_SECONDS
from core.staff.vault_upload import PIECE_SIZE
from core.web.identity_upload import MAX_UPLOAD
from tests.conftest import REPO, SHIPPED_CAMPAIGNS
from tests.gunicorn_server import Answer, Gunicorn, sqlite_app_settings
from tests.nginx_server import Nginx, http_request, nginx_binary
from tests.production_shape import published_pages
from tests.smtp_server import free_port
from tests.test_evidence import add_participants
from tests.test_signup import VALID

STAFF_HOST = "staff.example"
LEFT_OUT = "zoomclaim"  # generated without this campaign: its hosts must reach the app through the catch-all
DEBIAN_NGINX_CONF = Path("/etc/nginx/nginx.conf")
NGINX_ERROR_PAGE_CSP = "default-src 'none'; frame-ancestors 'none'"

NO_NGINX = "nginx is not installed (make system-deps installs Debian's nginx)"
needs_nginx = pytest.mark.skipif(nginx_binary() is None, reason=NO_NGINX)


def require_nginx() -> None:
    """For a fixture: skip its tests where nginx is missing."""
    if nginx_binary() is None:
        pytest.skip(NO_NGINX)


def generate(campaigns_dir: Path, *args: str, admin_host: str = STAFF_HOST) -> str:
    """``flask deploy nginx ARGS`` over the campaign files in ``campaigns_dir``: the configuration it prints."""
    result = CliRunner().invoke(
        deploy_cli,
        ["nginx", "--admin-host", admin_host, *args],
        env={"CLAIMSITE_CAMPAIGNS_DIR": str(campaigns_dir)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def shipped_hosts() -> list[str]:
    snapshot = CampaignSources.from_environment().registry.check()
    assert not snapshot.errors
    return campaign_hosts(snapshot.campaigns)


# --- the file itself ---------------------------------------------------------------------------------------------


def test_every_published_campaign_host_gets_a_server_block() -> None:
    hosts = shipped_hosts()
    assert {"tiktokclaim.org", "www.tiktokclaim.org", "zoomclaim.org", "somi.nl", "facebookleak.somi.nl"} <= set(hosts)
    text = generate(SHIPPED_CAMPAIGNS, "--plain-http", "18080", "--listen", "127.0.0.1")
    named = re.findall(r"^\s*server_name (\S+);", text, flags=re.MULTILINE)
    assert sorted(named) == sorted([*hosts, STAFF_HOST, "_"])
    assert text.count("default_server") == 1  # the catch-all


def test_the_apps_command_line_has_it_too(shipped_app: Flask) -> None:
    # Found through the flask.commands entry point without an app, and on the app's command line where an
    # installation predates that entry point.
    result = shipped_app.test_cli_runner().invoke(args=["deploy", "nginx", "--plain-http", "18080"])
    assert result.exit_code == 0, result.output
    assert "server_name tiktokclaim.org;" in result.output


def test_a_draft_campaign_host_is_left_to_the_catch_all(tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns"
    shutil.copytree(SHIPPED_CAMPAIGNS, campaigns)
    path = campaigns / "facebookleak.yaml"
    path.write_text(re.sub(r"^status: .*$", "status: draft", path.read_text(), flags=re.MULTILINE))
    text = generate(campaigns, "--plain-http", "18080")
    assert "facebookleak.somi.nl" not in text  # a draft's address is news
    assert "server_name tiktokclaim.org;" in text


def test_hosts_without_a_certificate_yet_are_served_by_the_catch_all(tmp_path: Path) -> None:
    certificates = tmp_path / "live"
    write_certificate(certificates, "tiktokclaim.org")
    text = generate(SHIPPED_CAMPAIGNS, "--certificates", str(certificates))
    assert f"ssl_certificate {certificates}/tiktokclaim.org/fullchain.pem;" in text
    assert "server_name tiktokclaim.org;" in text
    assert "server_name zoomclaim.org;" not in text
    assert "#   zoomclaim.org" in text  # listed as waiting for its certificate
    assert f"ssl_certificate {certificates}/$claimsite_certificate/fullchain.pem;" in text  # the catch-all's
    assert "return 301 https://$host$request_uri;" in text


def test_nginx_decides_nothing_the_app_decides() -> None:
    text = render_nginx(shipped_hosts(), NginxOptions(admin_host=STAFF_HOST))
    directives = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    # No caching time of nginx's own, no header of the app's ignored or hidden, no error page over the app's own,
    # and no POST sent a second time to another app server.
    for word in ("proxy_cache_valid", "proxy_ignore_headers", "proxy_hide_header", "proxy_intercept_errors"):
        assert not [line for line in directives if line.startswith(word)], word
    assert not [line for line in directives if "non_idempotent" in line]
    assert "proxy_cache_key $scheme$host$request_uri;" in directives
    staff_block = text[text.index(f"server_name {STAFF_HOST};") :]
    assert "proxy_cache off;" in staff_block


def test_body_limits_leave_room_above_the_apps_own() -> None:
    text = render_nginx(shipped_hosts(), NginxOptions(admin_host=STAFF_HOST))
    assert f"client_max_body_size {MAX_UPLOAD // 2**20 + 1}m;" in text
    assert f"client_max_body_size {PIECE_SIZE // 2**20 + 1}m;" in text
    for path in ("/join/identity", "/en/join/identity", "/alledata/join/identity", "/my/identity/ABCD2345"):
        assert re.search(IDENTITY_PATH, path), path
    for path in ("/join", "/my/identity/A/B", "/join/identity/x"):
        assert not re.search(IDENTITY_PATH, path), path
    assert re.search(PIECE_PATH, "/vault-uploads/abc_DEF-1/pieces/12")


def test_a_host_nginx_could_misread_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        deploy_cli,
        ["nginx", "--admin-host", "staff.example; include /etc/passwd"],
        env={"CLAIMSITE_CAMPAIGNS_DIR": str(SHIPPED_CAMPAIGNS)},
    )
    assert result.exit_code == 1 and "give a domain name" in result.output
    result = CliRunner().invoke(deploy_cli, ["nginx", "--app", "127.0.0.1:8001;"])
    assert result.exit_code == 1 and "host:port" in result.output


# --- nginx -t ----------------------------------------------------------------------------------------------------


def write_certificate(folder: Path, host: str, name: str = "") -> None:
    """A self-signed certificate for ``host`` (``*.example.org`` for a wildcard) where certbot would put it
    (``<folder>/<name or host>/``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / (name or host)).mkdir(parents=True)
    (folder / (name or host) / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / (name or host) / "privkey.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@needs_nginx
def test_nginx_accepts_the_tls_configuration(tmp_path: Path) -> None:
    certificates = tmp_path / "live"
    for host in ("tiktokclaim.org", "somi.nl", STAFF_HOST):
        write_certificate(certificates, host)
    (tmp_path / "cache").mkdir()
    text = generate(
        SHIPPED_CAMPAIGNS,
        "--certificates",
        str(certificates),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--acme-webroot",
        str(tmp_path / "acme"),
        "--app",
        "127.0.0.1:8001",
        "--app",
        "127.0.0.1:8002",
    )
    checked = Nginx(tmp_path, text, port=443).test_config()
    assert checked.returncode == 0, checked.stderr


@needs_nginx
@pytest.mark.skipif(not DEBIAN_NGINX_CONF.exists(), reason="no /etc/nginx/nginx.conf (Debian's nginx package)")
def test_the_file_fits_debians_own_nginx_conf(tmp_path: Path) -> None:
    # README puts the file in /etc/nginx/conf.d/, which Debian's nginx.conf includes in its http block (with
    # settings of its own, such as gzip, that the file must not repeat there).
    (tmp_path / "cache").mkdir()
    site = tmp_path / "claimsite.conf"
    site.write_text(generate(SHIPPED_CAMPAIGNS, "--cache-dir", str(tmp_path / "cache")))
    main = DEBIAN_NGINX_CONF.read_text()
    assert "include /etc/nginx/conf.d/*.conf;" in main
    main = main.replace("include /etc/nginx/conf.d/*.conf;", f"include {site};")
    main = main.replace("include /etc/nginx/sites-enabled/*;", "")  # README removes the default site
    main = re.sub(r"(access_log|error_log) /var/log/nginx/", rf"\1 {tmp_path}/", main)
    (tmp_path / "nginx.conf").write_text(main)
    checked = subprocess.run(
        [str(nginx_binary()), "-t", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


@needs_nginx
def test_nginx_refuses_a_certificate_that_is_not_there(tmp_path: Path) -> None:
    # The check above means something: a per-host block whose certificate is missing fails nginx -t.
    certificates = tmp_path / "live"
    write_certificate(certificates, "tiktokclaim.org")
    (tmp_path / "cache").mkdir()
    text = generate(SHIPPED_CAMPAIGNS, "--certificates", str(certificates), "--cache-dir", str(tmp_path / "cache"))
    (certificates / "tiktokclaim.org" / "privkey.pem").unlink()
    checked = Nginx(tmp_path, text, port=443).test_config()
    assert checked.returncode != 0 and "privkey.pem" in checked.stderr


def served_certificate(port: int, server_name: str) -> str:
    """The common name of the certificate nginx shows a browser that asks for ``server_name`` (SNI)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as connection,
    ):
        der = connection.getpeercert(binary_form=True)
    assert der is not None
    return str(x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@needs_nginx
def test_over_tls_a_host_gets_its_certificate_also_one_made_after_the_file(tmp_path: Path) -> None:
    certificates = tmp_path / "live"
    write_certificate(certificates, "tiktokclaim.org")
    write_certificate(certificates, "*.somi.nl", name="somi.nl-wildcard")
    (tmp_path / "acme" / ".well-known" / "acme-challenge").mkdir(parents=True)
    (tmp_path / "acme" / ".well-known" / "acme-challenge" / "token-1").write_text("token-1.thumbprint")
    http_port, https_port = free_port(), free_port()
    text = generate(
        SHIPPED_CAMPAIGNS,
        "--listen",
        "127.0.0.1",
        "--http-port",
        str(http_port),
        "--https-port",
        str(https_port),
        "--certificates",
        str(certificates),
        "--wildcard-certificate",
        "*.somi.nl=somi.nl-wildcard",
        "--acme-webroot",
        str(tmp_path / "acme"),
        "--cache-dir",
        str(tmp_path),
        "--app",
        f"127.0.0.1:{free_port()}",
    )
    assert f"ssl_certificate {certificates}/somi.nl-wildcard/fullchain.pem;" in text  # facebookleak.somi.nl's
    assert "server_name zoomclaim.org;" not in text
    with Nginx(tmp_path, text, https_port):
        write_certificate(certificates, "zoomclaim.org")  # certbot's work for a host added later
        assert served_certificate(https_port, "tiktokclaim.org") == "tiktokclaim.org"
        assert served_certificate(https_port, "zoomclaim.org") == "zoomclaim.org"
        assert served_certificate(https_port, "facebookleak.somi.nl") == "*.somi.nl"
        assert served_certificate(https_port, "nieuweclaim.somi.nl") == "*.somi.nl"  # a campaign added later
        with pytest.raises(ssl.SSLError):
            served_certificate(https_port, "nocertificate.example")
        redirect = http_request(http_port, "GET", "/en/?a=1", host="tiktokclaim.org")
        assert redirect.status == 301
        assert redirect.header("Location") == f"https://tiktokclaim.org:{https_port}/en/?a=1"
        challenge = http_request(http_port, "GET", "/.well-known/acme-challenge/token-1", host="nieuweclaim.somi.nl")
        assert (challenge.status, challenge.body) == (200, "token-1.thumbprint")


# --- nginx in front of gunicorn ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Gunicorn]:
    """gunicorn over the shipped campaigns, trusting one proxy, with the staff console on its own host."""
    folder = tmp_path_factory.mktemp("app")
    shutil.copy(migrated_sqlite, folder / "claimsite.sqlite3")
    env = sqlite_app_settings(
        folder, CLAIMSITE_ADMIN_HOST=STAFF_HOST, CLAIMSITE_TRUSTED_PROXIES="1", CLAIMSITE_PUBLIC_SCHEME="http"
    )
    with Gunicorn(env, log=folder / "gunicorn.log") as server:
        yield server


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, app_server: Gunicorn) -> Iterator[Nginx]:
    """nginx with the configuration generated from the shipped campaigns but one (``LEFT_OUT``)."""
    require_nginx()
    folder = tmp_path_factory.mktemp("nginx")
    campaigns = folder / "campaigns"
    shutil.copytree(SHIPPED_CAMPAIGNS, campaigns)
    (campaigns / f"{LEFT_OUT}.yaml").unlink()
    port = free_port()
    text = generate(
        campaigns,
        "--plain-http",
        str(port),
        "--listen",
        "127.0.0.1",
        "--app",
        f"127.0.0.1:{app_server.port}",
        "--cache-dir",
        str(folder),
    )
    assert "zoomclaim.org" not in text
    with Nginx(folder, text, port) as server:
        yield server


@pytest.fixture(scope="module")
def nginx_without_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """nginx whose one app server is down, with edge limits low enough for a test to reach."""
    require_nginx()
    folder = tmp_path_factory.mktemp("nginx-down")
    port = free_port()
    text = generate(
        SHIPPED_CAMPAIGNS,
        "--plain-http",
        str(port),
        "--listen",
        "127.0.0.1",
        "--app",
        f"127.0.0.1:{free_port()}",
        "--cache-dir",
        str(folder),
        "--requests-per-second",
        "1",
    )
    with Nginx(folder, text, port) as server:
        yield server


def test_a_campaign_page_through_nginx_is_the_apps(nginx: Nginx, app_server: Gunicorn) -> None:
    through = nginx.request("GET", "/", host="tiktokclaim.org")
    direct = app_server.get("/", host="tiktokclaim.org")
    assert through.status == direct.status == 200
    assert "TikTok" in through.body
    for header in ("Content-Security-Policy", "Cross-Origin-Resource-Policy", "Referrer-Policy", "Permissions-Policy"):
        assert through.header(header) == direct.header(header), header
    assert through.header("X-Cache-Status") is not None
    english = nginx.request("GET", "/en/", host="tiktokclaim.org")
    assert english.status == 200 and 'lang="en"' in english.body
    path_campaign = nginx.request("GET", "/alledata/", host="somi.nl")
    assert path_campaign.status == 200


def test_every_campaigns_landing_page_in_each_language_through_nginx(nginx: Nginx) -> None:
    pages = published_pages(SHIPPED_CAMPAIGNS)
    assert len(pages) >= 10
    for host, path, language in pages:
        answer = nginx.request("GET", path, host=host)
        assert answer.status == 200, (host, path)
        assert f'<html lang="{language}"' in answer.body, (host, path)


def test_a_host_not_in_the_file_reaches_the_app(nginx: Nginx, app_server: Gunicorn) -> None:
    # zoomclaim was left out when the file was made, as a campaign added later would be: the app serves it.
    new = nginx.request("GET", "/", host="zoomclaim.org")
    assert new.status == 200 and new.body == app_server.get("/", host="zoomclaim.org").body
    unknown = nginx.request("GET", "/", host="unknown.example")
    assert unknown.status == 404
    assert unknown.header("Content-Security-Policy") != NGINX_ERROR_PAGE_CSP  # the app's own 404


def test_the_staff_console_answers_on_its_own_host_only(nginx: Nginx) -> None:
    assert nginx.request("GET", "/login", host=STAFF_HOST).status == 200
    assert nginx.request("GET", "/login", host="tiktokclaim.org").status == 404
    forwarded = nginx.request("GET", "/login", host="tiktokclaim.org", headers={"X-Forwarded-Host": STAFF_HOST})
    assert forwarded.status == 404
    assert nginx.request("GET", "/login", host=STAFF_HOST).header("X-Cache-Status") is None  # never cached


def test_a_static_file_is_cached_by_nginx_as_immutable(nginx: Nginx) -> None:
    page = nginx.request("GET", "/", host="tiktokclaim.org")
    asset = re.search(r'href="(/assets/[0-9a-f]+/[^"]+\.css)"', page.body)
    assert asset is not None, page.body[:2000]
    answers = [nginx.request("GET", asset.group(1), host="tiktokclaim.org") for _ in range(3)]
    assert all(answer.status == 200 for answer in answers)
    assert "immutable" in (answers[-1].header("Cache-Control") or "")
    assert "max-age=31536000" in (answers[-1].header("Cache-Control") or "")
    assert answers[-1].header("X-Cache-Status") == "HIT"
    assert answers[-1].body == answers[0].body


def test_a_page_that_sets_a_cookie_is_never_served_from_the_cache(nginx: Nginx) -> None:
    answers = [nginx.request("GET", "/join", host="tiktokclaim.org") for _ in range(3)]
    assert all(answer.status == 200 for answer in answers)
    assert [answer.header("X-Cache-Status") for answer in answers] != ["HIT"] * 3
    assert not [answer for answer in answers if answer.header("X-Cache-Status") == "HIT"]
    cookies = [answer.body for answer in answers if answer.all("Set-Cookie")]
    assert cookies, "the join form sets a session cookie"


def big_post(nginx: Nginx, path: str, host: str, size: int) -> Answer:
    return nginx.request(
        "POST", path, host=host, body=b"x" * size, headers={"Content-Type": "application/octet-stream"}
    )


def test_a_body_over_the_limit_is_refused_at_the_edge(nginx: Nginx) -> None:
    refused = big_post(nginx, "/join", "tiktokclaim.org", 4 * 2**20)
    assert refused.status == 413
    assert "Te groot om te versturen" in refused.body and "Too large to send" in refused.body
    assert refused.header("Content-Security-Policy") == NGINX_ERROR_PAGE_CSP
    # Below nginx's limit, the app answers for itself.
    assert "Te groot" not in big_post(nginx, "/join", "tiktokclaim.org", 2 * 2**20 + 100).body
    # The ID copy's upload and the vault's pieces may be larger.
    assert "Te groot" not in big_post(nginx, "/join/identity", "tiktokclaim.org", 4 * 2**20).body
    assert "Te groot" not in big_post(nginx, "/vault-uploads/x/pieces/1", STAFF_HOST, PIECE_SIZE).body
    staff_refused = big_post(nginx, "/login", STAFF_HOST, 3 * 2**20)
    assert staff_refused.status == 413 and "Too large to send" in staff_refused.body


def test_the_app_counts_each_client_by_the_address_nginx_saw(nginx: Nginx) -> None:
    # The app limits login links opened from one network to 30 an hour (core/ratelimits.py), by the address in
    # X-Forwarded-For: without it every request would look as if it came from nginx.
    path = "/my/login/not-a-real-token"
    first = [nginx.request("GET", path, host="tiktokclaim.org", source="127.0.0.5").status for _ in range(31)]
    assert first[0] != 429 and first[-1] == 429
    # A header the client writes itself changes nothing: the app believes the address nginx added.
    spoofed = nginx.request(
        "GET", path, host="tiktokclaim.org", source="127.0.0.5", headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert spoofed.status == 429
    assert spoofed.header("Content-Security-Policy") != NGINX_ERROR_PAGE_CSP  # the app's 429, not the edge's
    assert nginx.request("GET", path, host="tiktokclaim.org", source="127.0.0.6").status != 429


def test_when_no_app_server_answers_nginx_says_so_in_both_languages(nginx_without_app: Nginx) -> None:
    for method in ("GET", "POST"):
        answer = nginx_without_app.request(method, "/join", host="tiktokclaim.org", source="127.0.0.7")
        assert answer.status == 502, method
        assert "Even geen antwoord" in answer.body and "No answer for a moment" in answer.body, method
        assert answer.header("Cache-Control") == "no-store"


def test_the_edge_limits_requests_per_address(nginx_without_app: Nginx) -> None:
    statuses = [
        nginx_without_app.request("GET", "/", host="tiktokclaim.org", source="127.0.0.8").status for _ in range(12)
    ]
    assert 429 in statuses and statuses[0] == 502
    limited = nginx_without_app.request("GET", "/", host="tiktokclaim.org", source="127.0.0.8")
    assert limited.status == 429 and "Too many requests" in limited.body
    assert nginx_without_app.request("GET", "/", host="tiktokclaim.org", source="127.0.0.9").status == 502


# --- certbot's deploy hook ---------------------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="the hook changes a file's group, as certbot runs it: as root")
def test_the_certbot_hook_lets_nginx_workers_read_a_new_key_and_reloads(tmp_path: Path) -> None:
    # certbot's layout: live/<host>/ holds links into archive/<host>/, both folders root's alone.
    letsencrypt = tmp_path / "letsencrypt"
    write_certificate(letsencrypt / "archive", "newclaim.example")
    archive = letsencrypt / "archive" / "newclaim.example"
    (archive / "privkey.pem").rename(archive / "privkey1.pem")
    live = letsencrypt / "live" / "newclaim.example"
    live.mkdir(parents=True)
    (live / "privkey.pem").symlink_to(archive / "privkey1.pem")
    for folder in (letsencrypt / "live", letsencrypt / "archive", live, archive):
        folder.chmod(0o700)
    (archive / "privkey1.pem").chmod(0o600)
    # systemctl is the machine's; here a stand-in notes what it was asked.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "systemctl.log"}\n')
    (bin_dir / "systemctl").chmod(0o755)
    subprocess.run(
        [str(REPO / "deploy" / "certbot-deploy-hook")],
        env={**os.environ, "RENEWED_LINEAGE": str(live), "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        check=True,
        timeout=30,
    )
    www_data = grp.getgrnam("www-data").gr_gid
    key = (archive / "privkey1.pem").stat()
    assert (key.st_gid, stat.S_IMODE(key.st_mode)) == (www_data, 0o640)
    for folder in (letsencrypt / "live", letsencrypt / "archive", live, archive):
        assert (folder.stat().st_gid, stat.S_IMODE(folder.stat().st_mode)) == (www_data, 0o750), folder
    assert (tmp_path / "systemctl.log").read_text() == "reload nginx\n"


# --- the cache's rules, with a stand-in app --------------------------------------------------------------------
# The app's public pages are marked cacheable by the app itself (Cache-Control); here a stand-in app on loopback
# answers with each kind of header, so that what nginx does with each is seen whatever the app's pages say today.


class StandInApp:
    """An HTTP server on loopback whose answer to each path a test sets; it counts the requests that reach it and
    keeps the headers of the last one."""

    def __init__(self, drop: bool = False) -> None:
        self.answers: dict[str, tuple[int, dict[str, str]]] = {}
        self.reached: dict[str, int] = {}
        self.last_headers: dict[str, dict[str, str]] = {}
        self.drop = drop  # read each request, then close the connection with no answer (a server killed mid-request)
        self.together = threading.Barrier(3, timeout=5)  # /together answers once three requests are in at once
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path
                stand_in.reached[path] = stand_in.reached.get(path, 0) + 1
                stand_in.last_headers[path] = dict(self.headers.items())
                if stand_in.drop:
                    self.close_connection = True
                    return
                status, headers = stand_in.answers.get(path, (404, {}))
                if path == "/together":
                    try:
                        stand_in.together.wait()
                    except threading.BrokenBarrierError:
                        status = 504
                body = f"{path} answer {stand_in.reached[path]}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInApp]:
    with StandInApp() as app:
        yield app


@pytest.fixture(scope="module")
def cache_nginx(tmp_path_factory: pytest.TempPathFactory, stand_in: StandInApp) -> Iterator[Nginx]:
    require_nginx()
    folder = tmp_path_factory.mktemp("nginx-cache")
    port = free_port()
    options = NginxOptions(
        app_servers=(f"127.0.0.1:{stand_in.port}",), plain_http_port=port, listen_address="127.0.0.1", cache_dir=folder
    )
    with Nginx(folder, render_nginx(["a.example", "b.example"], options), port) as server:
        yield server


def cache_statuses(nginx: Nginx, path: str, host: str = "a.example", times: int = 3) -> list[str | None]:
    return [nginx.request("GET", path, host=host).header("X-Cache-Status") for _ in range(times)]


def test_only_what_the_app_marks_public_is_cached(stand_in: StandInApp, cache_nginx: Nginx) -> None:
    public = {"Cache-Control": "public, max-age=60"}
    stand_in.answers.update(
        {
            "/public": (200, public),
            "/public-with-cookie": (200, {**public, "Set-Cookie": "lang=nl; Path=/"}),
            "/private": (200, {"Cache-Control": "private, no-store"}),
            "/no-store": (200, {"Cache-Control": "no-store"}),
            "/unmarked": (200, {}),
        }
    )
    assert cache_statuses(cache_nginx, "/public") == ["MISS", "HIT", "HIT"]
    assert stand_in.reached["/public"] == 1
    for path in ("/public-with-cookie", "/private", "/no-store", "/unmarked"):
        assert "HIT" not in cache_statuses(cache_nginx, path), path
        assert stand_in.reached[path] == 3, path
    # Each host has pages of its own.
    assert cache_statuses(cache_nginx, "/public", host="b.example", times=1) == ["MISS"]
    assert cache_nginx.request("GET", "/public", host="b.example").body == "/public answer 2"


def test_requests_for_a_private_page_reach_the_app_together(stand_in: StandInApp, cache_nginx: Nginx) -> None:
    # Nothing queues them one after the other (as proxy_cache_lock would, for a page it cannot know is private):
    # the stand-in answers only once three are in at the same time.
    stand_in.answers["/together"] = (200, {"Cache-Control": "private, no-store"})
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: cache_nginx.request("GET", "/together", host="a.example"), range(3)))
    assert [answer.status for answer in answers] == [200, 200, 200]


def test_an_old_copy_is_served_while_the_app_is_down_and_no_longer_than_the_app_allows_else(
    stand_in: StandInApp, cache_nginx: Nginx
) -> None:
    stand_in.answers["/down"] = (200, {"Cache-Control": "public, max-age=1"})
    stand_in.answers["/gone"] = (200, {"Cache-Control": "public, max-age=1, stale-while-revalidate=2"})
    first_down = cache_nginx.request("GET", "/down", host="a.example").body
    first_gone = cache_nginx.request("GET", "/gone", host="a.example").body
    stand_in.answers["/down"] = (503, {"Retry-After": "30"})
    stand_in.answers["/gone"] = (404, {})  # e.g. a campaign back to draft
    time.sleep(2.5)  # both copies are out of date (nginx counts whole seconds)
    down = cache_nginx.request("GET", "/down", host="a.example")
    assert (down.status, down.header("X-Cache-Status"), down.body) == (200, "STALE", first_down)
    # Once the app's stale-while-revalidate has passed, the app's 404 is what visitors get.
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        gone = cache_nginx.request("GET", "/gone", host="a.example")
        if gone.status == 404:
            break
        assert gone.body == first_gone
        time.sleep(0.5)
    assert gone.status == 404


def test_byte_ranges_of_a_vault_file_reach_the_app(stand_in: StandInApp, cache_nginx: Nginx) -> None:
    path = "/en/my/vault/files/7"
    stand_in.answers[path] = (200, {"Cache-Control": "private, no-store"})
    cache_nginx.request("GET", path, host="a.example", headers={"Range": "bytes=0-99", "If-Range": '"abc"'})
    assert stand_in.last_headers[path]["Range"] == "bytes=0-99"
    assert stand_in.last_headers[path]["If-Range"] == '"abc"'


@needs_nginx
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_post_an_app_server_got_is_never_sent_to_another(tmp_path: Path, method: str) -> None:
    # Two app servers, one of which takes each request and dies with it. A GET it took is sent to the other;
    # a POST it took is not (the first may have stored it), and its visitor gets the page that says to send again.
    with StandInApp(drop=True) as dying, StandInApp() as healthy:
        healthy.answers["/join"] = (200, {"Cache-Control": "private, no-store"})
        port = free_port()
        options = NginxOptions(
            app_servers=(f"127.0.0.1:{dying.port}", f"127.0.0.1:{healthy.port}"),
            plain_http_port=port,
            listen_address="127.0.0.1",
            cache_dir=tmp_path,
        )
        with Nginx(tmp_path, render_nginx(["a.example"], options), port) as nginx:
            body = b"email=someone%40example.org" if method == "POST" else b""
            answers = [nginx.request(method, "/join", host="a.example", body=body) for _ in range(2)]
    statuses = sorted(answer.status for answer in answers)
    assert dying.reached.get("/join") == 1  # round robin gave it one of the two, then it counted as down
    if method == "GET":
        assert statuses == [200, 200] and healthy.reached["/join"] == 2
    else:
        assert statuses == [200, 502] and healthy.reached["/join"] == 1
        cut_off = next(answer for answer in answers if answer.status == 502)
        assert "send it once more" in cut_off.body


# --- the app's own pages in the cache ----------------------------------------------------------------------------
# The real app behind nginx (the ``nginx`` fixture above): what it marks public is served from the cache, what is
# personal never is, and a new participant shows on the cached count within the 10 s the app promises.


def session_cookie(answer: Answer) -> str:
    """The ``name=value`` of the session cookie an answer sets."""
    [cookie] = [value.split(";", 1)[0] for value in answer.all("Set-Cookie") if value.startswith("claimsite_session=")]
    return cookie


def test_a_public_page_is_served_from_the_cache_without_a_cookie(nginx: Nginx) -> None:
    answers = [nginx.request("GET", "/palantirclaim/en/privacy", host="somi.nl") for _ in range(4)]
    assert all(answer.status == 200 for answer in answers)
    assert answers[-1].header("X-Cache-Status") == "HIT"
    assert all(not answer.all("Set-Cookie") for answer in answers)
    assert len({answer.body for answer in answers}) == 1
    etag = answers[-1].header("ETag")
    assert etag
    again = nginx.request("GET", "/palantirclaim/en/privacy", host="somi.nl", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == ""
    # A browser's language or an old cookie changes nothing: the page is its address's.
    other = nginx.request(
        "GET",
        "/palantirclaim/en/privacy",
        host="somi.nl",
        headers={"Accept-Language": "nl-NL,nl;q=0.9", "Cookie": "lang=nl; claimsite_session=x", "User-Agent": "b"},
    )
    assert other.status == 200 and other.body == answers[0].body and not other.all("Set-Cookie")


def test_two_visitors_through_the_cache_never_see_each_others_page(nginx: Nginx) -> None:
    """Two people fill in the join form at once, each from an address of their own: each sees their own address
    on the next page, however often they ask, and no personal answer ever comes from the cache."""
    host, seen = "tiktokclaim.org", {}
    for n, email in enumerate(("first.visitor@example.org", "second.visitor@example.org")):
        source = f"127.0.9.{n + 1}"
        form = nginx.request("GET", "/en/join", host=host, source=source)
        cookie = session_cookie(form)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.body)
        assert token is not None
        fields = {**VALID, "email": email, "csrf_token": token.group(1)}
        posted = nginx.request(
            "POST",
            "/en/join",
            host=host,
            source=source,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            body=urllib.parse.urlencode(fields).encode(),
        )
        assert posted.status == 302, posted.body[:500]
        cookie = session_cookie(posted) if posted.all("Set-Cookie") else cookie
        seen[email] = (cookie, source, posted.header("Location"))
    for _ in range(3):
        for email, (cookie, source, location) in seen.items():
            page = nginx.request(
                "GET", urllib.parse.urlsplit(location).path, host=host, source=source, headers={"Cookie": cookie}
            )
            assert page.status == 200
            assert email in page.body
            assert not [other for other in seen if other != email and other in page.body]
            assert page.header("X-Cache-Status") != "HIT"
            assert "no-store" in (page.header("Cache-Control") or "")
    # The same address without a session is nobody's page.
    anonymous = nginx.request("GET", urllib.parse.urlsplit(location).path, host=host)
    assert not [email for email in seen if email in anonymous.body]


def test_a_new_participant_shows_on_the_cached_count_within_ten_seconds(
    nginx: Nginx, app_server: Gunicorn, make_app: Any
) -> None:
    def count_line() -> str:
        page = nginx.request("GET", "/en/", host="tiktokclaim.org")
        assert page.status == 200
        found = re.search(r"(\d[\d,]*) (?:person has|people have) joined since", page.body)
        return found.group(1) if found else "0"

    for _ in range(3):  # the page is in the cache now
        before = count_line()
    with make_app(database_url=app_server.env["CLAIMSITE_DATABASE_URL"]).app_context():
        add_participants(current_app, 1)  # a tiktokclaim participant
    added = time.monotonic()
    while count_line() == before:
        assert time.monotonic() - added < MAX_COUNTER_AGE_SECONDS, "the cached count is older than promised"
        time.sleep(0.2)
    assert int(count_line().replace(",", "")) == int(before.replace(",", "")) + 1
