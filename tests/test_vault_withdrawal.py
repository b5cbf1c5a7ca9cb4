"""Withdrawal and erasure empty the vault of what came for the sign-up (issue 21, item 5): withdrawing removes the
files deposited for that sign-up only (from the store and the table), after its confirmation page said so; erasing
the address's last sign-up removes the whole vault, on the S3 store too. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.data import vault_keys
from core.data.models import Signup, VaultFile, VaultRemovalNotice
from core.vault.store import S3Store
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.test_participant_page import logged_in, start_on_facebookleak
from tests.test_signup import TIKTOK, deliver
from tests.test_vault_deposit import ANNA, BOB, ZIP_BYTES, give_vault, in_app, join, mapping, rows, stored

_buckets = itertools.count()


def deposit_for(app: Flask, folder: Path, campaign: str, reference: str, *names: str) -> Any:
    """``flask vault deposit`` of one file per name for ``reference`` of ``campaign``."""
    lines = ["reference,file"] + [f"{reference},{name}" for name in names]
    path = mapping(folder, lines, {name: ZIP_BYTES + name.encode() for name in names})
    return app.test_cli_runner().invoke(
        args=["vault", "deposit", str(path), "--campaign", campaign, "--company", "tiktok"]
    )


def facebookleak_signup(app: Flask, client: FlaskClient, address: str) -> Signup:
    """A sign-up of ``address`` started on the Facebook data-leak campaign: the address's second one."""
    start_on_facebookleak(client, address)
    deliver(app)

    def work(db: Any) -> Signup:
        found = db.scalars(select(Signup).where(Signup.campaign == "facebookleak")).one()
        db.expunge(found)
        return found

    return in_app(app, work)


def store_of(app: Flask) -> Any:
    return app.extensions["claimsite"].vault_store


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_withdrawal_removes_the_files_of_that_signup_only_after_the_page_said_so(db_app: Flask, tmp_path: Path) -> None:
    client = db_app.test_client()
    anna, bob = join(db_app, ANNA), join(db_app, BOB)
    second = facebookleak_signup(db_app, client, ANNA)
    give_vault(db_app, anna)
    give_vault(db_app, bob)
    assert deposit_for(db_app, tmp_path / "a", "tiktokclaim", anna.token[:12], "a1.zip", "a2.zip").exit_code == 0
    assert deposit_for(db_app, tmp_path / "f", "facebookleak", second.token[:12], "f.zip").exit_code == 0
    assert deposit_for(db_app, tmp_path / "b", "tiktokclaim", bob.token[:12], "b.zip").exit_code == 0
    deliver(db_app)
    by_name = {row.file_name: row for row in rows(db_app)}
    assert {name: row.signup_id for name, row in by_name.items()} == {
        "a1.zip": anna.id,
        "a2.zip": anna.id,
        "f.zip": second.id,
        "b.zip": bob.id,
    }

    logged_in(db_app, client, ANNA)
    asked = client.get(f"/en/my/withdraw/{anna.token}", base_url=TIKTOK).get_data(as_text=True)
    warning = (
        "2 files in your vault came for this campaign: withdrawing removes them from your vault for good. If you "
        "want to keep them, save them from your vault first."
    )
    assert warning in asked and 'href="/en/my/vault"' in asked
    # Nothing came for the second sign-up's campaign but one file: its page says so in the singular.
    erase_page = client.get(f"/en/my/erase/{second.token}", base_url=TIKTOK).get_data(as_text=True)
    assert "One file in your vault came for this campaign: erasing removes it" in erase_page
    assert "your vault is removed with it" not in erase_page  # the address keeps another sign-up

    done = client.post(f"/en/my/withdraw/{anna.token}", data={"csrf_token": csrf(asked)}, base_url=TIKTOK)
    assert done.status_code == 302
    after = client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    removed = "The 2 files that came into your vault for this campaign have been removed from it."
    assert removed in after
    [mail] = [m for m in deliver(db_app) if "withdrawal" in str(m["Subject"]).lower()]
    assert removed in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert removed in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for name in ("a1.zip", "a2.zip", "f.zip", "b.zip"):  # the mail never names a file
        assert name not in mail.as_string()

    left = {row.file_name: row for row in rows(db_app)}
    assert sorted(left) == ["b.zip", "f.zip"]
    for name in ("a1.zip", "a2.zip"):
        assert not store_of(db_app).exists(by_name[name].store_key)
    for name in ("b.zip", "f.zip"):
        assert left[name].store_key == by_name[name].store_key and stored(db_app, left[name].store_key)
    assert in_app(db_app, lambda db: vault_keys.vault_key_of(db, anna.email_hash)) is not None  # the vault stays

    # Nothing can come back for the withdrawn sign-up; a second withdrawal page is not offered.
    again = deposit_for(db_app, tmp_path / "again", "tiktokclaim", anna.token[:12], "late.zip")
    assert again.exit_code == 1 and f"({anna.token[:12]}): withdrawn on " in again.output
    assert len(rows(db_app)) == 2


