"""The participant's vault, set up on /my/vault (issue 21): through the HTTP API with a key pair made and wrapped
here in Python (the contract of core/vault/FORMAT.md, written out below), what is stored, what is refused and why,
the passphrase change, and what the database holds. The server-side checks of a wrapped key (core.vault.wrapped_keys)
are tested one refusal at a time. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import unicodedata
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from core.data import vault_keys
from core.data.db import utcnow
from core.data.models import VaultKey
from core.vault.stream_format import generate_key_pair, load_private_pkcs8, private_key_pkcs8, public_raw_of
from core.vault.wrapped_keys import WrappedKeyError, public_key_from, to_json, wrapped_key_from
from tests.test_participant_page import logged_in
from tests.test_signup import TIKTOK, deliver, join_fully

PASSPHRASE = "correct horse battery staple"
NEW_PASSPHRASE = "a whole new passphrase, twice"
RECOVERY_CODE = "7K2M-Q0XA-ABCD-EFGH-JKMN-PQRS-TVWX-YZ01"
AAD = b"claimsite vault key v1"
ITERATIONS = 600_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


def password_of(secret: str, recovery: bool = False) -> bytes:
    """FORMAT.md: a passphrase NFC-normalised; a recovery code as typed, made its 32 characters (NFKC, upper case,
    no white space or dash, O read as 0, I and L as 1)."""
    if not recovery:
        return unicodedata.normalize("NFC", secret).encode()
    code = re.sub(r"[\s\-\u2010-\u2015\u2212]+", "", unicodedata.normalize("NFKC", secret).upper())
    return code.replace("O", "0").replace("I", "1").replace("L", "1").encode()


def pbkdf2_key(password: bytes, salt: bytes, iterations: int) -> AESGCM:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    return AESGCM(kdf.derive(password))


def wrap(pkcs8: bytes, password: bytes, iterations: int = ITERATIONS) -> dict[str, Any]:
    """The contract's wrapping, as the browser does it."""
    salt, iv = os.urandom(16), os.urandom(12)
    wrapped = pbkdf2_key(password, salt, iterations).encrypt(iv, pkcs8, AAD)
    return {"v": 1, "kdf": "PBKDF2-SHA256", "iterations": iterations, "salt": b64url(salt), "iv": b64url(iv),
            "wrapped": b64url(wrapped)}  # fmt: skip


def unwrap(record: dict[str, Any], password: bytes) -> bytes:
    aead = pbkdf2_key(password, unb64url(record["salt"]), record["iterations"])
    return aead.decrypt(unb64url(record["iv"]), unb64url(record["wrapped"]), AAD)


def new_vault() -> tuple[bytes, dict[str, Any]]:
    """A key pair wrapped as the page posts it: the private key's pkcs8, and the body."""
    private, public_raw = generate_key_pair()
    pkcs8 = private_key_pkcs8(private)
    return pkcs8, {
        "public_raw": b64url(public_raw),
        "wrapped_by_passphrase": wrap(pkcs8, password_of(PASSPHRASE)),
        "wrapped_by_recovery": wrap(pkcs8, password_of(RECOVERY_CODE, recovery=True)),
    }


def page_csrf(client: FlaskClient) -> str:
    page = client.get("/en/my/vault", base_url=TIKTOK)
    assert page.status_code == 200, page.status_code
    return re.search(r'data-csrf="([^"]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def post(client: FlaskClient, path: str, body: Any, csrf: str | None) -> Any:
    headers = {"X-CSRFToken": csrf} if csrf else {}
    return client.post(f"/en/my/vault/{path}", json=body, headers=headers, base_url=TIKTOK)


def stored_rows(app: Flask) -> list[dict[str, Any]]:
    """The table as a raw read sees it."""
    with app.extensions["claimsite.db"].engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text("SELECT * FROM vault_keys"))]


@pytest.fixture
def participant_client(db_app: Flask) -> FlaskClient:
    client = db_app.test_client()
    join_fully(db_app, client, "en")
    deliver(db_app)  # the mandate and the confirmation
    client = db_app.test_client()
    logged_in(db_app, client)
    return client


