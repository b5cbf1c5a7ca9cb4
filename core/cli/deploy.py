"""``flask deploy ...``: the files that run the app in production, made from the campaign files.

``flask deploy nginx`` reads the campaign files as ``flask campaigns`` does (:class:`core.cli.campaigns.
CampaignSources`): no database and no secret, only the folders and ``CLAIMSITE_ADMIN_HOST``. Flask finds the group
through the ``flask.commands`` entry point (pyproject.toml), before it would load an app; an installation made
before that entry point existed finds it on the app's command line (core/cli/__init__.py), which needs the app's
settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask

from core.cli.campaigns import CampaignSources
from core.deploy.nginx import (
    ERROR_PAGES,
    DeployError,
    NginxOptions,
    campaign_hosts,
    hosts_without_certificate,
    render_nginx,
)

DEFAULTS = NginxOptions()


@click.group("deploy")
def deploy_cli() -> None:
    """Files that run the app in production, made from the campaign files (no database or secrets needed)."""


@deploy_cli.command("nginx")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write here (default: print)")
@click.option(
    "--app",
    "app_servers",
    multiple=True,
    default=DEFAULTS.app_servers,
    show_default=True,
    help="a gunicorn instance, host:port or unix:/path (repeat for each app server)",
)
@click.option(
    "--admin-host",
    default=lambda: os.environ.get("CLAIMSITE_ADMIN_HOST", ""),
    help="the staff console's host  [default: CLAIMSITE_ADMIN_HOST]",
)
@click.option("--plain-http", type=int, metavar="PORT", help="loopback testing: plain HTTP on PORT, no TLS")
@click.option("--listen", "listen_address", default="", help="listen on this address only (e.g. 127.0.0.1)")
@click.option("--http-port", default=DEFAULTS.http_port, show_default=True, type=int)
@click.option("--https-port", default=DEFAULTS.https_port, show_default=True, type=int)
@click.option(
    "--certificates",
    "certificate_dir",
    default=DEFAULTS.certificate_dir,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="a folder per host with fullchain.pem and privkey.pem (certbot's live/)",
)
@click.option(
    "--wildcard-certificate",
    "wildcards",
    multiple=True,
    metavar="*.DOMAIN=NAME",
    help="serve every DOMAIN subdomain with the wildcard certificate in the folder NAME (repeatable)",
)
@click.option("--acme-webroot", default=DEFAULTS.acme_webroot, show_default=True, type=click.Path(path_type=Path))
@click.option("--cache-dir", default=DEFAULTS.cache_dir, show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--error-pages",
    "error_pages_dir",
    default=ERROR_PAGES,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="nginx's own error pages (this checkout's deploy/error_pages)",
)
@click.option(
    "--requests-per-second",
    default=DEFAULTS.requests_per_second,
    show_default=True,
    type=click.IntRange(min=0),
    help="page requests a second per client address at the edge, cached ones too (0: no limit, for a load test)",
)
@click.option(
    "--connections-per-address",
    default=DEFAULTS.connections_per_address,
    show_default=True,
    type=click.IntRange(min=0),
    help="open connections per client address (0: no limit)",
)
def nginx(output: Path | None, **values: object) -> None:
    """Print (or write) nginx's configuration for every published campaign's host: put it in
    /etc/nginx/conf.d/claimsite.conf. A new campaign needs no change to it (only its certificate)."""
    values["app_servers"] = tuple(values["app_servers"])  # type: ignore[arg-type]
    values["wildcards"] = tuple(_wildcard(text) for text in values["wildcards"])  # type: ignore[attr-defined]
    values["plain_http_port"] = values.pop("plain_http")
    values["admin_host"] = str(values["admin_host"]).strip().lower().rstrip(".")
    options = NginxOptions(**values)  # type: ignore[arg-type]
    snapshot = CampaignSources.from_environment().registry.check()
    for problem in snapshot.errors:
        click.secho(f"warning: {problem} (its hosts reach the app through the catch-all)", fg="yellow", err=True)
    hosts = campaign_hosts(snapshot.campaigns)
    try:
        text = render_nginx(hosts, options)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    for host in hosts_without_certificate(hosts, options):
        click.echo(f"no certificate in {options.certificate_dir}/{host}/ yet: the catch-all serves {host}", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}; check it with: nginx -t", err=True)


def _wildcard(text: str) -> tuple[str, str]:
    pattern, equals, name = text.partition("=")
    if not equals:
        raise click.BadParameter(
            f"{text!r}: give it as *.example.org=CERTIFICATE-NAME", param_hint="--wildcard-certificate"
        )
    return pattern.strip().lower(), name.strip()


def init_app(app: Flask) -> None:
    app.cli.add_command(deploy_cli)
