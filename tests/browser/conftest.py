"""Browser tests: the real app served on loopback, driven by Debian's chromium through Playwright.

Playwright's own browser download cannot work offline, so the tests launch ``/usr/bin/chromium``
(``make browser-deps`` installs it). A missing browser fails the tests: CI must never pass without them.
Screenshots go to ``test-artifacts/screenshots/`` and their paths are printed at the end of the run. Beside them,
every page of ours a test's browser loads is saved as served (the response body, not the DOM) as
``<test>-<nn>-<path>.html``, so a person can run the Nu HTML checker over the whole flow:
``java -jar vnu.jar --errors-only test-artifacts/screenshots/*.html`` (CI has no vnu; the suite does not run it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import BaseWSGIServer, make_server

from core import create_app
from core.data.migrations import upgrade
from tests.conftest import STRIPE_KEY, STRIPE_WEBHOOK_SECRET
from tests.stripe_server import Delivery, RecordedRequest, StripeServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Nothing may leave the machine: without a dead proxy chromium still looks up Google's hosts in the
    # background. Loopback and *.localhost bypass the proxy, so the app is still reached.
    "--proxy-server=127.0.0.1:9",
    # The server listens on 127.0.0.1 only; chromium could otherwise try ::1 first for *.localhost.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]

# Screenshots saved during the run, listed in the terminal summary so a person can look at them.
_saved_screenshots: list[Path] = []
# Pages saved during the run (HTML as served), counted in the terminal summary.
_saved_pages: list[Path] = []


@dataclass
class LiveServer:
    """The app served on 127.0.0.1:port in a daemon thread; ``app`` lets a test run its job worker, and
    ``instance_dir`` holds its database and (mail being written to files in development) ``outbox/``."""

    port: int
    server: BaseWSGIServer
    thread: threading.Thread
    app: Flask
    instance_dir: Path

    def host(self, slug: str) -> str:
        return f"{slug}.localhost"

    def url(self, slug: str, path: str = "/") -> str:
        return f"http://{self.host(slug)}:{self.port}{path}"


@contextlib.contextmanager
def serve_app(
    instance_dir: Path,
    stripe_environ: Mapping[str, str] | None = None,
    thread_name: str = "browser-test-server",
    campaigns_dir: Path | None = None,
) -> Iterator[LiveServer]:
    """Serve the real app over the real ``campaigns/`` folder until the block ends, in development so
    ``<slug>.localhost`` is served, with its own SQLite database in ``instance_dir`` (migrated before it serves).

    The port is below 32768 (higher ones can be taken as outgoing ports); the app is told its port so links
    built outside a request point at this server. Payment providers read their keys from the environment when
    the app is made: it is made with ``stripe_environ`` as its only ``CLAIMSITE_STRIPE_*`` variables (none: the
    test checkout), so keys in the developer's own environment never reach these tests. ``campaigns_dir``: another
    folder of campaigns than the real one (a test that changes a campaign serves a copy).
    """
    database_url = f"sqlite:///{instance_dir / 'claimsite.sqlite3'}"
    upgrade(database_url)
    candidates = random.sample(range(20000, 32768), 50)
    for port in candidates:
        with pytest.MonkeyPatch.context() as environment:
            for name in list(os.environ):
                if name.startswith("CLAIMSITE_STRIPE_"):
                    environment.delenv(name)
            for name, value in (stripe_environ or {}).items():
                environment.setenv(name, value)
            settings = {"env": "development", "instance_dir": instance_dir, "port": port, "database_url": database_url}
            if campaigns_dir is not None:
                settings["campaigns_dir"] = campaigns_dir
            app = create_app(settings)
        try:
            server = make_server("127.0.0.1", port, app, threaded=True)
        except OSError as exc:
            app.extensions["claimsite.db"].engine.dispose()
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        break
    else:
        pytest.fail(f"no free port among {len(candidates)} tried between 20000 and 32767")
    thread = threading.Thread(target=server.serve_forever, name=thread_name, daemon=True)
    thread.start()
    try:
        yield LiveServer(port, server, thread, app, instance_dir)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["claimsite.db"].engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app as ``make run`` serves it: no payment provider keys, so a paid campaign gets the test checkout."""
    with serve_app(tmp_path_factory.mktemp("browser-instance")) as server:
        yield server


@dataclass
class StripeLiveServer:
    """A live server that takes payments through Stripe Checkout (``site``), and the Stripe stand-in it talks to
    with the real stripe library (``stripe``), which posts its webhooks back to ``site``."""

    site: LiveServer
    stripe: StripeServer

    def webhook_deliveries(self) -> list[Delivery]:
        with self.stripe.lock:
            return list(self.stripe.deliveries)

    def session_creations(self) -> list[RecordedRequest]:
        """Every ``POST /v1/checkout/sessions`` the app made (a replayed idempotent one included)."""
        with self.stripe.lock:
            return [r for r in self.stripe.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]


