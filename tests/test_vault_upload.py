"""The console's upload into a participant's vault (issue 21), its server side: a staff member's browser sends a file
it encrypted as ciphertext in pieces; the server writes each piece straight into the store (a local folder, or S3 on
moto's server), checks and records the file at the end as ``flask vault deposit`` does, and mails the participant
once. Pieces out of order, of the wrong length or beyond the announced size are refused, as are requests without
the CSRF token or from an account that may not upload; two app processes serve one upload; an aborted or abandoned
upload leaves nothing behind. The file is encrypted here in Python, as the browser does (the browser's own run is
tests/browser/test_vault_upload.py). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select, update

from core.data.models import AuditEntry, Job, VaultFile, VaultUpload
from core.staff import vault_upload
from core.vault.store import LocalFolderStore, S3Store, VaultStore
from core.vault.stream_format import encrypt_stream
from core.vault.wrapped_keys import b64url_encode as b64url
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.test_signup import deliver
from tests.test_staff_console import ADMIN, add_staff, csrf, log_in
from tests.test_vault_deposit import ANNA, BOB, give_vault, in_app, join, opened, stored
from tests.test_vault_store import everything_stored

MiB = 1 << 20
PIECE = vault_upload.PIECE_SIZE
MARKER = b"ANNA-PLAINTEXT-MARKER "
_buckets = itertools.count()


def plaintext(size: int) -> bytes:
    """``size`` bytes that mark every stretch of the file as plaintext (the marker never survives encryption)."""
    return (MARKER * (size // len(MARKER) + 1))[:size]


def encrypted(plain: bytes, public_raw: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), out, public_raw, vault_upload.CHUNK_SIZE)
    return out.getvalue()


@pytest.fixture
def staff_app(make_app: Any, migrated_database_url: str) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


class Console:
    """A staff member's browser on the console, sending what the upload page's script sends."""

    def __init__(self, app: Flask, email: str = "mira@somi.nl", *access: str, signed_in: Console | None = None):
        """A new account ``email`` (``access``: options of flask staff add) logged in, or the session of
        ``signed_in``'s browser, on ``app``."""
        self.app = app
        self.client = app.test_client()
        if signed_in is None:
            secret = add_staff(app, email, "correct horse battery staple", *access)
            assert log_in(self.client, secret, email=email).status_code == 302
            self.token = csrf(self.client, "/")
            return
        for cookie in signed_in.client._cookies.values():  # type: ignore[attr-defined]
            self.client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        self.token = signed_in.token

    def headers(self, with_csrf: bool = True) -> dict[str, str]:
        headers = {"Referer": f"{ADMIN}/vault-upload"}
        if with_csrf:
            headers["X-CSRFToken"] = self.token
        return headers

    def find(self, reference: str) -> Any:
        """The upload page for the sign-up of ``reference``, as its Find button asks for it."""
        return self.client.post(
            "/vault-upload",
            base_url=ADMIN,
            data={"csrf_token": self.token, "reference": reference},
            headers=self.headers(),
        )

    def json(self, path: str, data: dict[str, Any], with_csrf: bool = True) -> Any:
        return self.client.post(path, base_url=ADMIN, json=data, headers=self.headers(with_csrf))

    def start(self, signup_id: int, name: str, size: int, company: str = "tiktok", **extra: Any) -> Any:
        data = {"signup": signup_id, "company": company, "name": name, "size": size, "type": "application/zip"}
        return self.json("/vault-uploads", {**data, **extra})

    def piece(self, started: dict[str, Any], number: int, body: bytes, with_csrf: bool = True) -> Any:
        return self.client.post(
            f"{started['pieces_url']}{number}",
            base_url=ADMIN,
            data=body,
            content_type="application/octet-stream",
            headers=self.headers(with_csrf),
        )

    def send_all(self, started: dict[str, Any], cipher: bytes) -> None:
        size = started["piece_size"]
        for number in range(started["pieces"]):
            answer = self.piece(started, number, cipher[number * size : (number + 1) * size])
            assert answer.status_code == 200, answer.get_json()
            assert answer.get_json()["received"] == number + 1

    def finish(self, started: dict[str, Any]) -> Any:
        return self.json(started["finish_url"], {})

    def upload(self, signup_id: int, name: str, plain: bytes, public_raw: bytes) -> Any:
        answer = self.start(signup_id, name, len(plain))
        assert answer.status_code == 200, answer.get_json()
        started = answer.get_json()
        self.send_all(started, encrypted(plain, public_raw))
        return self.finish(started)


