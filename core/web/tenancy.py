"""Which campaign a request is for (the addresses themselves, and the URLs built from them:
:mod:`core.campaigns.addresses`).

Resolution, in order: in development ``<slug>.localhost`` (any port) is that campaign; then an exact host from a
campaign's ``hosts:``; then the longest ``paths:`` prefix under the request's host (``somi.nl/palantirclaim``).
A request on a campaign's secondary address (``www.``, an old domain) is redirected (301) to the canonical one:
the first of ``hosts:``, else the first of ``paths:``. An unknown host reaches the app with no campaign, and
gets a 404.

The ``Host`` header is normalised once, here, before anything reads it: the default port of the public scheme
(``CLAIMSITE_PUBLIC_SCHEME``) is dropped, another form of a known host (capitals, a trailing dot) is redirected
to the canonical address, and a host with any other port is no campaign address (404) outside development. So
the app, its links and its page cache only ever see a campaign's own address. The staff console is picked by the
``Host`` header the connection came with, never by ``X-Forwarded-Host``: a forwarded header can make a request
look as if it came for a campaign, never for the console.

For a path campaign the prefix moves from ``PATH_INFO`` to ``SCRIPT_NAME``, so the app's routes, ``url_for`` and
cookie paths are the same for host and path campaigns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from core.campaigns import CampaignRegistry
from core.campaigns.addresses import DEV_SUFFIX, ENVIRON_DEV_HOST, Address, HostIndex, split_host
from core.campaigns.publishing import CampaignPublisher
from core.web.health import HEALTH_PATH, health

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from core.settings import Settings

LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
DEFAULT_PORTS = {"https": "443", "http": "80"}
# werkzeug's ProxyFix keeps the headers it replaced here (documented): the Host the connection itself came with.
ENVIRON_PROXY_FIX_ORIGINAL = "werkzeug.proxy_fix.orig"
ENVIRON_CAMPAIGN = "claimsite.campaign"
# Set only by the staff console's preview (core.staff.views.preview), never from a request's own headers.
ENVIRON_PREVIEW_STATUS = "claimsite.preview_status"


@dataclass(frozen=True)
class Match:
    """A request matched to a campaign."""

    slug: str
    prefix: str
    redirect_to: Address | None = None
    dev_host: bool = False


@dataclass(frozen=True)
class RequestHost:
    """A ``Host`` header, normalised: lower case, no trailing dot, no default port."""

    host: str
    port: str  # empty for none, or the default port of the public scheme
    tidy: bool  # the header was already written this way (apart from a default port)

    @classmethod
    def parse(cls, header: str, scheme: str) -> RequestHost:
        host, port = split_host(header)
        written = header.strip().partition(":")[0] if not header.strip().startswith("[") else host
        return cls(host, "" if port == DEFAULT_PORTS[scheme] else port, written == host)

    def __str__(self) -> str:
        return self.host + (f":{self.port}" if self.port else "")


def resolve(index: HostIndex, host: str, path: str, development: bool) -> Match | None:
    """The campaign for ``host`` (no port) and ``path``, or None for an unknown address."""
    if development and host.endswith(DEV_SUFFIX):
        slug = host[: -len(DEV_SUFFIX)]
        if slug in index.canonical and slug not in index.drafts:
            return Match(slug, "", dev_host=True)
        return None
    slug = index.exact.get(host)
    if slug is not None:
        here = Address(host)
        canonical = index.canonical[slug]
        return Match(slug, "", None if canonical == here else canonical)
    for prefix, slug in index.prefixed.get(host, ()):
        if path == prefix or path.startswith(prefix + "/"):
            here = Address(host, prefix)
            canonical = index.canonical[slug]
            return Match(slug, prefix, None if canonical == here else canonical)
    return None


def _quote_path(path: str) -> str:
    # PATH_INFO is bytes decoded as latin-1 (PEP 3333); put the original bytes back, percent-encoded.
    return quote(path.encode("latin-1"), safe="/:@!$&'()*+,;=-._~%")


def _redirect(location: str, start_response: StartResponse) -> Iterable[bytes]:
    body = b"Moved Permanently"
    start_response(
        "301 Moved Permanently",
        [("Location", location), ("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("Vary", "Host")],
    )
    return [body]


class TenancyMiddleware:
    """WSGI middleware: resolves the campaign, redirects secondary addresses, mounts path campaigns."""

    def __init__(
        self, app: WSGIApplication, registry: CampaignRegistry, settings: Settings, publisher: CampaignPublisher
    ) -> None:
        self.app = app
        self.registry = registry
        self.publisher = publisher
        self.settings = settings
        self._index: tuple[int, HostIndex] | None = None
        self.admin_host = settings.resolved_admin_host()
        self.staff_app: WSGIApplication | None = None  # core.staff, set by create_app when there is an admin host

    def index(self) -> HostIndex:
        snapshot = self.registry.snapshot
        if self._index is None or self._index[0] != snapshot.generation:
            self._index = (snapshot.generation, HostIndex.build(snapshot.campaigns))
        return self._index[1]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.settings.development:
            self.registry.refresh()  # an edited campaign file shows on the next request
        else:
            self.publisher.ensure_running()  # and elsewhere within seconds (core.campaigns.publishing)
        development, scheme = self.settings.development, self.settings.public_scheme
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return health(self.registry, start_response)
        if self.staff_app is not None:
            # The Host header itself (no SERVER_NAME fallback: ProxyFix sets that from X-Forwarded-Host too).
            own = RequestHost.parse(environ.get(ENVIRON_PROXY_FIX_ORIGINAL, environ).get("HTTP_HOST") or "", scheme)
            if own.host == self.admin_host and (development or not own.port):
                if not (own.tidy or development):
                    return _redirect(
                        f"{scheme}://{own}{_quote_path(path)}" + (f"?{query}" if query else ""), start_response
                    )
                environ["HTTP_HOST"] = str(own)  # the console never sees a forwarded host
                return self.staff_app(environ, start_response)
        seen = RequestHost.parse(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""), scheme)
        host = seen.host
        # Outside development an address with a port of its own is no campaign's: it would be echoed into links
        # and redirects, and make pages of its own in the page cache.
        match = resolve(self.index(), host, path, development) if development or not seen.port else None
        environ[ENVIRON_CAMPAIGN] = match.slug if match else None
        environ[ENVIRON_DEV_HOST] = bool(match and match.dev_host) or (
            development and (host in LOCAL_HOSTS or host.endswith(DEV_SUFFIX))
        )
        if match is None:
            return self.app(environ, start_response)
        environ["HTTP_HOST"] = str(seen)
        suffix = _quote_path(path[len(match.prefix) :]) + (f"?{query}" if query else "")
        target = match.redirect_to
        if target is None and not (seen.tidy or match.dev_host):  # e.g. TikTokClaim.ORG. -> tiktokclaim.org
            target = self.index().canonical[match.slug]
        if target is not None:
            return _redirect(f"{scheme}://{target}{suffix or '/'}", start_response)
        if match.prefix and path == match.prefix:
            return _redirect(
                f"{_quote_path(environ.get('SCRIPT_NAME', '') + path)}/" + (f"?{query}" if query else ""),
                start_response,
            )
        if match.prefix:
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + match.prefix
            environ["PATH_INFO"] = path[len(match.prefix) :]
        return self.app(environ, start_response)


def campaigns_at(index: HostIndex, host: str) -> set[str]:
    """The campaigns served at ``host`` (a whole host, a path under it, or ``<slug>.localhost`` in development)."""
    found = {index.exact[host]} if host in index.exact else set()
    found.update(slug for _prefix, slug in index.prefixed.get(host, ()))
    if host.endswith(DEV_SUFFIX) and host[: -len(DEV_SUFFIX)] in index.canonical.keys() - index.drafts:
        found.add(host[: -len(DEV_SUFFIX)])
    return found
