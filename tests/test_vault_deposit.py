"""Files deposited in participants' vaults (issue 21, third slice): ``flask vault deposit`` encrypts each file to the
participant's vault key into the vault store, records it, mails the participant once through the contact copy; the
rows it cannot deposit are reported and make it exit 1; a second run deposits nothing twice; erasure removes the
stored files; /my/vault/files lists only the logged-in address's files and serves their ciphertext exactly as
stored. On SQLite and PostgreSQL, and each on both stores (``db_app`` here): the local folder and S3 (moto's server on
loopback, one per module, a bucket per test)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select

from core.data import vault_keys
from core.data.models import Signup, VaultFile
from core.vault.store import LocalFolderStore, S3Store, VaultStore
from core.vault.stream_format import decrypt_stream, generate_key_pair
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.test_participant_page import logged_in
from tests.test_signup import TIKTOK, deliver, join_fully
from tests.test_vault_store import everything_stored

CAMPAIGN = "tiktokclaim"
ANNA, BOB = "anna@example.org", "bob@example.org"
ZIP_BYTES = b"PK\x03\x04 the company's answer about Anna " * 40_000  # ~1.5 MB: more than one chunk
CSV_BYTES = b"date,video\n2024-01-01,anna-dancing.mp4\n"
_buckets = itertools.count()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def db_app(
    request: pytest.FixtureRequest,
    make_app: Callable[..., Flask],
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Flask]:
    """This module's :func:`tests.conftest.db_app`, on each vault store: the local folder (the default), then a
    bucket of its own on the module's S3 server."""
    settings: dict[str, Any] = {}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        for name, value in [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_DEFAULT_REGION", REGION),
        ]:
            monkeypatch.setenv(name, value)
        bucket = f"claimsite-deposit-{os.getpid()}-{next(_buckets)}"
        server.client().create_bucket(Bucket=bucket)
        settings = {
            "vault_store": "s3",
            "vault_s3_bucket": bucket,
            "vault_s3_prefix": "vault/",
            "vault_s3_endpoint_url": server.url,
        }
    app = make_app(database_url=migrated_database_url, **settings)
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def store_of(app: Flask) -> VaultStore:
    return app.extensions["claimsite"].vault_store  # type: ignore[no-any-return]


def names_of(app: Flask, *keys: str) -> list[str]:
    """The names ``keys`` are stored under, as :func:`tests.test_vault_store.everything_stored` lists them."""
    if isinstance(store_of(app), LocalFolderStore):
        return sorted(f"{key[:2]}/{key}" for key in keys)
    return sorted(f"vault/{key}" for key in keys)


def in_app(app: Flask, work: Callable[[Any], Any]) -> Any:
    with app.app_context():
        from core.data.db import db_session

        return work(db_session())


def join(app: Flask, address: str) -> Signup:
    signup = join_fully(app, app.test_client(), "en", email=address)
    deliver(app)  # the mandate and the confirmation
    return signup


def give_vault(app: Flask, signup: Signup) -> ec.EllipticCurvePrivateKey:
    """A vault for ``signup``'s address, made here as the browser would (the wrapped keys do not matter here)."""
    private, public_raw = generate_key_pair()

    def work(db: Any) -> None:
        result = vault_keys.set_up(db, signup.email_hash, public_raw, "{}", "{}", dt.datetime.now(dt.UTC))
        assert result is vault_keys.SetUp.DONE

    in_app(app, work)
    return private


def mapping(folder: Path, lines: list[str], files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    path = folder / "mapping.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def deposit(app: Flask, path: Path, *extra: str) -> Any:
    return app.test_cli_runner().invoke(
        args=["vault", "deposit", str(path), "--campaign", CAMPAIGN, "--company", "tiktok", *extra]
    )


def rows(app: Flask) -> list[VaultFile]:
    def work(db: Any) -> list[VaultFile]:
        found = list(db.scalars(select(VaultFile).order_by(VaultFile.id)))
        db.expunge_all()
        return found

    return in_app(app, work)


def stored(app: Flask, key: str) -> bytes:
    with app.app_context(), app.extensions["claimsite"].vault_store.open(key) as file:
        return file.read()


def opened(ciphertext: bytes, private: ec.EllipticCurvePrivateKey) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), out, private)
    return out.getvalue()