def public_of(private: ec.EllipticCurvePrivateKey) -> bytes:
    from core.vault.stream_format import public_raw_of

    return public_raw_of(private)


def files_of(app: Flask) -> list[VaultFile]:
    def work(db: Any) -> list[VaultFile]:
        found = list(db.scalars(select(VaultFile).order_by(VaultFile.id)))
        db.expunge_all()
        return found

    return in_app(app, work)


def uploads_of(app: Flask) -> list[VaultUpload]:
    def work(db: Any) -> list[VaultUpload]:
        found = list(db.scalars(select(VaultUpload).order_by(VaultUpload.id)))
        db.expunge_all()
        return found

    return in_app(app, work)


def audit_of(app: Flask) -> list[tuple[str, str]]:
    return in_app(
        app,
        lambda db: [
            (entry.action, entry.detail or "")
            for entry in db.scalars(select(AuditEntry).where(AuditEntry.action.like("vault-upload%")))
        ],
    )


def arrival_mails(app: Flask) -> int:
    return in_app(app, lambda db: len(db.scalars(select(Job).where(Job.kind == "mail")).all()))


def store_of(app: Flask) -> VaultStore:
    return app.extensions["claimsite"].vault_store


def upload_round_trip(app: Flask) -> None:
    """Two files for Anna, the larger in three pieces, each stored as exactly the ciphertext sent, recorded as a
    deposit, opened by her key byte for byte; one arrival mail; the same file again is not stored twice."""
    anna = join(app, ANNA)
    private = give_vault(app, anna)
    console = Console(app)
    jobs_before = arrival_mails(app)
    big, small = plaintext(2 * PIECE + 3 * MiB + 17), b"date,video\n2024-01-01,dance.mp4\n"
    answer = console.upload(anna.id, "tiktok-anna-2024.zip", big, public_of(private))
    assert answer.status_code == 200 and answer.get_json() == {"done": True, "already": False}
    assert console.upload(anna.id, "videos.csv", small, public_of(private)).get_json()["done"]
    assert arrival_mails(app) == jobs_before  # no mail before the staff member's last file is in
    assert console.json("/vault-uploads/notify", {"signup": anna.id}).get_json() == {"mailed": True}
    assert console.json("/vault-uploads/notify", {"signup": anna.id}).get_json() == {"mailed": False}
    assert arrival_mails(app) == jobs_before + 1

    first, second = files_of(app)
    assert (first.company, first.file_name, first.media_type, first.size_plain) == (
        "tiktok",
        "tiktok-anna-2024.zip",
        "application/zip",
        len(big),
    )
    assert first.deposited_by.startswith("console:") and first.notified_at is not None
    for row, plain in ((first, big), (second, small)):
        cipher = stored(app, row.store_key)
        assert len(cipher) == row.size_cipher and MARKER not in cipher
        assert opened(cipher, private) == plain
    assert sorted(everything_stored(store_of(app))) == sorted(
        name for row in (first, second) for name in _names(store_of(app), row.store_key)
    )

    again = console.start(anna.id, "tiktok-anna-2024.zip", len(big))
    assert again.get_json() == {"done": True, "already": True}
    assert len(files_of(app)) == 2
    actions = [action for action, _detail in audit_of(app)]
    assert actions.count("vault-upload-start") == 2 and actions.count("vault-upload") == 2
    assert actions.count("vault-upload-mail") == 1
    assert all("tiktok-anna" not in detail and "videos.csv" not in detail for _action, detail in audit_of(app))


def _names(store: VaultStore, key: str) -> list[str]:
    """How :func:`tests.test_vault_store.everything_stored` names the stored file ``key``."""
    if isinstance(store, LocalFolderStore):
        return [f"{key[:2]}/{key}"]
    assert isinstance(store, S3Store)
    return [f"{store.prefix}{key}"]


