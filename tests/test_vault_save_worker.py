"""The vault's saving service worker as the server serves it (core.web.views.vault.save_worker): a script in the
vault page's save/ folder, so its scope is that folder and nothing else of the site, never cached, under the site's
security headers; and a save link no worker answered gets 204, which neither navigates nor downloads. What the
worker does is tested in a browser: tests/browser/test_vault_files.py."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.test_signup import TIKTOK


def test_the_worker_is_served_in_the_folder_it_serves_and_never_cached(client: FlaskClient) -> None:
    for path in ("/my/vault/save/worker.js", "/en/my/vault/save/worker.js"):
        response = client.get(path, base_url=TIKTOK)
        assert response.status_code == 200, path
        assert response.mimetype == "text/javascript"
        assert response.headers["Cache-Control"] == "private, no-store"
        assert "Service-Worker-Allowed" not in response.headers  # no scope wider than its own folder
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert b'self.addEventListener("fetch"' in response.data
        assert b"caches." not in response.data  # it keeps nothing


def test_a_save_link_no_worker_answered_gets_nothing(client: FlaskClient) -> None:
    response = client.get("/en/my/vault/save/0123456789abcdef0123456789abcdef", base_url=TIKTOK)
    assert response.status_code == 204 and response.data == b""