def test_a_deposit_stores_encrypted_records_mails_once_and_reports_what_it_could_not(
    db_app: Flask, tmp_path: Path
) -> None:
    anna, bob = join(db_app, ANNA), join(db_app, BOB)
    private = give_vault(db_app, anna)
    ref_anna, ref_bob = anna.token[:12], bob.token[:12]
    path = mapping(
        tmp_path / "answers",
        [
            "reference,file,company,name",
            f"{ref_anna},anna/export.zip,,tiktok-annadv-2024.zip",
            f"'{ref_anna},anna/videos.csv,TikTok Ltd,",  # the console's spreadsheet-safe apostrophe is taken off
            f"{ref_bob},bob.zip,,",
            "XXXXXXXXXXXX,anna/export.zip,,",
            f"{ref_anna},missing.zip,,",
            f"{ref_anna},anna/videos.csv,TikTok Ltd,",  # the same line again
        ],
        {"anna/export.zip": ZIP_BYTES, "anna/videos.csv": CSV_BYTES, "bob.zip": b"Bob's answer"},
    )
    result = deposit(db_app, path)
    assert result.exit_code == 1, result.output
    out = result.output
    assert "line 7: the same reference and file as line 3" in out
    assert f"({ref_bob})" not in out  # Bob has no vault: his file is held for him (tests/test_vault_held.py)
    assert "line 5 (XXXXXXXXXXXX): no sign-up of tiktokclaim has this reference" in out
    assert f"line 6 ({ref_anna}): no file " in out and "missing.zip" in out
    assert "3 file(s) deposited for 2 participant(s), 1 arrival mail(s) queued" in out
    assert "1 file(s) held for participants without a vault, 1 invitation(s) to set one up queued" in out

    export, videos, held = rows(db_app)
    assert held.email_hash == bob.email_hash and held.held_key_id is not None
    assert {export.email_hash, videos.email_hash} == {anna.email_hash}
    assert (export.company, export.file_name, export.media_type) == (
        "tiktok",
        "tiktok-annadv-2024.zip",
        "application/zip",
    )
    assert (videos.company, videos.file_name, videos.media_type) == ("TikTok Ltd", "videos.csv", "text/csv")
    assert export.size_plain == len(ZIP_BYTES) and export.size_cipher > export.size_plain
    assert export.notified_at is not None and export.deposited_by.startswith("cli:")
    for row, plain in ((export, ZIP_BYTES), (videos, CSV_BYTES)):
        cipher = stored(db_app, row.store_key)
        assert len(cipher) == row.size_cipher
        assert plain[:40] not in cipher and b"Anna" not in cipher
        assert opened(cipher, private) == plain
    assert everything_stored(store_of(db_app)) == names_of(db_app, export.store_key, videos.store_key, held.store_key)
    if isinstance(store_of(db_app), S3Store):  # nothing of it in the local folder
        assert not (db_app.extensions["claimsite"].settings.instance_dir / "vault").exists()

    mail, invitation = sorted(deliver(db_app), key=lambda m: m["To"])
    assert mail["To"] == ANNA and invitation["To"] == BOB
    text = mail.get_body(("plain",)).get_content() + mail.get_body(("html",)).get_content()
    assert "Something new is in your vault" in text and f"{TIKTOK}/en/my" in text
    for secret in ("tiktok-annadv", "videos.csv", "TikTok Ltd", export.store_key, videos.store_key, ref_anna):
        assert secret not in text and secret not in str(mail["Subject"])

    # The same mapping again: nothing deposited twice, no second mail; the problems are still reported.
    again = deposit(db_app, path)
    assert again.exit_code == 1 and "0 file(s) deposited" in again.output and "3 deposited before" in again.output
    assert len(rows(db_app)) == 3 and deliver(db_app) == []
    assert everything_stored(store_of(db_app)) == names_of(db_app, export.store_key, videos.store_key, held.store_key)

    # Bob sets up his vault: his held file waits for staff to move it in (flask vault move), his next one goes in.
    give_vault(db_app, bob)
    fine = mapping(
        tmp_path / "answers",
        ["reference,file", f"{ref_anna},anna/export.zip", f"{ref_bob},bob.zip", f"{ref_bob},anna/videos.csv"],
        {},
    )
    third = deposit(db_app, fine)
    # Anna's line names the file "export.zip" this time (no name column): another deposit, by design (see VaultFile)
    assert third.exit_code == 0, third.output
    assert "2 file(s) deposited for 2 participant(s), 2 arrival mail(s) queued; 1 deposited before" in third.output
    assert sorted(m["To"] for m in deliver(db_app)) == [ANNA, BOB]
    audit = in_app(db_app, lambda db: db.execute(select_audit()).all())
    assert [row[0] for row in audit] == ["vault-deposit"] * 3