def test_an_upload_in_pieces_is_stored_as_sent_and_opens_with_the_participants_key(staff_app: Flask) -> None:
    upload_round_trip(staff_app)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_staff_app(
    make_app: Callable[..., Flask], s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    for name, value in [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_DEFAULT_REGION", REGION),
    ]:
        monkeypatch.setenv(name, value)
    bucket = f"claimsite-upload-{os.getpid()}-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=bucket)
    app = make_app(
        admin_host="staff.example",
        vault_store="s3",
        vault_s3_bucket=bucket,
        vault_s3_prefix="vault/",
        vault_s3_endpoint_url=s3_server.url,
    )
    assert isinstance(store_of(app), S3Store)
    yield app
    app.extensions["claimsite.db"].engine.dispose()


@pytest.mark.databases("sqlite")
def test_an_upload_into_an_s3_store_goes_in_multipart_pieces(s3_staff_app: Flask, database_kind: str) -> None:
    upload_round_trip(s3_staff_app)
    assert not (s3_staff_app.extensions["claimsite"].settings.instance_dir / "vault").exists()


def started_upload(app: Flask, size: int) -> tuple[Console, Any, dict[str, Any], bytes, ec.EllipticCurvePrivateKey]:
    anna = join(app, ANNA)
    private = give_vault(app, anna)
    console = Console(app)
    plain = plaintext(size)
    answer = console.start(anna.id, "answer.zip", len(plain))
    assert answer.status_code == 200, answer.get_json()
    return console, anna, answer.get_json(), encrypted(plain, public_of(private)), private


def test_pieces_come_in_order_at_their_length_and_within_the_size_and_a_retried_piece_counts_once(
    staff_app: Flask,
) -> None:
    console, _anna, started, cipher, private = started_upload(staff_app, PIECE + 5 * MiB)
    assert started["pieces"] == 2 and started["size_cipher"] == len(cipher)
    first, last = cipher[:PIECE], cipher[PIECE:]

    early = console.piece(started, 1, last)
    assert early.status_code == 409 and "piece 0 was expected next" in early.get_json()["error"]
    short = console.piece(started, 0, first[:-1])
    assert short.status_code == 400 and f"must be {PIECE} bytes long" in short.get_json()["error"]
    assert console.piece(started, 0, first + b"x").status_code == 413  # no request is larger than a piece
    assert console.piece(started, 0, first).get_json()["received"] == 1
    # Its answer lost, the browser sends piece 0 again: taken, stored once.
    assert console.piece(started, 0, first).get_json()["received"] == 1
    unfinished = console.finish(started)
    assert unfinished.status_code == 409 and "Only 1 of the 2 pieces arrived" in unfinished.get_json()["error"]
    beyond = console.piece(started, 2, b"x")
    assert beyond.status_code == 409  # out of order before it is beyond the size
    assert console.piece(started, 1, last + b"more").status_code == 400
    assert console.piece(started, 1, last).get_json()["received"] == 2
    assert (
        console.piece(started, 2, b"x").get_json()["error"] == "Piece 2 goes beyond the size announced for this file."
    )
    assert console.finish(started).get_json() == {"done": True, "already": False}
    # A finish sent again (its answer lost) gets the same answer; a late piece is refused.
    assert console.finish(started).get_json() == {"done": True, "already": True}
    assert console.piece(started, 1, last).status_code == 409
    [row] = files_of(staff_app)
    assert opened(stored(staff_app, row.store_key), private) == plaintext(PIECE + 5 * MiB)


def test_a_file_larger_than_the_limit_or_without_a_company_is_refused_before_a_byte_is_sent(staff_app: Flask) -> None:
    anna = join(staff_app, ANNA)
    give_vault(staff_app, anna)
    console = Console(staff_app)
    large = console.start(anna.id, "huge.mkv", vault_upload.MAX_PLAIN + 1)
    assert large.status_code == 400 and "larger than 2 GB" in large.get_json()["error"]
    nameless = console.start(anna.id, "a.zip", 10, company=" ")
    assert nameless.status_code == 400 and "Choose the company" in nameless.get_json()["error"]
    assert uploads_of(staff_app) == [] and everything_stored(store_of(staff_app)) == []


def test_what_is_not_a_vault_file_of_the_announced_size_is_thrown_away(staff_app: Flask) -> None:
    console, _anna, started, cipher, _private = started_upload(staff_app, 3 * MiB)
    console.send_all(started, b"NOTVAULT" + cipher[8:])  # the right length, not a vault file
    refused = console.finish(started)
    assert refused.status_code == 400 and "not a whole vault file" in refused.get_json()["error"]
    assert files_of(staff_app) == [] and uploads_of(staff_app) == []
    assert everything_stored(store_of(staff_app)) == []
    assert [action for action, _ in audit_of(staff_app)] == ["vault-upload-start", "vault-upload-refused"]


@pytest.mark.databases("sqlite")
def test_for_a_participant_without_a_vault_the_file_is_held_and_they_are_invited(
    staff_app: Flask, database_kind: str
) -> None:
    bob = join(staff_app, BOB)
    console = Console(staff_app)
    page = console.find(bob.token[:12])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "This participant has no vault yet. What you upload is encrypted to the" in html
    assert 'id="vault-upload"' in html
    holding = staff_app.extensions["claimsite"].vault_holding_key
    started = console.start(bob.id, "answer.zip", 100)
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["public_key"] == b64url(holding.public_raw)  # the browser encrypts to the holding key
    console.send_all(started.get_json(), encrypted(plaintext(100), holding.public_raw))
    assert console.finish(started.get_json()).status_code == 200
    [held] = files_of(staff_app)
    assert held.held_key_id == holding.id and held.signup_id == bob.id
    assert console.json("/vault-uploads/notify", {"signup": bob.id}).status_code == 200
    [invitation] = deliver(staff_app)
    assert invitation["To"] == BOB and "set up your vault to receive it" in str(invitation["Subject"])


def test_without_a_vault_or_a_holding_key_nothing_starts(make_app: Any, migrated_database_url: str) -> None:
    from tests.conftest import PRODUCTION_PUBLIC_KEY  # personal data sealed to a key whose file is elsewhere

    app = make_app(
        database_url=migrated_database_url, admin_host="staff.example", sealing_public_key=PRODUCTION_PUBLIC_KEY
    )
    assert app.extensions["claimsite"].vault_holding_key is None
    bob = join(app, BOB)
    console = Console(app)
    page = console.find(bob.token[:12])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "no holding key is configured" in html and 'id="vault-upload"' not in html
    refused = console.start(bob.id, "answer.zip", 100)
    assert refused.status_code == 409 and "CLAIMSITE_VAULT_HOLDING_KEY" in refused.get_json()["error"]
    assert uploads_of(app) == [] and everything_stored(store_of(app)) == []
    unknown = console.find("XXXXXXXXXXXX")
    assert unknown.status_code == 404 and "No sign-up of your campaigns has this reference" in unknown.get_data(
        as_text=True
    )
    app.extensions["claimsite.db"].engine.dispose()


@pytest.mark.databases("sqlite")
def test_every_request_needs_the_csrf_token_the_right_and_the_campaign_and_pieces_their_uploader(
    staff_app: Flask, database_kind: str
) -> None:
    console, anna, started, cipher, _private = started_upload(staff_app, 1000)
    without = {"signup": anna.id, "company": "tiktok", "name": "b.zip", "size": 10}
    assert console.json("/vault-uploads", without, with_csrf=False).status_code == 400
    assert console.piece(started, 0, cipher, with_csrf=False).status_code == 400
    viewer = Console(staff_app, "kim@somi.nl", "--role", "staff", "--campaigns", "all", "--rights", "view")
    other = Console(staff_app, "lea@somi.nl", "--role", "staff", "--campaigns", "zoomclaim", "--rights", "support")
    colleague = Console(
        staff_app, "max@somi.nl", "--role", "staff", "--campaigns", "tiktokclaim", "--rights", "support"
    )
    assert viewer.client.get("/vault-upload", base_url=ADMIN).status_code == 403
    assert viewer.start(anna.id, "a.zip", 10).status_code == 403
    assert other.start(anna.id, "a.zip", 10).status_code == 403  # not a campaign the account sees
    assert viewer.piece(started, 0, cipher).status_code == 403
    assert colleague.piece(started, 0, cipher).status_code == 404  # only whoever started it sends its pieces
    assert colleague.json(started["abort_url"], {}).status_code == 404
    assert console.piece(started, 0, cipher).get_json()["received"] == 1
    assert console.finish(started).status_code == 200
    assert len(files_of(staff_app)) == 1


def test_two_app_processes_serve_the_pieces_of_one_upload(make_app: Any, migrated_database_url: str) -> None:
    """Two apps on one database and one store folder, as two gunicorn workers or two machines: nothing of an upload
    is held in either between its requests."""
    first = make_app(database_url=migrated_database_url, admin_host="staff.example")
    second = make_app(database_url=migrated_database_url, admin_host="staff.example")
    try:
        console, _anna, started, cipher, private = started_upload(first, 2 * PIECE + 1)
        other = Console(second, signed_in=console)
        size = started["piece_size"]
        senders = [console, other, console]
        for number, sender in enumerate(senders):
            assert sender.piece(started, number, cipher[number * size : (number + 1) * size]).status_code == 200
        assert other.finish(started).get_json() == {"done": True, "already": False}
        [row] = files_of(first)
        assert opened(stored(second, row.store_key), private) == plaintext(2 * PIECE + 1)
    finally:
        first.extensions["claimsite.db"].engine.dispose()
        second.extensions["claimsite.db"].engine.dispose()


def test_an_aborted_upload_and_one_abandoned_for_a_day_leave_nothing_behind(staff_app: Flask) -> None:
    console, anna, started, cipher, _private = started_upload(staff_app, PIECE + 1)
    assert console.piece(started, 0, cipher[:PIECE]).status_code == 200
    assert everything_stored(store_of(staff_app)) != []  # the unfinished file
    assert console.json(started["abort_url"], {}).get_json() == {"aborted": True}
    assert everything_stored(store_of(staff_app)) == [] and uploads_of(staff_app) == []
    assert console.piece(started, 1, cipher[PIECE:]).status_code == 404

    again = console.start(anna.id, "answer.zip", PIECE + 1).get_json()
    assert console.piece(again, 0, cipher[:PIECE]).status_code == 200
    runner = staff_app.test_cli_runner()
    kept = runner.invoke(args=["retention", "run"])
    assert "vault uploads: removed 0 left unfinished" in kept.output and len(uploads_of(staff_app)) == 1

    def a_day_ago(db: Any) -> None:
        db.execute(update(VaultUpload).values(touched_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1, minutes=1)))
        db.commit()

    in_app(staff_app, a_day_ago)
    assert "vault uploads: would remove 1" in runner.invoke(args=["retention", "run", "--dry-run"]).output
    assert len(uploads_of(staff_app)) == 1
    removed = runner.invoke(args=["retention", "run"])
    assert "vault uploads: removed 1 left unfinished over a day ago" in removed.output, removed.output
    assert everything_stored(store_of(staff_app)) == [] and uploads_of(staff_app) == []
    assert console.piece(again, 1, cipher[PIECE:]).status_code == 404


