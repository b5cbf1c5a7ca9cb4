"""The participant's copy of their mandate, out of the server's reach (issue 21): a vault file for a one-off key that
only the links the participant gets carry, in their fragment.

The outside test that opened every copy is repeated with everything a server-side attacker holds; the done page links
the copy with its key only while the working copy holds it; login links, the session and mandate links carry no key;
links mailed before this change get a message, not an error; revision 0020a_mandate_copy drops the old copies. On
SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey
from nacl.secret import SecretBox
from sqlalchemy import MetaData, select, update

from core.data import personal_data
from core.data.hashing import keyed_hash, normalise_email, signing_serializer
from core.data.migrations import downgrade, upgrade
from core.data.models import Job, LoginLink, PersonalRecord, Signup
from core.jobs.queue import decode_payload
from core.sealing import OpeningKeys, SealingError, WorkingBox
from core.signup.mandate_copy import encrypt_copy, open_copy
from core.signup.mandate_job import make_mandate
from core.vault.stream_format import VaultFormatError, VaultKeyError, decrypt_stream, load_private_pkcs8
from tests.conftest import BREACH_KEY, CONTACT_KEY, HASH_KEY, SECRET, opened_personal_data
from tests.test_participant_page import log_in, mailed_link
from tests.test_signup import TIKTOK, VALID, copy_url_of, deliver, join_fully, private_key_of

ADDRESS = VALID["email"]
OLD_FORM = b"CSW1"  # the participant's copy before revision 0020a: a secretbox under the old copy_key


def in_app(app: Flask, fn: Any) -> Any:
    with app.app_context():
        from core.data.db import db_session

        return fn(db_session())


def mandate_link(message: Any) -> tuple[str, str]:
    """(the mandate page's path, the key in its fragment) of a confirmation mail's plain-text part."""
    text = message.get_body(("plain",)).get_content()
    found = re.search(r"https://tiktokclaim\.org(/\S*mandate/[^\s#?]+)#([A-Za-z0-9_-]+)\s", text)
    assert found, text
    return found.group(1), found.group(2)


def confirmed_signup(app: Flask) -> tuple[Signup, bytes, str, str]:
    """Anna joined and her confirmation mail went out: (her sign-up, the attached PDF, the mail's mandate page, the
    key in its fragment)."""
    join_fully(app, app.test_client(), "en")
    [confirmation] = [m for m in deliver(app) if m["To"] == ADDRESS]
    [attachment] = list(confirmation.iter_attachments())
    page, key = mandate_link(confirmation)
    signup = in_app(app, lambda db: db.scalars(select(Signup)).one())
    return signup, attachment.get_content(), page, key


# -- what a server-side attacker holds -------------------------------------------------------------------------
def everything_stored(app: Flask) -> Iterator[bytes]:
    """Every value of every row of every table, as bytes, and every job payload opened with the working box (which
    the hash key opens): what a copy of the database and the server's secrets give."""
    box = WorkingBox(HASH_KEY)
    with app.app_context():
        from core.data.db import db_session

        connection = db_session().connection()
        metadata = MetaData()
        metadata.reflect(connection)
        for table in metadata.sorted_tables:
            for row in connection.execute(table.select()):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        yield bytes(value)
                    elif value is not None:
                        yield str(value).encode()
        for job in db_session().scalars(select(Job)):
            yield json.dumps(decode_payload(job.payload)).encode()
        for record in db_session().scalars(select(PersonalRecord)):
            for locked in (record.working_answers, record.working_mandate_key, record.pending):
                if locked is not None:
                    yield box.unlock(locked)


def candidate_keys(app: Flask, stored: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """Every key a server-side attacker can make or find, as (what, 32-byte secret or PKCS#8 key)."""
    private_file = app.extensions["claimsite"].settings.development_key_pair()[0]
    foundation = base64.b64decode(private_file.read_text().splitlines()[-1])
    yield (
        "the old copy_key of the address",
        bytes.fromhex(keyed_hash(HASH_KEY, "mandate-copy", normalise_email(ADDRESS))),
    )
    yield "the foundation's private key", foundation
    for name, secret in {
        "hash key": HASH_KEY,
        "contact key": CONTACT_KEY,
        "secret key": SECRET,
        "breach key": BREACH_KEY,
    }.items():
        yield f"the {name}", hashlib.sha256(secret.encode()).digest()
        yield (
            f"the working box's key of the {name}",
            hashlib.blake2b(secret.encode(), digest_size=32, person=WorkingBox.PURPOSE).digest(),
        )
    for value in stored:  # any key written anywhere, raw or in base64 / base64url text
        yield "a stored value", value
        for run in re.findall(rb"[A-Za-z0-9_+/=-]{40,}", value):
            text = run.decode().rstrip("=")
            for decode in (base64.urlsafe_b64decode, base64.b64decode):
                with contextlib.suppress(ValueError):
                    yield "a stored base64 value", decode(text + "=" * (-len(text) % 4))


def opens(copy: bytes, key: bytes) -> bytes | None:
    """``copy`` opened with ``key`` in every way it could be a key of it: as a PKCS#8 P-256 key, as a P-256 scalar,
    as the secretbox key of the old form, as the foundation's X25519 key (a sealed box); None when none opens it."""
    privates: list[ec.EllipticCurvePrivateKey] = []
    with contextlib.suppress(VaultKeyError):
        privates.append(load_private_pkcs8(key))
    if len(key) == 32:
        with contextlib.suppress(ValueError):
            privates.append(ec.derive_private_key(int.from_bytes(key, "big"), ec.SECP256R1()))
    for private in privates:
        with contextlib.suppress(VaultFormatError):
            out = io.BytesIO()
            decrypt_stream(io.BytesIO(copy), out, private)
            return out.getvalue()
    if len(key) != 32:
        return None
    for start in (0, len(OLD_FORM)):
        with contextlib.suppress(CryptoError):
            return SecretBox(key).decrypt(copy[start:])
    with contextlib.suppress(SealingError):
        return OpeningKeys([PrivateKey(key)]).open(copy)
    return None


# -- the outside test, repeated -------------------------------------------------------------------------------------
def test_nothing_the_server_holds_opens_the_participants_copy(db_app: Flask) -> None:
    """With the database, every server secret and the foundation's private key file, after the confirmation mail:
    the sealed copy opens (by design: it is the foundation's), the participant's copy does not, with anything."""
    signup, pdf, _page, key = confirmed_signup(db_app)
    copy = in_app(db_app, lambda db: personal_data.participant_copy(db, signup))
    assert copy is not None and copy.startswith(b"CLVAULT1") and pdf not in copy
    assert opens(copy, private_key_of(key)) == pdf  # the key in the participant's link does: the check can succeed
    assert in_app(db_app, lambda db: opened_personal_data(db_app, signup).mandate_pdf) == pdf  # the sealed copy
    working = in_app(db_app, lambda db: db.get(PersonalRecord, signup.id))
    assert working.working_mandate_key is None and working.working_answers is None  # released with the mail

    stored = list(everything_stored(db_app))
    assert stored and not any(key.encode() in value for value in stored)
    tried = 0
    for what, candidate in candidate_keys(db_app, stored):
        assert opens(copy, candidate) is None, f"{what} opens the participant's copy"
        tried += 1
    assert tried > 50, tried


def test_each_copy_has_a_key_of_its_own() -> None:
    pdf = b"%PDF-1.7 the same mandate twice"
    first, second = encrypt_copy(pdf), encrypt_copy(pdf)
    assert first.private_key != second.private_key and first.ciphertext != second.ciphertext
    assert open_copy(first.ciphertext, first.private_key) == pdf
    assert open_copy(first.ciphertext, second.private_key) is None  # one copy's key opens no other copy
    assert open_copy(first.ciphertext[:-1], first.private_key) is None  # nor a damaged one
    assert open_copy(first.ciphertext, b"not a key") is None


# -- the done page, the mandate page and its copy ------------------------------------------------------------------
@pytest.mark.databases("sqlite")
def test_the_done_page_links_the_copy_with_its_key_until_the_confirmation_mail(db_app: Flask) -> None:
    client = db_app.test_client()
    signup = join_fully(db_app, client, "en")
    in_app(db_app, lambda db: make_mandate(db_app, {"signup": signup.token}))  # the mandate job, not its mail yet
    done = client.get("/en/join/done", base_url=TIKTOK).get_data(as_text=True)
    found = re.search(r'href="(/en/mandate/[^"#]+)#([A-Za-z0-9_-]+)"', done)
    assert found, done
    page, key = found.groups()
    assert "Your signed mandate is ready" in done
    shown = client.get(page, base_url=TIKTOK).get_data(as_text=True)
    copy = client.get(copy_url_of(shown), base_url=TIKTOK).data
    [confirmation] = [m for m in deliver(db_app) if m["To"] == ADDRESS]
    [attachment] = list(confirmation.iter_attachments())
    assert open_copy(copy, private_key_of(key)) == attachment.get_content()
    mailed_page, mailed_key = mandate_link(confirmation)  # the mail carries the same link (signed at its own second)
    assert mailed_key == key and mailed_page.rsplit("/", 1)[0] == page.rsplit("/", 1)[0]
    with db_app.app_context():
        serializer = signing_serializer(SECRET, "mandate:tiktokclaim")
        assert serializer.loads(mailed_page.rsplit("/", 1)[1]) == serializer.loads(page.rsplit("/", 1)[1])
    done = client.get("/en/join/done", base_url=TIKTOK).get_data(as_text=True)
    assert "/mandate/" not in done and "#" + key not in done
    assert "We keep a copy encrypted so that only you can open it, with the link in that e-mail" in done


@pytest.mark.databases("sqlite")
def test_mandate_links_name_the_signup_only_and_old_ones_get_the_message(db_app: Flask) -> None:
    signup, _pdf, page, _key = confirmed_signup(db_app)
    token = page.rsplit("/", 1)[1]
    with db_app.app_context():
        assert signing_serializer(SECRET, "mandate:tiktokclaim").loads(token) == signup.token  # no key in it
        # A link mailed before this change: its token held the old key too.
        old = signing_serializer(SECRET, "mandate:tiktokclaim").dumps([signup.token, "ab" * 32])
    client = db_app.test_client()
    dutch_old = client.get(f"/mandate/{old}", base_url=TIKTOK)
    assert dutch_old.status_code == 404 and "Deze link naar je volmacht werkt niet meer" in dutch_old.get_data(
        as_text=True
    )
    for path in (f"/en/mandate/{old}", f"/en/mandate/{token[:-2]}"):
        answer = client.get(path, base_url=TIKTOK)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 404 and "This link to your mandate no longer works" in text, path
        assert "attached, as a PDF, to the confirmation e-mail" in text and re.search(r'href="(/en)?/my"', text)
        assert "mandate_copy.js" not in text
    assert client.get(f"/mandate/{old}/copy", base_url=TIKTOK).status_code == 404
    dutch = client.get(f"/mandate/{token}", base_url=TIKTOK, headers={"Accept-Language": "nl"})
    assert dutch.status_code == 200 and '<html lang="nl">' in dutch.get_data(as_text=True)

    # Withdrawn: the page says the mandate is no longer kept here, and the copy is not served.
    in_app(db_app, lambda db: (db.execute(update(Signup).values(withdrawn_at=signup.signed_at)), db.commit()))
    answer = client.get(page, base_url=TIKTOK)
    assert answer.status_code == 404 and "it was withdrawn, or your personal data was erased" in answer.get_data(
        as_text=True
    )
    assert client.get(f"/mandate/{token}/copy", base_url=TIKTOK).status_code == 404


@pytest.mark.databases("sqlite")
def test_the_copy_is_rate_limited_per_network(db_app: Flask) -> None:
    _signup, _pdf, page, _key = confirmed_signup(db_app)
    client = db_app.test_client()
    copy_url = copy_url_of(client.get(page, base_url=TIKTOK).get_data(as_text=True))
    statuses = [client.get(copy_url, base_url=TIKTOK).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429


# -- logging in carries no key --------------------------------------------------------------------------------------
def session_of(client: FlaskClient) -> dict[str, Any]:
    """The campaign's session cookie, decoded: Flask signs it, it does not encrypt it."""
    [cookie] = [c for c in client._cookies.values() if c.key.endswith("session")]  # type: ignore[attr-defined]
    payload = cookie.value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if cookie.value.startswith("."):
        import zlib

        raw = zlib.decompress(raw)
    return json.loads(raw)


@pytest.mark.databases("sqlite")
def test_login_links_and_the_session_carry_no_key(db_app: Flask) -> None:
    confirmed_signup(db_app)
    client = db_app.test_client()
    link = mailed_link(db_app, client, ADDRESS)
    token = link.rsplit("/", 1)[1]
    nonce = in_app(db_app, lambda db: db.scalars(select(LoginLink.nonce)).one())
    with db_app.app_context():
        assert signing_serializer(SECRET, "participant-login:tiktokclaim").loads(token) == nonce  # the nonce alone
    assert log_in(client, link).location == "/en/my"
    login = session_of(client)["participant"]
    assert len(login) == 2 and isinstance(login[0], str) and login[1] > time.time()
    assert "mandate_key" not in session_of(client)

    # A login of three values (made before this change, with a key) counts as logged out.
    with client.session_transaction(base_url=TIKTOK, environ_overrides={"claimsite.campaign": "tiktokclaim"}) as s:
        s["participant"] = [login[0], login[1], "ab" * 32]
    assert "Send me a login link" in client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)

    # A login link of the old form ([nonce, key]), validly signed, is not accepted.
    fresh = mailed_link(db_app, db_app.test_client(), ADDRESS)
    nonce = in_app(db_app, lambda db: db.scalars(select(LoginLink.nonce).order_by(LoginLink.id.desc())).first())
    with db_app.app_context():
        old = signing_serializer(SECRET, "participant-login:tiktokclaim").dumps([nonce, "ab" * 32])
    answer = log_in(db_app.test_client(), fresh.rsplit("/", 1)[0] + "/" + old)
    assert answer.status_code == 302 and answer.location == "/en/my"


# -- revision 0020a_mandate_copy ------------------------------------------------------------------------------------
def test_0020a_drops_the_old_copies_and_makes_waiting_ones_again(make_app: Any, database_url: str) -> None:
    """Copies in the old form: dropped where the confirmation went out (no working copy), made again for a one-off
    key where it has not (the working copy holds the address); a copy already in the new form is left alone."""
    upgrade(database_url, "0019")
    box = WorkingBox(HASH_KEY)
    old_key = bytes.fromhex(keyed_hash(HASH_KEY, "mandate-copy", normalise_email(ADDRESS)))
    new = encrypt_copy(b"%PDF-new")
    rows = {
        1: (OLD_FORM + SecretBox(old_key).encrypt(b"%PDF-sent"), None),
        2: (OLD_FORM + SecretBox(old_key).encrypt(b"%PDF-waiting"), box.lock(json.dumps({"email": ADDRESS}).encode())),
        3: (new.ciphertext, None),
        4: (None, None),
    }
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for number, (copy, working) in rows.items():
                connection.execute(
                    sqlalchemy.text(
                        "INSERT INTO signups (id, token, campaign, email_hash, language, stage, created_at, "
                        "code_attempts, codes_sent, payment_required) VALUES (:id, :token, 'tiktokclaim', :hash, 'nl', "
                        "'signed', '2026-11-30 11:00:00', 0, 1, false)"
                    ),
                    {"id": number, "token": f"token-{number}", "hash": f"{number:064d}"},
                )
                connection.execute(
                    sqlalchemy.text(
                        "INSERT INTO personal_records (signup_id, sealed_answers, participant_mandate, "
                        "working_answers) VALUES (:id, :sealed, :copy, :working)"
                    ),
                    {"id": number, "sealed": b"CSS1 sealed", "copy": copy, "working": working},
                )
        app = make_app(database_url=database_url)
        with app.app_context():
            upgrade(database_url)
        app.extensions["claimsite.db"].engine.dispose()
        with engine.begin() as connection:
            after = {
                row.signup_id: (row.participant_mandate, row.working_mandate_key)
                for row in connection.execute(sqlalchemy.text("SELECT * FROM personal_records"))
            }
        assert after[1] == (None, None)
        waiting, locked = after[2]
        assert bytes(waiting).startswith(b"CLVAULT1") and open_copy(bytes(waiting), box.unlock(bytes(locked))) == (
            b"%PDF-waiting"
        )
        assert after[3] == (new.ciphertext, None) and after[4] == (None, None)
        downgrade(database_url, "0019")
        with engine.begin() as connection:
            columns = {c["name"] for c in sqlalchemy.inspect(connection).get_columns("personal_records")}
        assert "working_mandate_key" not in columns and "participant_mandate" in columns
    finally:
        engine.dispose()
