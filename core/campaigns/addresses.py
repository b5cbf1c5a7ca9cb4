"""Where each campaign is served, and the one function that builds every campaign URL.

A campaign's addresses are the ``hosts:`` and ``paths:`` of its file; the first is the canonical one, which links
point at (which request belongs to which campaign is :mod:`core.web.tenancy`'s part). In development every campaign
is also ``<slug>.localhost``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, request

from core.campaigns import LoadedCampaign
from core.site import site

DEV_SUFFIX = ".localhost"
# Set by the tenancy middleware: this request came to ``<slug>.localhost`` (or a local host) in development.
ENVIRON_DEV_HOST = "claimsite.dev_host"


@dataclass(frozen=True)
class Address:
    """Where a campaign is served: a host, and a path prefix under it (empty for a whole host)."""

    host: str
    prefix: str = ""

    @classmethod
    def parse(cls, text: str) -> Address:
        host, _, path = text.partition("/")
        return cls(host, f"/{path}" if path else "")

    def __str__(self) -> str:
        return self.host + self.prefix


@dataclass(frozen=True)
class HostIndex:
    """Lookup tables built once per campaign reload."""

    exact: Mapping[str, str]
    prefixed: Mapping[str, list[tuple[str, str]]]
    canonical: Mapping[str, Address]  # every campaign's, drafts too (their preview pages link to themselves)
    drafts: frozenset[str] = frozenset()  # served at none of their addresses, only as a staff preview

    @classmethod
    def build(cls, campaigns: Mapping[str, LoadedCampaign]) -> HostIndex:
        exact: dict[str, str] = {}
        prefixed: dict[str, list[tuple[str, str]]] = {}
        canonical: dict[str, Address] = {}
        drafts = set()
        for slug, loaded in campaigns.items():
            addresses = [Address(h) for h in loaded.campaign.hosts] + [Address.parse(p) for p in loaded.campaign.paths]
            canonical[slug] = addresses[0]
            if loaded.campaign.status == "draft":
                drafts.add(slug)
                continue
            for address in addresses:
                if address.prefix:
                    prefixed.setdefault(address.host, []).append((address.prefix, slug))
                else:
                    exact[address.host] = slug
        for entries in prefixed.values():
            entries.sort(key=lambda entry: len(entry[0]), reverse=True)  # longest prefix wins
        return cls(exact, prefixed, canonical, frozenset(drafts))


def split_host(host_header: str) -> tuple[str, str]:
    """('Example.org.:8080') -> ('example.org', '8080'); IPv6 literals keep their brackets."""
    host_header = host_header.strip().lower()
    if host_header.startswith("["):
        host, _, rest = host_header.partition("]")
        return host + "]", rest.removeprefix(":")
    host, _, port = host_header.partition(":")
    return host.rstrip("."), port


def campaign_url(
    loaded: LoadedCampaign, endpoint: str = "pages.landing", *, language: str | None = None, **values: Any
) -> str:
    """The absolute URL of a page of any campaign: the one function that builds campaign URLs.

    It works for host and path campaigns, for the current campaign and its sisters, in a request or outside one
    (mail). In development, when the request came to ``*.localhost`` (or there is no request), it points at
    ``http://<slug>.localhost:<port>``; otherwise at the campaign's canonical address.
    ``language`` picks the language version (``None`` or the default language: the unprefixed URL).
    """
    settings = site().settings
    slug = loaded.campaign.slug
    on_dev_host = request.environ.get(ENVIRON_DEV_HOST, False) if has_request_context() else settings.development
    if on_dev_host:
        port = split_host(request.host)[1] if has_request_context() else str(settings.port)
        host, prefix, scheme = f"{slug}{DEV_SUFFIX}" + (f":{port}" if port else ""), "", "http"
    else:
        address = site().tenancy.index().canonical[slug]
        host, prefix, scheme = address.host, address.prefix, settings.public_scheme
    if language and language != loaded.campaign.default_language:
        values["lang"] = language
    adapter = current_app.url_map.bind(host, script_name=prefix or "/", url_scheme=scheme)
    return adapter.build(endpoint, values, force_external=True)