@pytest.fixture(scope="module")
def stripe_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeLiveServer]:
    """A second live server (its own instance folder, database and port) made with Stripe keys in the environment,
    and a :class:`tests.stripe_server.StripeServer` delivering every event to its webhook endpoint.

    The keys are in the environment only while the app is made (providers read them then), so other apps, such as
    ``live_server``, keep the test checkout. Every test may add sign-ups, sessions and deliveries: count from what
    was there when it started.
    """
    instance_dir = tmp_path_factory.mktemp("browser-stripe-instance")
    with StripeServer(api_key=STRIPE_KEY) as stripe_server:
        stripe_environ = {
            "CLAIMSITE_STRIPE_SECRET_KEY": STRIPE_KEY,
            "CLAIMSITE_STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
            "CLAIMSITE_STRIPE_API_BASE": stripe_server.url,
        }
        with serve_app(instance_dir, stripe_environ, thread_name="browser-stripe-site") as site:
            # Python may not resolve *.localhost: connect to loopback and name the campaign in the Host header.
            stripe_server.add_webhook_endpoint(
                f"http://127.0.0.1:{site.port}/payments/stripe/webhook",
                STRIPE_WEBHOOK_SECRET,
                host=f"{site.host('tiktokclaim')}:{site.port}",
            )
            yield StripeLiveServer(site, stripe_server)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Debian's chromium, headless, cut off from every host but loopback."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}, which is missing: "
            "run `make browser-deps` (it runs `apt-get install chromium`) and run the tests again",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PhonePage:
    """A page in a fresh phone-sized context, with every URL it requested, and the pages of ours it loaded as
    served (``served``: url -> the HTML of its last load)."""

    page: Page
    requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)  # what the browser refused under the site's CSP
    served: dict[str, str] = field(default_factory=dict)

    def foreign_requests(self, allowed_host: str, port: int, also_allowed: Iterable[tuple[str, int]] = ()) -> list[str]:
        """Requested URLs that went anywhere but ``allowed_host:port`` or one of the ``also_allowed`` (host, port)
        pairs (data: and blob: URLs stay local)."""
        allowed = {(allowed_host, port), *also_allowed}
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if (parts.hostname, parts.port) not in allowed:
                foreign.append(url)
        return foreign


def _page_file_name(test: str, number: int, url: str) -> str:
    """``<test>-<nn>-<host and path>.html``: one file per page load, in the order of the flow."""
    parts = urlsplit(url)
    where = re.sub(r"[^A-Za-z0-9]+", "_", f"{parts.hostname}{parts.path}").strip("_")[:80]
    return f"{re.sub(r'[^A-Za-z0-9]+', '_', test).strip('_')}-{number:02d}-{where}.html"


def _page_saver(phone_page: PhonePage, test: str) -> Callable[[Response], None]:
    """A response handler that saves each HTML document of ours (a ``*.localhost`` address: not the Stripe stand-in's
    page) as served. The body is read when the response arrives: once the browser moves on it may be gone."""

    def save(response: Response) -> None:
        request = response.request
        host = urlsplit(response.url).hostname or ""
        if request.resource_type != "document" or not host.endswith(".localhost") or not 200 <= response.status < 600:
            return
        if 300 <= response.status < 400 or "text/html" not in (response.header_value("content-type") or ""):
            return
        try:
            html = response.text()
        except PlaywrightError:  # a document the browser left before its body arrived
            return
        phone_page.served[response.url] = html
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / _page_file_name(test, len(_saved_pages) + 1, response.url)
        path.write_text(html, encoding="utf-8")
        _saved_pages.append(path)

    return save


@pytest.fixture
def phone(chromium_browser: Browser, request: pytest.FixtureRequest) -> Iterator[PhonePage]:
    """A 390×844 touch screen with a Dutch browser (a page in another language suggests the Dutch one). Every page
    of ours it loads is saved as served beside the screenshots."""
    context = chromium_browser.new_context(
        viewport=PHONE, screen=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, locale="nl-NL"
    )
    try:
        page = context.new_page()
        phone_page = PhonePage(page)
        page.on("request", lambda request: phone_page.requests.append(request.url))
        page.on("response", _page_saver(phone_page, request.node.name))
        page.on(
            "console",
            lambda message: (
                phone_page.csp_violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        yield phone_page
    finally:
        context.close()
    # Every browser test also checks that the site's Content Security Policy blocked nothing it needs.
    assert phone_page.csp_violations == [], "the Content Security Policy refused something on these pages"


@pytest.fixture
def save_screenshot():  # type: ignore[no-untyped-def]
    """``save_screenshot(page, name)`` saves a full-page PNG under test-artifacts/screenshots/;
    ``element=`` a locator saves only that element."""

    def save(page: Page, name: str, element: Locator | None = None) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        if element is not None:
            element.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=True)
        _saved_screenshots.append(path)
        print(f"screenshot: {path}")
        return path

    return save


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _saved_screenshots:
        terminalreporter.section("browser screenshots")
        for path in _saved_screenshots:
            terminalreporter.write_line(str(path))
    if _saved_pages:
        terminalreporter.section("pages as served")
        terminalreporter.write_line(f"{len(_saved_pages)} HTML files in {SCREENSHOT_DIR} (check: vnu --errors-only)")