@pytest.mark.databases("sqlite")
def test_abort_and_cleanup_on_s3_leave_no_open_multipart_upload(s3_staff_app: Flask, database_kind: str) -> None:
    console, anna, started, cipher, _private = started_upload(s3_staff_app, PIECE + 1)
    assert console.piece(started, 0, cipher[:PIECE]).status_code == 200
    assert everything_stored(store_of(s3_staff_app)) == [f"upload of vault/{uploads_of(s3_staff_app)[0].store_key}"]
    # Choosing the same file again replaces the unfinished upload: the newest one goes on.
    again = console.start(anna.id, "answer.zip", PIECE + 1).get_json()
    assert len(everything_stored(store_of(s3_staff_app))) == 1 and len(uploads_of(s3_staff_app)) == 1
    assert console.piece(started, 1, cipher[PIECE:]).status_code == 404
    assert console.piece(again, 0, cipher[:PIECE]).status_code == 200

    def a_day_ago(db: Any) -> None:
        db.execute(update(VaultUpload).values(touched_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
        db.commit()

    in_app(s3_staff_app, a_day_ago)
    assert "removed 1 left unfinished" in s3_staff_app.test_cli_runner().invoke(args=["retention", "run"]).output
    assert everything_stored(store_of(s3_staff_app)) == [] and uploads_of(s3_staff_app) == []


def test_files_no_mail_told_about_an_hour_later_get_their_arrival_mail_from_retention(staff_app: Flask) -> None:
    """The page was closed after a file was in but before the staff member's last one: nothing asked for the mail."""
    anna = join(staff_app, ANNA)
    private = give_vault(staff_app, anna)
    console = Console(staff_app)
    assert console.upload(anna.id, "answer.zip", plaintext(1000), public_of(private)).status_code == 200
    jobs_before = arrival_mails(staff_app)
    runner = staff_app.test_cli_runner()
    assert "queued 0 arrival mail(s)" in runner.invoke(args=["retention", "run"]).output  # not an hour yet

    def an_hour_ago(db: Any) -> None:
        db.execute(update(VaultFile).values(deposited_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61)))
        db.commit()

    in_app(staff_app, an_hour_ago)
    assert "would queue 1 arrival mail(s)" in runner.invoke(args=["retention", "run", "--dry-run"]).output
    assert arrival_mails(staff_app) == jobs_before
    assert "queued 1 arrival mail(s)" in runner.invoke(args=["retention", "run"]).output
    assert "queued 0 arrival mail(s)" in runner.invoke(args=["retention", "run"]).output
    assert arrival_mails(staff_app) == jobs_before + 1
    [row] = files_of(staff_app)
    assert row.notified_at is not None