def test_a_vault_is_set_up_once_and_its_passphrase_changes_alone(
    db_app: Flask, participant_client: FlaskClient
) -> None:
    client = participant_client
    assert 'href="/en/my/vault"' in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    html = client.get("/en/my/vault", base_url=TIKTOK).get_data(as_text=True)
    assert "not even us" in html and "needs JavaScript" in html and "data-wrapped-passphrase" not in html
    assert 'name="passphrase' not in html  # the secret inputs have no name: no form can send them
    csrf = page_csrf(client)
    pkcs8, body = new_vault()

    answer = post(client, "setup", body, csrf)
    assert answer.status_code == 200 and answer.get_json() == {"ok": True}, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "private, no-store"
    [row] = stored_rows(db_app)
    assert bytes(row["public_raw"]) == unb64url(body["public_raw"]) and len(row["email_hash"]) == 64
    assert json.loads(row["wrapped_by_passphrase"]) == body["wrapped_by_passphrase"]
    assert json.loads(row["wrapped_by_recovery"]) == body["wrapped_by_recovery"]
    everything = repr(row).encode()
    assert PASSPHRASE.encode() not in everything and b"K2MQ0XA" not in everything and b"7K2M" not in everything
    # What is stored opens with the passphrase and with the recovery code, to the same key.
    assert unwrap(json.loads(row["wrapped_by_passphrase"]), password_of(PASSPHRASE)) == pkcs8
    assert unwrap(json.loads(row["wrapped_by_recovery"]), password_of(RECOVERY_CODE.lower(), recovery=True)) == pkcs8
    assert public_raw_of(load_private_pkcs8(pkcs8)) == bytes(row["public_raw"])

    # The page now gives the wrapped keys to the browser, in data- attributes.
    html = client.get("/en/my/vault", base_url=TIKTOK).get_data(as_text=True)
    attribute = re.search(r'data-wrapped-passphrase="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert json.loads(attribute.replace("&#34;", '"')) == body["wrapped_by_passphrase"]
    assert f'data-public="{body["public_raw"]}"' in html and "No files yet." in html

    _other, second = new_vault()
    refused = post(client, "setup", second, csrf)
    assert refused.status_code == 409 and "already have a vault" in refused.get_json()["error"]
    assert stored_rows(db_app) == [row]

    renewed = wrap(pkcs8, password_of(NEW_PASSPHRASE))
    changed = post(client, "passphrase", {"wrapped_by_passphrase": renewed}, csrf)
    assert changed.status_code == 200 and changed.headers["Cache-Control"] == "private, no-store"
    [after] = stored_rows(db_app)
    assert json.loads(after["wrapped_by_passphrase"]) == renewed
    assert {k: v for k, v in after.items() if k not in ("wrapped_by_passphrase", "updated_at")} == {
        k: v for k, v in row.items() if k not in ("wrapped_by_passphrase", "updated_at")
    }
    assert unwrap(json.loads(after["wrapped_by_passphrase"]), password_of(NEW_PASSPHRASE)) == pkcs8
    with pytest.raises(InvalidTag):
        unwrap(json.loads(after["wrapped_by_passphrase"]), password_of(PASSPHRASE))


def test_form_fields_work_as_well_as_json(db_app: Flask, participant_client: FlaskClient) -> None:
    csrf = page_csrf(participant_client)
    _pkcs8, body = new_vault()
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()} | {"csrf_token": csrf}
    answer = participant_client.post("/en/my/vault/setup", data=form, base_url=TIKTOK)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert len(stored_rows(db_app)) == 1


