"""The nginx configuration in front of the app servers, generated from the campaign files (``flask deploy nginx``).

nginx decides nothing the app decides. Which host is which campaign is the app's choice: a catch-all server block
(``default_server``) passes any host to the app, so a campaign added later is served with no change to nginx; the
per-host blocks exist only so each host has its own certificate loaded at start-up. What may be cached is the app's
choice too: nginx caches a response only when the app says so (``Cache-Control: public, max-age=...``), never one
with ``Set-Cookie``, ``private`` or ``no-store``, because the configuration sets no ``proxy_cache_valid`` and ignores
no header of the app's; and it serves an old copy only while the app cannot answer or within the app's own
``stale-while-revalidate`` (nginx's ``updating`` would keep serving a page the app has stopped serving, and its
cache lock would queue the requests for a private page: the template says why, the tests show both). And nginx
neither hides nor replaces a header the app sets (its security headers), nor replaces the app's own error pages.

Certificates: a host whose certificate is in ``<certificate dir>/<host>/`` (or a wildcard's folder that covers it)
when the file is generated gets its own server block with it; any other host reaches the catch-all, which loads
the certificate of the name the browser asked for (SNI) at each handshake, so a certificate certbot obtained after
the last generation works at once (nginx's worker must be able to read it: ``deploy/certbot-deploy-hook``).

The template is ``core/deploy/templates/nginx.conf.j2``; ``tests/test_deploy_nginx.py`` runs what it makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import Address
from core.settings import PROJECT_ROOT
from core.staff import vault_upload
from core.web.identity_upload import MAX_UPLOAD

TEMPLATES = Path(__file__).resolve().parent / "templates"
ERROR_PAGES = PROJECT_ROOT / "deploy" / "error_pages"
MIB = 1 << 20
# The campaign app's MAX_CONTENT_LENGTH (core/__init__.py) and the staff console's (core/staff/__init__.py).
APP_BODY_LIMIT = 2 * MIB
STAFF_BODY_LIMIT = 64 * 1024
# A form's body is larger than the file in it (multipart boundaries, the other fields): nginx allows a mebibyte
# more than the app, so a body just over the app's limit gets the app's own message in the visitor's language,
# and only a body far too large for any form is cut off at the edge (413).
ROOM = 1 * MIB
# The one console request that carries a whole piece of a vault file (``staff.vault_upload_piece``).
PIECE_PATH = r"^/vault-uploads/[^/]+/pieces/[0-9]+$"
# The ID copy's upload, in the join flow and on the participant's page, under any language and path prefix.
IDENTITY_PATH = r"/(join/identity|my/identity/[^/]+)$"
# A participant's vault file, fetched in byte ranges (core/web/views/vault.py), under any language and path prefix.
VAULT_FILE_PATH = r"/my/vault/files/[0-9]+$"
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
APP_SERVER = re.compile(r"^(?:unix:/[^\s;{}]+|[a-z0-9.-]+:[0-9]{1,5}|\[[0-9a-f:]+\]:[0-9]{1,5})$")
CERTIFICATE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
SAFE_PATH = re.compile(r"^/[^\s;{}'\"$\\]*$")


class DeployError(ValueError):
    """An option nginx could not take (a host, address or path it would misread), said in plain words."""


@dataclass(frozen=True)
class NginxOptions:
    """What the configuration is made for. Every path is one on the host nginx runs on."""

    app_servers: tuple[str, ...] = ("127.0.0.1:8000",)  # gunicorn instances, host:port or unix:/path
    admin_host: str = ""  # CLAIMSITE_ADMIN_HOST: the staff console's server block, never cached
    plain_http_port: int | None = None  # loopback testing: plain HTTP on this port, no TLS and no redirect
    listen_address: str = ""  # empty: every address; "127.0.0.1" for a test
    http_port: int = 80
    https_port: int = 443
    certificate_dir: Path = Path("/etc/letsencrypt/live")
    # Wildcard certificates: ("*.somi.nl", "somi.nl") serves every somi.nl subdomain with the certificate in
    # <certificate_dir>/somi.nl/ unless a host has one of its own, so a campaign on a new subdomain needs nothing.
    wildcards: tuple[tuple[str, str], ...] = ()
    acme_webroot: Path = Path("/var/lib/claimsite/acme")  # certbot --webroot -w this
    cache_dir: Path = Path("/var/cache/nginx/claimsite")
    error_pages_dir: Path = ERROR_PAGES
    # Page requests per client address (0: no limit), cached ones too (nginx counts before it looks in the cache);
    # the burst is five seconds' worth. Generous: many visitors may share one address (a mobile carrier's NAT).
    requests_per_second: int = 50
    connections_per_address: int = 100  # open connections per client address (0: no limit)
    keepalive: int = 16  # idle connections to the app servers kept open, per nginx worker

    def check(self) -> None:
        """Raise :class:`DeployError` for anything that would break the configuration or change its meaning."""
        if not self.app_servers:
            raise DeployError("give at least one app server (--app 127.0.0.1:8000)")
        for server in self.app_servers:
            if not APP_SERVER.match(server):
                raise DeployError(f"app server {server!r}: give host:port (127.0.0.1:8001) or unix:/path/to/socket")
        if self.admin_host and not HOST_NAME.match(self.admin_host):
            raise DeployError(f"admin host {self.admin_host!r}: give a domain name in lower case, with no port or path")
        for name, path in (
            ("certificate folder", self.certificate_dir),
            ("ACME webroot", self.acme_webroot),
            ("cache folder", self.cache_dir),
            ("error pages folder", self.error_pages_dir),
        ):
            if not SAFE_PATH.match(str(path)):
                raise DeployError(
                    f"{name} {path}: give an absolute path without spaces, quotes, ';', '{{', '}}' or '$'"
                )
        for pattern, name in self.wildcards:
            if not (pattern.startswith("*.") and HOST_NAME.match(pattern[2:]) and "." in pattern[2:]):
                raise DeployError(f"wildcard {pattern!r}: give it as *.example.org=CERTIFICATE-NAME")
            if not CERTIFICATE_NAME.match(name):
                raise DeployError(f"certificate name {name!r}: give the name of its folder in {self.certificate_dir}")
        if self.listen_address and not re.match(r"^(?:[0-9.]+|\[[0-9a-f:]+\])$", self.listen_address):
            raise DeployError(f"listen address {self.listen_address!r}: give an IP address (127.0.0.1 or [::1])")


@dataclass(frozen=True)
class ServerBlock:
    """A host with a block of its own, and the certificate it loads at start-up (None in plain HTTP)."""

    host: str
    certificate: Path | None


def campaign_hosts(campaigns: Mapping[str, LoadedCampaign]) -> list[str]:
    """Every host a published campaign is served at (its ``hosts:`` and the hosts of its ``paths:``), sorted.

    A draft's hosts are left out: a draft is served at none of its addresses (only as a staff preview), and its
    name is news; once it is published its hosts reach the app through the catch-all until the file is made again.
    """
    hosts: set[str] = set()
    for loaded in campaigns.values():
        if loaded.campaign.status == "draft":
            continue
        hosts.update(loaded.campaign.hosts)
        hosts.update(Address.parse(path).host for path in loaded.campaign.paths)
    return sorted(hosts)


def hosts_without_certificate(hosts: Iterable[str], options: NginxOptions) -> list[str]:
    """The hosts that get no server block of their own yet, for want of a certificate (none in plain HTTP)."""
    if options.plain_http_port is not None:
        return []
    return sorted(host for host in set(hosts) if _certificate(options, host) is None)


def _certificate(options: NginxOptions, host: str) -> Path | None:
    """The folder of ``host``'s certificate: its own, else a wildcard's that covers it (one label deep, as a
    certificate's wildcard does), if the files are there."""
    names = [host] + [name for pattern, name in options.wildcards if host.partition(".")[2] == pattern[2:]]
    for name in names:
        folder = options.certificate_dir / name
        if (folder / "fullchain.pem").is_file() and (folder / "privkey.pem").is_file():
            return folder
    return None


def _nginx_size(limit: int) -> str:
    return f"{-(-limit // 1024)}k" if limit < MIB else f"{-(-limit // MIB)}m"


def render_nginx(hosts: Iterable[str], options: NginxOptions) -> str:
    """The configuration, a file for nginx's ``http`` context (``/etc/nginx/conf.d/claimsite.conf``).

    Raises :class:`DeployError` for an option or host nginx could not take.
    """
    options.check()
    wanted = sorted(set(hosts) - {options.admin_host})
    for host in wanted:
        if not HOST_NAME.match(host):
            raise DeployError(f"host {host!r}: not a domain name nginx can match; check the campaign file")
    plain = options.plain_http_port is not None
    blocks = [ServerBlock(host, None if plain else _certificate(options, host)) for host in wanted]
    own = [block for block in blocks if plain or block.certificate is not None]
    waiting = [block.host for block in blocks if not plain and block.certificate is None]
    staff = None
    if options.admin_host:
        staff = ServerBlock(options.admin_host, None if plain else _certificate(options, options.admin_host))
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 (an nginx file, not HTML: every value is checked above instead)
    )
    return environment.get_template("nginx.conf.j2").render(
        options=options,
        plain=plain,
        address=f"{options.listen_address}:" if options.listen_address else "",
        own_blocks=own,
        waiting=waiting,
        staff=staff,
        page_body=_nginx_size(APP_BODY_LIMIT + ROOM),
        identity_body=_nginx_size(MAX_UPLOAD + ROOM),
        identity_path=IDENTITY_PATH,
        vault_file_path=VAULT_FILE_PATH,
        staff_body=_nginx_size(STAFF_BODY_LIMIT + ROOM),
        piece_body=_nginx_size(vault_upload.PIECE_SIZE + ROOM),
        piece_path=PIECE_PATH,
        burst=max(1, options.requests_per_second * 5),
    )