def test_a_withdrawal_page_without_files_says_nothing_of_the_vault(db_app: Flask) -> None:
    client = db_app.test_client()
    anna = join(db_app, ANNA)
    give_vault(db_app, anna)
    logged_in(db_app, client, ANNA)
    asked = client.get(f"/en/my/withdraw/{anna.token}", base_url=TIKTOK).get_data(as_text=True)
    assert "Withdraw from" in asked and "in your vault" not in asked and "/my/vault" not in asked
    assert client.post(f"/en/my/withdraw/{anna.token}", data={"csrf_token": csrf(asked)}, base_url=TIKTOK)
    [mail] = [m for m in deliver(db_app) if "withdrawal" in str(m["Subject"]).lower()]
    assert "vault" not in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_app(
    make_app: Callable[..., Flask], migrated_database_url: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, str]]:
    for name, value in [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_DEFAULT_REGION", REGION),
    ]:
        monkeypatch.setenv(name, value)
    bucket = f"claimsite-withdrawal-{os.getpid()}-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=bucket)
    app = make_app(
        database_url=migrated_database_url,
        vault_store="s3",
        vault_s3_bucket=bucket,
        vault_s3_prefix="vault/",
        vault_s3_endpoint_url=s3_server.url,
    )
    assert isinstance(store_of(app), S3Store)
    yield app, bucket
    app.extensions["claimsite.db"].engine.dispose()


def test_erasure_removes_the_signups_files_then_with_the_last_signup_the_whole_vault_from_s3(
    s3_app: tuple[Flask, str], s3_server: S3Server, tmp_path: Path
) -> None:
    app, bucket = s3_app
    client = app.test_client()
    anna = join(app, ANNA)
    second = facebookleak_signup(app, client, ANNA)
    give_vault(app, anna)
    assert deposit_for(app, tmp_path / "a", "tiktokclaim", anna.token[:12], "a1.zip", "a2.zip").exit_code == 0
    assert deposit_for(app, tmp_path / "f", "facebookleak", second.token[:12], "f.zip").exit_code == 0
    deliver(app)
    by_name = {row.file_name: row for row in rows(app)}

    def bucket_keys() -> list[str]:
        return sorted(item["Key"] for item in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []))

    assert bucket_keys() == sorted(f"vault/{row.store_key}" for row in by_name.values())

    def notice(db: Any) -> None:  # a notice of removal was queued for the address: erasure takes it too
        db.add(
            VaultRemovalNotice(
                email_hash=anna.email_hash,
                planned_until=dt.date(2030, 1, 1),
                kept_until=dt.date(2030, 1, 1),
                queued_at=dt.datetime.now(dt.UTC),
                mailed=True,
            )
        )
        db.commit()

    in_app(app, notice)

    # Erasing the started sign-up (never signed: deleted whole) takes its file; the signed one's stay.
    logged_in(app, client, ANNA)
    asked = client.get(f"/en/my/erase/{second.token}", base_url=TIKTOK).get_data(as_text=True)
    assert client.post(f"/en/my/erase/{second.token}", data={"csrf_token": csrf(asked)}, base_url=TIKTOK)
    assert sorted(row.file_name for row in rows(app)) == ["a1.zip", "a2.zip"]
    assert bucket_keys() == sorted(f"vault/{by_name[name].store_key}" for name in ("a1.zip", "a2.zip"))

    # The last sign-up: its page says the whole vault goes, and it does, from the bucket too.
    asked = client.get(f"/en/my/erase/{anna.token}", base_url=TIKTOK).get_data(as_text=True)
    assert "This is the last sign-up of your e-mail address with us: your vault is removed with it" in asked
    assert client.post(f"/en/my/erase/{anna.token}", data={"csrf_token": csrf(asked)}, base_url=TIKTOK)
    assert rows(app) == [] and bucket_keys() == []
    assert s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert in_app(app, lambda db: vault_keys.vault_key_of(db, anna.email_hash)) is None
    assert in_app(app, lambda db: db.scalars(select(VaultRemovalNotice)).all()) == []
    assert in_app(app, lambda db: db.scalars(select(VaultFile)).all()) == []