def select_audit() -> Any:
    from core.data.models import AuditEntry

    return select(AuditEntry.action).where(AuditEntry.action == "vault-deposit").order_by(AuditEntry.id)


def test_a_mapping_without_the_header_is_refused(db_app: Flask, tmp_path: Path) -> None:
    path = mapping(tmp_path, ["ref,path", "a,b"], {})
    result = deposit(db_app, path)
    assert result.exit_code == 1 and "the header reference,file[,company][,name]" in result.output
    assert "(it is ref,path)" in result.output


def test_erasure_removes_the_vault_files_from_the_store(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    give_vault(db_app, anna)
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    assert deposit(db_app, path).exit_code == 0
    [row] = rows(db_app)
    assert stored(db_app, row.store_key)

    erase_the_one_signup(db_app)
    assert rows(db_app) == []
    assert not store_of(db_app).exists(row.store_key)
    assert everything_stored(store_of(db_app)) == []


def erase_the_one_signup(app: Flask) -> None:
    """Erase the app's only sign-up, as its participant asks on their page."""

    def erase(db: Any) -> None:
        from core.signup.flow import Visit
        from core.signup.withdrawal import erase

        erase(db, db.scalars(select(Signup)).one(), Visit(dt.datetime.now(dt.UTC), None, None))
        db.commit()

    in_app(app, erase)


def test_the_vault_page_lists_and_serves_only_the_logged_in_address_files(db_app: Flask, tmp_path: Path) -> None:
    anna, bob = join(db_app, ANNA), join(db_app, BOB)
    give_vault(db_app, anna)
    give_vault(db_app, bob)
    path = mapping(
        tmp_path,
        [
            "reference,file,company,name",
            f"{anna.token[:12]},a.zip,meta,a.zip",
            f"{bob.token[:12]},b.zip,zoom,b.zip",
            f"{anna.token[:12]},c.bin,Acme Loyalty B.V.,points.bin",
        ],
        {"a.zip": ZIP_BYTES, "b.zip": b"Bob's", "c.bin": b"\0" * 999},
    )
    assert deposit(db_app, path).exit_code == 0
    deliver(db_app)
    mine, bobs, points = rows(db_app)

    stranger = db_app.test_client()
    assert stranger.get("/en/my/vault/files", base_url=TIKTOK).status_code == 401
    assert stranger.get(f"/en/my/vault/files/{mine.id}", base_url=TIKTOK).status_code == 401

    client = db_app.test_client()
    logged_in(db_app, client, ANNA)
    listing = client.get("/en/my/vault/files", base_url=TIKTOK)
    assert listing.status_code == 200 and listing.headers["Cache-Control"] == "private, no-store"
    day = mine.deposited_at.astimezone(ZoneInfo("Europe/Amsterdam")).date()  # the campaign's day, not UTC's
    # Newest first; the catalogue's short name, a company typed as free text as typed; written for the visitor.
    assert listing.get_json() == {
        "files": [
            {
                "id": points.id,
                "file_name": "points.bin",
                "company": "Acme Loyalty B.V.",
                "campaign": "TikTok Claim",
                "received": f"{day.day} {day.strftime('%B')} {day.year}",
                "size": 999,
                "size_text": "999 bytes",
                "kind": None,
                "media_type": "application/octet-stream",
                "kept_until": None,
                "kept_until_text": "Kept until 365 days after the campaign ends (its end date is not set yet)",
            },
            {
                "id": mine.id,
                "file_name": "a.zip",
                "company": "Meta (Facebook)",
                "campaign": "TikTok Claim",
                "received": f"{day.day} {day.strftime('%B')} {day.year}",
                "size": 1_480_000,
                "size_text": "1.5 MB",
                "kind": "ZIP archive",
                "media_type": "application/zip",
                "kept_until": None,  # the TikTok Claim has no end date: tests/test_vault_retention.py sets one
                "kept_until_text": "Kept until 365 days after the campaign ends (its end date is not set yet)",
            },
        ]
    }
    dutch = client.get("/my/vault/files", base_url=TIKTOK).get_json()["files"][1]
    months = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
              "november", "december"]  # fmt: skip
    assert (dutch["received"], dutch["size_text"]) == (f"{day.day} {months[day.month - 1]} {day.year}", "1,5 MB")
    download = client.get(f"/en/my/vault/files/{mine.id}", base_url=TIKTOK)
    assert download.status_code == 200 and download.headers["Cache-Control"] == "private, no-store"
    assert download.data == stored(db_app, mine.store_key)
    assert int(download.headers["Content-Length"]) == mine.size_cipher
    assert client.get(f"/en/my/vault/files/{bobs.id}", base_url=TIKTOK).status_code == 404  # not hers
    whole, size, etag = stored(db_app, mine.store_key), mine.size_cipher, f'"{mine.sha256_cipher}"'
    for start, end in [(0, 99), (1000, 1999), (size - 10, size + 50)]:
        part = client.get(f"/en/my/vault/files/{mine.id}", base_url=TIKTOK, headers={"Range": f"bytes={start}-{end}"})
        assert part.status_code == 206 and part.data == whole[start : end + 1] and part.headers["ETag"] == etag
        assert part.headers["Content-Range"] == f"bytes {start}-{min(end, size - 1)}/{size}"
    past = client.get(f"/en/my/vault/files/{mine.id}", base_url=TIKTOK, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{size}"
    changed = client.get(
        f"/en/my/vault/files/{mine.id}", base_url=TIKTOK, headers={"Range": "bytes=0-9", "If-Range": '"other"'}
    )
    assert changed.status_code == 200 and changed.data == whole

    store_of(db_app).delete(mine.store_key)  # lost from the store behind the app's back
    lost = client.get(f"/en/my/vault/files/{mine.id}", base_url=TIKTOK)
    assert lost.status_code == 404 and "cannot be found in the vault's storage" in lost.get_json()["error"]


def s3_app(
    make_app: Callable[..., Flask], s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[Flask, str]:
    """An app whose vault store is a new bucket of the loopback S3 server (its files under ``vault/``), and the
    bucket's name."""
    for variable, value in [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_DEFAULT_REGION", REGION),
    ]:
        monkeypatch.setenv(variable, value)
    bucket = f"claimsite-{name}-{os.getpid()}-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=bucket)
    app = make_app(
        vault_store="s3", vault_s3_bucket=bucket, vault_s3_prefix="vault/", vault_s3_endpoint_url=s3_server.url
    )
    return app, bucket


def test_an_s3_store_without_a_bucket_stops_the_app(make_app: Callable[..., Flask]) -> None:
    from core.settings import SettingsError

    with pytest.raises(SettingsError, match="CLAIMSITE_VAULT_S3_BUCKET is empty"):
        make_app(vault_store="s3")


@contextlib.contextmanager
def store_out_of_order(app: Flask) -> Iterator[None]:
    """The app's store refuses every file inside the block: the local one cannot make its folder (a file is in the
    way), the S3 one has no bucket (deleted while empty, made again afterwards)."""
    store = store_of(app)
    if isinstance(store, LocalFolderStore):
        store.folder.parent.mkdir(parents=True, exist_ok=True)
        store.folder.write_text("not a folder")
        yield
        store.folder.unlink()
        return
    assert isinstance(store, S3Store)
    store.client.delete_bucket(Bucket=store.bucket)
    yield
    store.client.create_bucket(Bucket=store.bucket)


def test_a_store_that_fails_is_a_row_problem_and_a_run_that_did_not_mail_is_mailed_by_the_next(
    db_app: Flask, tmp_path: Path
) -> None:
    anna = join(db_app, ANNA)
    give_vault(db_app, anna)
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    with store_out_of_order(db_app):
        failed = deposit(db_app, path)
    assert failed.exit_code == 1 and "a.zip could not be stored (" in failed.output, failed.output
    assert rows(db_app) == [] and deliver(db_app) == []
    assert everything_stored(store_of(db_app)) == []

    assert deposit(db_app, path).exit_code == 0
    [row] = rows(db_app)

    def forget_the_mail(db: Any) -> None:  # as if the run had stopped between the deposit and its mail
        db.get(VaultFile, row.id).notified_at = None
        db.commit()

    deliver(db_app)
    in_app(db_app, forget_the_mail)
    again = deposit(db_app, path)
    assert again.exit_code == 0, again.output
    assert "0 file(s) deposited for 0 participant(s), 1 arrival mail(s) queued; 1 deposited before" in again.output
    [mail] = deliver(db_app)
    assert mail["To"] == ANNA and rows(db_app)[0].notified_at is not None
    assert "1 arrival mail(s) queued; 1 deposited before" not in deposit(db_app, path).output  # mailed once only