def test_requests_without_a_login_or_a_csrf_token_are_refused(db_app: Flask, participant_client: FlaskClient) -> None:
    _pkcs8, body = new_vault()
    stranger = db_app.test_client()
    page = stranger.get("/en/my/vault", base_url=TIKTOK)
    assert page.status_code == 302 and page.location == "/en/my"
    csrf = page_csrf(participant_client)
    answer = post(stranger, "setup", body, csrf)
    assert answer.status_code == 401 and "log in" in answer.get_json()["error"]
    assert (
        post(stranger, "passphrase", {"wrapped_by_passphrase": body["wrapped_by_passphrase"]}, None).status_code == 401
    )
    for token in (None, "not-a-token"):
        answer = post(participant_client, "setup", body, token)
        assert answer.status_code == 400 and "open too long" in answer.get_json()["error"]
    assert stored_rows(db_app) == []


def _changed(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    wrapped = dict(body["wrapped_by_passphrase"]) | changes
    return body | {"wrapped_by_passphrase": {k: v for k, v in wrapped.items() if v is not None}}


def test_malformed_keys_are_refused_with_a_message(db_app: Flask, participant_client: FlaskClient) -> None:
    csrf = page_csrf(participant_client)
    pkcs8, body = new_vault()
    off_curve = b"\x04" + b"\x01" * 64
    cases = [
        (body | {"public_raw": b64url(off_curve)}, "not on the curve"),
        (body | {"public_raw": body["public_raw"][:40]}, "P-256 public key"),
        (body | {"wrapped_by_recovery": "{not json"}, "not JSON"),
        (body | {"wrapped_by_recovery": None}, "not a JSON object"),
        (_changed(body, iterations=100_000), "600000"),
        (_changed(body, extra="x"), "check extra"),
    ]
    for bad, message in cases:
        answer = post(participant_client, "setup", bad, csrf)
        assert answer.status_code == 400, (message, answer.get_data(as_text=True))
        assert message in answer.get_json()["error"] and "Reload the page" in answer.get_json()["error"]
    raw = participant_client.post(
        "/en/my/vault/setup", data="{oops", content_type="application/json",
        headers={"X-CSRFToken": csrf}, base_url=TIKTOK,
    )  # fmt: skip
    assert raw.status_code == 400  # no fields at all: no CSRF token either
    assert stored_rows(db_app) == []
    assert post(participant_client, "setup", body, csrf).status_code == 200
    low = wrap(pkcs8, password_of(NEW_PASSPHRASE), iterations=1000)
    answer = post(participant_client, "passphrase", {"wrapped_by_passphrase": low}, csrf)
    assert answer.status_code == 400 and "1000 PBKDF2 iterations" in answer.get_json()["error"]
    assert json.loads(stored_rows(db_app)[0]["wrapped_by_passphrase"]) == body["wrapped_by_passphrase"]


def test_a_passphrase_change_without_a_vault_is_refused(db_app: Flask, participant_client: FlaskClient) -> None:
    _pkcs8, body = new_vault()
    answer = post(
        participant_client,
        "passphrase",
        {"wrapped_by_passphrase": body["wrapped_by_passphrase"]},
        page_csrf(participant_client),
    )
    assert answer.status_code == 409 and stored_rows(db_app) == []


def test_two_tabs_setting_up_at_once_keep_the_first_vault(db_app: Flask) -> None:
    """The second insert meets the primary key (the first was committed after the second looked): "exists"."""
    sessions = db_app.extensions["claimsite.db"].sessions
    _pkcs8, body = new_vault()
    public_raw = unb64url(body["public_raw"])
    first_json = json.dumps(body["wrapped_by_passphrase"])
    ran: list[bool] = []
    with sessions() as second:

        @event.listens_for(second, "before_commit")
        def _other_tab(session: Session) -> None:
            if ran:
                return
            ran.append(True)
            with sessions() as first:
                assert (
                    vault_keys.set_up(first, "h" * 64, public_raw, first_json, first_json, utcnow())
                    is vault_keys.SetUp.DONE
                )

        result = vault_keys.set_up(second, "h" * 64, public_raw, "second", "second", utcnow())
        assert result is vault_keys.SetUp.EXISTS
    with sessions() as check:
        stored = vault_keys.vault_key_of(check, "h" * 64)
        assert stored is not None and stored.wrapped_by_passphrase == first_json
        vault_keys.forget(check, "h" * 64)
        check.commit()
        assert check.get(VaultKey, "h" * 64) is None


# ---- core.vault.wrapped_keys, one refusal at a time (no database) ---------------------------------------------


def valid_record() -> dict[str, Any]:
    return {"v": 1, "kdf": "PBKDF2-SHA256", "iterations": ITERATIONS, "salt": b64url(bytes(16)),
            "iv": b64url(bytes(12)), "wrapped": b64url(bytes(138 + 16))}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"v": 2}, "check v"),
        ({"v": True}, "check v"),
        ({"v": "1"}, "check v"),
        ({"kdf": "Argon2id"}, "check kdf"),
        ({"iterations": 599_999}, "599999 PBKDF2 iterations"),
        ({"iterations": 10_000_001}, "10000001 PBKDF2 iterations"),
        ({"iterations": 600000.0}, "check iterations"),
        ({"iterations": "600000"}, "check iterations"),
        ({"salt": b64url(bytes(15))}, "salt must be 16 bytes"),
        ({"salt": "AAAA="}, "salt is not base64url"),
        ({"salt": "AA+/AAAAAAAAAAAAAAAAAA"}, "salt is not base64url"),
        ({"iv": b64url(bytes(16))}, "iv must be 12 bytes"),
        ({"wrapped": b64url(bytes(16))}, "not the size of a wrapped P-256"),
        ({"wrapped": b64url(bytes(400))}, "not the size of a wrapped P-256"),
        ({"extra": 1}, "check extra"),
        ({"iv": None}, "check iv"),
    ],
)
def test_a_wrapped_key_is_refused(changes: dict[str, Any], message: str) -> None:
    record = {k: v for k, v in (valid_record() | changes).items() if v is not None}
    with pytest.raises(WrappedKeyError, match=re.escape(message)):
        wrapped_key_from(record)
    with pytest.raises(WrappedKeyError, match=re.escape(message)):
        wrapped_key_from(json.dumps(record))


