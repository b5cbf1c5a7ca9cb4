"""Security headers on every kind of response, and cookies that stay on the site."""

from __future__ import annotations

import pytest
from flask import Flask

TIKTOK = "https://tiktokclaim.org"


def test_every_page_kind_has_the_headers(shipped_app: Flask) -> None:
    client = shipped_app.test_client()
    for path in ("/", "/en/", "/en/join", "/privacy", "/en/no-such-page", "/scoreboard"):
        response = client.get(path, base_url=TIKTOK)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "form-action 'self'" in policy and "object-src 'none'" in policy
        assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"


def assert_security_headers(response, kind: str, hsts: bool = True) -> None:
    assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", ""), kind
    assert "default-src 'self'" in response.headers["Content-Security-Policy"], kind
    assert response.headers.get("Cross-Origin-Resource-Policy") == "same-origin", kind
    assert response.headers.get("X-Content-Type-Options") == "nosniff", kind
    assert response.headers.get("Referrer-Policy") == "same-origin", kind
    assert response.headers.get("X-Frame-Options") == "DENY", kind
    assert ("Strict-Transport-Security" in response.headers) is hsts, kind


def test_redirects_unknown_hosts_and_the_staff_console_have_the_same_headers(make_app) -> None:
    client = make_app(admin_host="staff.example").test_client()
    answers = {
        "www redirect": client.get("/en/", base_url="https://www.tiktokclaim.org"),
        "capitals redirect": client.get("/", base_url=TIKTOK, headers={"Host": "TikTokClaim.ORG"}),
        "prefix redirect": client.get("/alledata", base_url="https://somi.nl"),
        "unknown host": client.get("/", base_url="https://unknown.example"),
        "staff console": client.get("/login", base_url="https://staff.example"),
        "staff console redirect": client.get("/", base_url="https://staff.example"),
    }
    assert [a.status_code for a in answers.values()] == [301, 301, 301, 404, 200, 302]
    for kind, response in answers.items():
        assert_security_headers(response, kind)
    assert_security_headers(client.get("/en/", base_url="http://www.tiktokclaim.org"), "plain http", hsts=False)


def test_no_hsts_over_plain_http(dev_app: Flask) -> None:
    response = dev_app.test_client().get("/", base_url="http://tiktokclaim.localhost:5000")
    assert response.status_code == 200 and "Strict-Transport-Security" not in response.headers
    assert "Content-Security-Policy" in response.headers


def session_cookie(response, name: str = "claimsite_session") -> str:
    return next(value for key, value in response.headers.items() if key == "Set-Cookie" and name in value)


def test_session_cookie_is_secure_httponly_and_samesite(shipped_app: Flask) -> None:
    session = session_cookie(shipped_app.test_client().get("/en/join", base_url=TIKTOK))
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session


def test_cookies_on_https_are_host_cookies_where_the_path_allows(make_app, dev_app: Flask) -> None:
    client = make_app(admin_host="staff.example").test_client()
    host_campaign = session_cookie(client.get("/en/join", base_url=TIKTOK))
    # __Host-: only ever set by this very host, over HTTPS, for the whole site (a sister subdomain cannot plant it)
    assert host_campaign.startswith("__Host-claimsite_session=")
    assert "Secure" in host_campaign and "Path=/;" in host_campaign and "Domain" not in host_campaign
    path_campaign = session_cookie(client.get("/palantirclaim/en/join", base_url="https://somi.nl"))
    assert path_campaign.startswith("__Secure-claimsite_session=") and "Path=/palantirclaim" in path_campaign
    staff = session_cookie(client.get("/login", base_url="https://staff.example"), "claimsite_staff")
    assert staff.startswith("__Host-claimsite_staff=") and "Secure" in staff and "Path=/;" in staff
    assert "Domain" not in staff
    # Plain-HTTP development keeps the plain names (browsers refuse a __Host- cookie without Secure).
    dev = dev_app.test_client()
    assert session_cookie(dev.get("/en/join", base_url="http://tiktokclaim.localhost:5000")).startswith(
        "claimsite_session="
    )
    assert session_cookie(dev.get("/login", base_url="http://staff.localhost:5000"), "claimsite_staff").startswith(
        "claimsite_staff="
    )


@pytest.mark.databases("sqlite")
def test_the_payment_page_may_post_to_the_checkout_only(db_app: Flask) -> None:
    from tests.test_signup import code_of, deliver, post_code, post_form, sign_form

    client = db_app.test_client()
    assert post_form(client, "en").status_code == 302
    [mail] = deliver(db_app)
    assert post_code(client, code_of(mail), "en").status_code == 302
    signed = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
    policy = client.get(signed.location, base_url=TIKTOK).headers["Content-Security-Policy"]
    assert policy.endswith("form-action 'self'")  # the test checkout is on the site itself


@pytest.mark.databases("sqlite")
def test_rate_limit_answers_429_in_the_visitors_language_with_retry_after(db_app: Flask) -> None:
    from core.ratelimits import RULES
    from tests.test_signup import csrf_token, post_form

    client = db_app.test_client()
    assert post_form(client).status_code == 302  # a sign-up to check codes for (Dutch: the default language)
    allowed = int(RULES["code-check-ip"].split("/")[0])
    token = csrf_token(client, "/join/verify")
    answers = [
        client.post("/join/verify", data={"code": "000000", "csrf_token": token}, base_url=TIKTOK).status_code
        for _ in range(allowed + 1)
    ]
    assert 429 not in answers[:allowed] and answers[-1] == 429
    refused = client.post("/join/verify", data={"code": "000000", "csrf_token": token}, base_url=TIKTOK)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 3600
    page = refused.get_data(as_text=True)
    assert "Te veel pogingen" in page and 'lang="nl"' in page
    english = client.post("/en/join/verify", data={"code": "000000", "csrf_token": token}, base_url=TIKTOK)
    assert english.status_code == 429 and "Too many attempts" in english.get_data(as_text=True)


def test_oversized_requests_are_refused_with_a_page(shipped_app: Flask) -> None:
    client = shipped_app.test_client()
    huge = client.post("/en/join", data={"name": "x" * (3 * 1024 * 1024)}, base_url=TIKTOK)
    assert huge.status_code == 413
    page = huge.get_data(as_text=True)
    assert "This request could not be handled" in page and "Traceback" not in page