def test_a_wrapped_key_is_accepted_and_written_back_in_the_contracts_shape() -> None:
    record = valid_record()
    key = wrapped_key_from(json.dumps(record, indent=2))
    assert json.loads(to_json(key)) == record and list(json.loads(to_json(key))) == list(record)
    assert wrapped_key_from({**record, "wrapped": b64url(bytes(67 + 16))}).iterations == ITERATIONS  # no public point
    for bad in ("[]", '"text"', "x" * 1001):
        with pytest.raises(WrappedKeyError):
            wrapped_key_from(bad)


def test_a_public_key_must_be_an_uncompressed_point_on_p256() -> None:
    _private, raw = generate_key_pair()
    assert public_key_from(b64url(raw)) == raw
    compressed = bytes([2 + raw[-1] % 2]) + raw[1:33]
    for bad, message in [
        (b64url(compressed), "65 bytes"),
        (b64url(b"\x04" + bytes(64)), "not on the curve"),
        (b64url(raw) + "=", "base64url"),
        (12, "base64url"),
        (None, "base64url"),
    ]:
        with pytest.raises(WrappedKeyError, match=message):
            public_key_from(bad)


def test_erasing_the_last_sign_up_of_the_address_removes_its_vault(
    db_app: Flask, participant_client: FlaskClient
) -> None:
    _pkcs8, body = new_vault()
    assert post(participant_client, "setup", body, page_csrf(participant_client)).status_code == 200
    assert len(stored_rows(db_app)) == 1
    with db_app.app_context():
        from core.data.db import db_session
        from core.data.models import Signup
        from core.signup.flow import Visit
        from core.signup.withdrawal import erase

        db = db_session()
        signup = db.scalars(select(Signup)).one()
        erase(db, signup, Visit(dt.datetime.now(dt.UTC), None, None))
        db.commit()
    assert stored_rows(db_app) == []
