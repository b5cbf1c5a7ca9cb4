"""Files held for participants without a vault (issue 21, items 2 and 4): ``flask vault deposit`` holds a file under
the foundation's holding key (P-256, derived from the sealing private key) and invites the participant once;
``flask vault move`` and the console's Vaults section move held files and signed mandates into the vault once it is
set up, byte-identical, safe to run again after being killed midway; production without the holding key refuses
such a deposit, saying which setting; erasure removes held files. On SQLite and PostgreSQL; local store and S3."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from sqlalchemy import select, update

from core.data.db import db_session
from core.data.models import AuditEntry, StaffExport, VaultFile
from core.sealing import OpeningKeys
from core.settings import SettingsError
from core.vault.holding import HoldingKey
from core.vault.store import LocalFolderStore
from core.vault.stream_format import decrypt_stream, decrypted_pieces
from tests.conftest import PRODUCTION_PUBLIC_KEY, REPO, opened_personal_data, process_settings
from tests.s3_server import S3Server
from tests.test_participant_page import logged_in
from tests.test_signup import TIKTOK, deliver
from tests.test_staff_console import ADMIN, csrf, logged_in_client
from tests.test_vault_deposit import (
    ANNA,
    BOB,
    CAMPAIGN,
    CSV_BYTES,
    ZIP_BYTES,
    deposit,
    erase_the_one_signup,
    give_vault,
    in_app,
    join,
    mapping,
    rows,
    s3_app,
    stored,
)

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def private_key_file(app: Flask) -> Path:
    return app.extensions["claimsite"].settings.development_key_pair()[0]


def holding_private(app: Flask) -> ec.EllipticCurvePrivateKey:
    """The holding key as README and core/vault/holding.py define it, derived here with HMAC by hand (RFC 5869) so
    that a change of the derivation fails this test."""
    [raw] = OpeningKeys.from_files([private_key_file(app)]).private_raws()
    prk = hmac.new(b"\0" * 32, raw, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in (1, 2):
        block = hmac.new(prk, block + b"claimsite vault holding key v1" + bytes([counter]), hashlib.sha256).digest()
        okm += block
    scalar = int.from_bytes(okm[:48], "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def opened(ciphertext: bytes, private: ec.EllipticCurvePrivateKey) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), out, private)
    return out.getvalue()


def move(app: Flask, *extra: str) -> Any:
    return app.test_cli_runner().invoke(args=["vault", "move", "--private-key", str(private_key_file(app)), *extra])


def mail_text(mail: Any) -> str:
    return str(mail["Subject"]) + mail.get_body(("plain",)).get_content() + mail.get_body(("html",)).get_content()


def store_files(app: Flask) -> list[str]:
    folder = app.extensions["claimsite"].settings.instance_dir / "vault"
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def vault_page(app: Flask, client: Any) -> str:
    return client.get("/en/my/vault", base_url=TIKTOK).get_data(as_text=True)


def test_the_holding_key_is_derived_from_the_private_key_file_and_printed_for_the_setting(db_app: Flask) -> None:
    expected = holding_private(db_app)
    configured = db_app.extensions["claimsite"].vault_holding_key
    assert configured.public_raw == expected.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert configured.id == hashlib.sha256(configured.public_raw).hexdigest()[:16]
    printed = db_app.test_cli_runner().invoke(
        args=["vault", "holding-key", "--private-key", str(private_key_file(db_app))]
    )
    assert printed.exit_code == 0 and f"CLAIMSITE_VAULT_HOLDING_KEY={configured.text}" in printed.output
    assert f"holding key id {configured.id}" in printed.output
    shown = db_app.test_cli_runner().invoke(args=["keys", "show"])
    assert f"held under holding key id {configured.id}" in shown.output
    assert HoldingKey.from_text(configured.text) == configured


def test_a_held_file_invites_once_and_moves_in_with_the_mandate_after_set_up(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    reference = anna.token[:12]
    path = mapping(
        tmp_path / "answers",
        [
            "reference,file,company,name",
            f"{reference},a.zip,Meta Platforms,anna-meta-export.zip",
            f"{reference},v.csv,Meta Platforms,",
        ],
        {"a.zip": ZIP_BYTES, "v.csv": CSV_BYTES},
    )
    result = deposit(db_app, path)
    assert result.exit_code == 0, result.output
    assert "2 file(s) deposited for 1 participant(s), 0 arrival mail(s) queued" in result.output
    assert "2 file(s) held for participants without a vault, 1 invitation(s) to set one up queued" in result.output
    holding = holding_private(db_app)
    held_zip, held_csv = rows(db_app)
    for row, plain in ((held_zip, ZIP_BYTES), (held_csv, CSV_BYTES)):
        assert row.held_key_id == db_app.extensions["claimsite"].vault_holding_key.id and row.kind == "answer"
        cipher = stored(db_app, row.store_key)
        assert plain[:40] not in cipher and opened(cipher, holding) == plain

    [invitation] = deliver(db_app)
    text = mail_text(invitation)
    assert invitation["To"] == ANNA and "until you set up your vault" in text and f"{TIKTOK}/en/my" in text
    for secret in ("anna-meta", "v.csv", "Meta Platforms", reference, held_zip.store_key, held_zip.held_key_id):
        assert secret not in text

    # Another file while she still has no vault: held too, and no second invitation.
    later = mapping(tmp_path / "later", ["reference,file", f"{reference},b.zip"], {"b.zip": b"later answer"})
    again = deposit(db_app, later)
    assert again.exit_code == 0 and "0 invitation(s) to set one up queued" in again.output, again.output
    assert deliver(db_app) == []
    assert all(row.notified_at is not None for row in rows(db_app))

    # Her page counts what waits and lists nothing she cannot open; a held file is never served.
    client = db_app.test_client()
    logged_in(db_app, client, ANNA)
    assert "3 files are waiting for you. Set up your vault below" in vault_page(db_app, client)
    assert client.get("/en/my/vault/files", base_url=TIKTOK).get_json() == {"files": []}
    assert client.get(f"/en/my/vault/files/{held_zip.id}", base_url=TIKTOK).status_code == 404

    private = give_vault(db_app, anna)
    assert "3 files are waiting to be moved into your vault. Our staff move them in" in vault_page(db_app, client)
    held_keys = [row.store_key for row in rows(db_app)]

    moved = move(db_app)
    assert moved.exit_code == 0, moved.output
    assert "3 held file(s) and 1 mandate(s) moved into vaults, 0 move(s) cut off before finished, 1 arrival" in (
        moved.output
    )
    after = rows(db_app)
    assert [row.held_key_id for row in after] == [None] * 4 and [row.other_key for row in after] == [None] * 4
    assert not set(held_keys) & {row.store_key for row in after}
    if isinstance(db_app.extensions["claimsite"].vault_store, LocalFolderStore):
        assert store_files(db_app) == sorted(row.store_key for row in after)  # the held copies are gone
    for row, plain in zip(after[:3], (ZIP_BYTES, CSV_BYTES, b"later answer"), strict=True):
        assert opened(stored(db_app, row.store_key), private) == plain
        assert row.size_cipher == len(stored(db_app, row.store_key))
        assert row.sha256_cipher == hashlib.sha256(stored(db_app, row.store_key)).hexdigest()
    mandate = after[3]
    assert (mandate.kind, mandate.file_name, mandate.media_type) == (
        "mandate",
        "mandate-tiktokclaim.pdf",
        "application/pdf",
    )
    with db_app.app_context():
        sealed_pdf = opened_personal_data(db_app, anna).mandate_pdf
    assert (
        sealed_pdf
        and sealed_pdf.startswith(b"%PDF")
        and opened(stored(db_app, mandate.store_key), private) == sealed_pdf
    )

    [arrival] = deliver(db_app)
    assert arrival["To"] == ANNA and "Something new is in your vault" in mail_text(arrival)
    listed = client.get("/en/my/vault/files", base_url=TIKTOK).get_json()["files"]
    assert sorted(file["file_name"] for file in listed) == sorted(
        ["anna-meta-export.zip", "v.csv", "b.zip", "mandate-tiktokclaim.pdf"]
    )
    assert "waiting" not in vault_page(db_app, client)

    # Nothing left to do: a second run moves nothing and mails nobody; a deposit now goes straight in.
    twice = move(db_app)
    assert twice.exit_code == 0 and "0 held file(s) and 0 mandate(s) moved" in twice.output
    assert deliver(db_app) == [] and len(rows(db_app)) == 4
    actions = in_app(db_app, lambda db: list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))
    assert actions.count("vault-move") == 2


def test_a_move_killed_midway_is_finished_by_the_next_run(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    big = os.urandom(1 << 20) * 48  # 48 MiB: long enough to be killed while it streams
    path = mapping(tmp_path / "answers", ["reference,file", f"{anna.token[:12]},big.bin"], {"big.bin": big})
    assert deposit(db_app, path).exit_code == 0
    deliver(db_app)
    private = give_vault(db_app, anna)
    [held] = rows(db_app)
    settings = db_app.extensions["claimsite"].settings
    env = {**os.environ, "FLASK_APP": "wsgi", **process_settings(db_app)}
    command = [sys.executable, "-m", "flask", "vault", "move", "--private-key", str(private_key_file(db_app))]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = settings.instance_dir / "vault"
    deadline = time.monotonic() + 60
    try:
        # Killed once the new copy is being written: a partial file of more than a few chunks is in the store.
        while time.monotonic() < deadline:
            if any(p.stat().st_size > (4 << 20) for p in folder.rglob(".*.part") if p.exists()):
                break
            assert process.poll() is None, "the move ended before it could be killed"
            time.sleep(0.005)
        else:
            raise AssertionError("no partial copy appeared within a minute")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=20)

    [cut] = rows(db_app)
    assert cut.held_key_id is not None and cut.other_key is not None and cut.store_key == held.store_key
    assert opened(stored(db_app, cut.store_key), holding_private(db_app)) == big  # the held copy is whole

    # The killed run still holds the lease: a move right away is refused; once the lease expires (15 minutes
    # without renewal: made to pass here), the next move takes it over and finishes the cut-off one.
    refused = move(db_app)
    assert refused.exit_code == 1 and "another move into the vaults is running" in refused.output
    from core.data.models import RunLease

    in_app(db_app, lambda db: (db.execute(update(RunLease).values(expires_at=RunLease.started_at)), db.commit()))
    finished = move(db_app)
    assert finished.exit_code == 0, finished.output
    assert "1 held file(s) and 1 mandate(s) moved into vaults, 1 move(s) cut off before finished" in finished.output
    moved, _mandate = rows(db_app)
    assert moved.id == held.id and moved.held_key_id is None and moved.other_key is None
    assert opened(stored(db_app, moved.store_key), private) == big
    assert not any(name in store_files(db_app) for name in (held.store_key, cut.other_key))
    assert [m["To"] for m in deliver(db_app)] == [ANNA]

    # Cut off later, between the switch and the deletion of the held copy (made real: the held copy is put back
    # and the row names it as the copy to delete, the arrival mail not sent): the next run deletes it and mails.
    store = db_app.extensions["claimsite"].vault_store
    with db_app.app_context():
        store.put(held.store_key, io.BytesIO(b"CLVAULT1 the old held copy"))

    def half_done(db: Any) -> None:
        db.execute(update(VaultFile).where(VaultFile.id == held.id).values(other_key=held.store_key, notified_at=None))
        db.commit()

    in_app(db_app, half_done)
    again = move(db_app)
    assert (
        again.exit_code == 0 and "0 held file(s) and 0 mandate(s) moved into vaults, 1 move(s) cut off" in again.output
    )
    assert held.store_key not in store_files(db_app) and rows(db_app)[0].other_key is None
    assert opened(stored(db_app, rows(db_app)[0].store_key), private) == big
    assert [m["To"] for m in deliver(db_app)] == [ANNA]


def test_a_file_held_under_a_key_that_was_not_given_stays_held_and_is_reported(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    assert deposit(db_app, path).exit_code == 0
    give_vault(db_app, anna)
    [held] = rows(db_app)

    def rotated(db: Any) -> None:  # as if held under the key of a pair rotated out since
        db.execute(update(VaultFile).values(held_key_id="00112233aabbccdd"))
        db.commit()

    in_app(db_app, rotated)
    result = move(db_app)
    assert result.exit_code == 1
    assert f"file {held.id}: held under holding key 00112233aabbccdd, whose private key file was not given" in (
        result.output
    )
    [still] = [row for row in rows(db_app) if row.kind == "answer"]
    assert still.held_key_id == "00112233aabbccdd" and still.store_key == held.store_key and still.other_key is None


def test_erasure_removes_held_files_from_the_store(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    assert deposit(db_app, path).exit_code == 0
    [held] = rows(db_app)
    stray = "f" * 32  # a copy a cut-off move left behind: erasure removes it too
    with db_app.app_context():
        db_app.extensions["claimsite"].vault_store.put(stray, io.BytesIO(b"CLVAULT1 half a copy"))
    in_app(db_app, lambda db: (db.execute(update(VaultFile).values(other_key=stray)), db.commit()))

    erase_the_one_signup(db_app)
    assert rows(db_app) == []
    with db_app.app_context():
        store = db_app.extensions["claimsite"].vault_store
        assert not store.exists(held.store_key) and not store.exists(stray)


def production_app(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Flask:
    for name in ("CLAIMSITE_STRIPE_SECRET_KEY", "CLAIMSITE_STRIPE_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "sk_test_not_used")  # so that the paying campaign is served
    return make_app(
        env="production", mail_url="smtp://127.0.0.1:25", sealing_public_key=PRODUCTION_PUBLIC_KEY, **settings
    )


def test_production_without_the_holding_key_refuses_a_deposit_for_someone_without_a_vault(
    make_app: Callable[..., Flask], migrated_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = make_app(database_url=migrated_database_url)
    anna, bob = join(app, ANNA), join(app, BOB)
    give_vault(app, bob)
    path = mapping(
        tmp_path,
        ["reference,file", f"{anna.token[:12]},a.zip", f"{bob.token[:12]},b.zip"],
        {"a.zip": ZIP_BYTES, "b.zip": b"Bob's answer"},
    )
    production = production_app(make_app, monkeypatch, database_url=migrated_database_url)
    assert production.extensions["claimsite"].vault_holding_key is None
    shown = production.test_cli_runner().invoke(args=["keys", "show"])
    assert "files for participants without a vault: refused (CLAIMSITE_VAULT_HOLDING_KEY is not set)" in shown.output
    result = deposit(production, path)
    assert result.exit_code == 1
    assert (
        f"line 2 ({anna.token[:12]}): no vault yet, and no holding key to keep the file for them until they set one "
        "up: set CLAIMSITE_VAULT_HOLDING_KEY (flask vault holding-key --private-key FILE prints it)"
    ) in result.output
    assert "1 file(s) deposited for 1 participant(s)" in result.output  # Bob's, into his vault
    [bobs] = rows(production)
    assert bobs.held_key_id is None

    # With the setting, the same line is held under that key; a malformed one stops the app at start.
    holding = HoldingKey.of_private(OpeningKeys.from_files([private_key_file(app)]).private_raws()[0])
    configured = production_app(
        make_app, monkeypatch, database_url=migrated_database_url, vault_holding_key=holding.text
    )
    held = deposit(configured, path)
    assert held.exit_code == 0 and "1 file(s) held for participants without a vault" in held.output, held.output
    assert [row.held_key_id for row in rows(configured)] == [None, holding.id]
    with pytest.raises(SettingsError, match="CLAIMSITE_VAULT_HOLDING_KEY: the holding key is not base64url"):
        production_app(make_app, monkeypatch, vault_holding_key="not a key!")
    for used in (app, production, configured):
        used.extensions["claimsite.db"].engine.dispose()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


def test_held_files_move_in_an_s3_store(
    make_app: Callable[..., Flask], s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, bucket = s3_app(make_app, s3_server, monkeypatch, "held")
    anna = join(app, ANNA)
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    assert deposit(app, path).exit_code == 0
    [held] = rows(app)
    private = give_vault(app, anna)
    assert move(app).exit_code == 0
    moved, mandate = rows(app)
    listed = sorted(item["Key"] for item in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert listed == sorted([f"vault/{moved.store_key}", f"vault/{mandate.store_key}"])
    assert held.store_key != moved.store_key and opened(stored(app, moved.store_key), private) == ZIP_BYTES
    assert opened(stored(app, mandate.store_key), private).startswith(b"%PDF")


# -- the console's button ---------------------------------------------------------------------------------------
@pytest.fixture
def staff_app(make_app: Any, migrated_database_url: str) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, admin_host="staff.example")
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def start_move(client: Any, key: bytes, slug: str = CAMPAIGN) -> Any:
    return client.post(
        f"/campaigns/{slug}/vault-move",
        base_url=ADMIN,
        content_type="multipart/form-data",
        headers={"Referer": f"{ADMIN}/"},
        data={"csrf_token": csrf(client, f"/campaigns/{slug}"), "private_keys": (io.BytesIO(key), "private.key")},
    )


def test_the_console_moves_held_files_and_mandates_in_the_background(staff_app: Flask, tmp_path: Path) -> None:
    anna, bob = join(staff_app, ANNA), join(staff_app, BOB)
    path = mapping(
        tmp_path,
        ["reference,file", f"{anna.token[:12]},a.zip", f"{bob.token[:12]},b.zip"],
        {"a.zip": ZIP_BYTES, "b.zip": b"Bob's answer"},
    )
    assert deposit(staff_app, path).exit_code == 0
    deliver(staff_app)
    private = give_vault(staff_app, anna)  # Bob has none yet: his file stays held
    client = logged_in_client(staff_app)
    page = client.get(f"/campaigns/{CAMPAIGN}", base_url=ADMIN).get_data(as_text=True)
    assert re.search(r"no vault when they were deposited: 2, of which 1 can be\s+moved now", page), page
    assert "Signed mandates to copy into their owner's vault: 1." in page

    wrong = start_move(client, b"not a key at all")
    assert wrong.status_code == 400 and "is not a private key file" in wrong.get_data(as_text=True)
    response = start_move(client, private_key_file(staff_app).read_bytes())
    assert response.status_code == 302 and response.location.startswith("/exports/")
    deadline = time.monotonic() + 60
    while "Moving:" in (report_page := client.get(response.location, base_url=ADMIN).get_data(as_text=True)):
        assert time.monotonic() < deadline, "the move did not finish within a minute"
        time.sleep(0.1)
    assert "Done: 2 file(s) moved into vaults" in report_page, report_page
    with client.get(f"{response.location}/download", base_url=ADMIN) as download:
        assert download.mimetype == "text/plain"
        report = download.get_data(as_text=True)
    assert "1 held file(s) and 1 mandate(s) moved into vaults" in report
    assert ANNA not in report and "a.zip" not in report

    anna_file, bobs_file, mandate = sorted(rows(staff_app), key=lambda row: (row.kind, row.id))
    assert anna_file.held_key_id is None and bobs_file.held_key_id is not None and mandate.kind == "mandate"
    assert opened(stored(staff_app, anna_file.store_key), private) == ZIP_BYTES
    assert [m["To"] for m in deliver(staff_app)] == [ANNA]
    with staff_app.app_context():
        actions = list(db_session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        [export] = db_session().scalars(select(StaffExport)).all()
    assert "vault-move-start" in actions and "vault-move" in actions and export.kind == "vault-move"


def test_after_a_key_rotation_files_held_under_the_old_key_move_with_both_key_files(
    db_app: Flask, tmp_path: Path
) -> None:
    anna = join(db_app, ANNA)
    path = mapping(tmp_path / "answers", ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    assert deposit(db_app, path).exit_code == 0
    old = private_key_file(db_app)
    runner = db_app.test_cli_runner()
    made = runner.invoke(args=["keys", "generate", "--out", str(tmp_path / "new-keys")])
    assert made.exit_code == 0 and "CLAIMSITE_VAULT_HOLDING_KEY=" in made.output
    [new_private] = (tmp_path / "new-keys").glob("private-*.key")
    [new_public] = (tmp_path / "new-keys").glob("public-*.key")
    rotated = runner.invoke(args=["keys", "rotate", "--private-key", str(old), "--to", str(new_public)])
    assert rotated.exit_code == 0, rotated.output
    private = give_vault(db_app, anna)

    # The new key alone opens the mandate (sealed again to it) but not the file held under the old holding key.
    only_new = runner.invoke(args=["vault", "move", "--private-key", str(new_private)])
    assert only_new.exit_code == 1 and "0 held file(s) and 1 mandate(s) moved" in only_new.output
    assert "whose private key file was not given" in only_new.output
    both = runner.invoke(args=["vault", "move", "--private-key", str(new_private), "--private-key", str(old)])
    assert both.exit_code == 0 and "1 held file(s) and 0 mandate(s) moved" in both.output, both.output
    [moved] = [row for row in rows(db_app) if row.kind == "answer"]
    assert moved.held_key_id is None and opened(stored(db_app, moved.store_key), private) == ZIP_BYTES


def test_a_move_keeps_a_few_chunks_in_memory_whatever_the_file_size(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    big = os.urandom(1 << 20) * 40  # 40 MiB
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},big.bin"], {"big.bin": big})
    assert deposit(db_app, path).exit_code == 0
    private = give_vault(db_app, anna)
    del big
    tracemalloc.start()
    try:
        result = move(db_app)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert peak < 12 << 20, f"a move of 40 MiB peaked at {peak / (1 << 20):.1f} MiB"
    [moved] = [row for row in rows(db_app) if row.kind == "answer"]
    digest = hashlib.sha256()
    with db_app.app_context(), db_app.extensions["claimsite"].vault_store.open(moved.store_key) as stored_file:
        for piece in decrypted_pieces(stored_file, private):
            digest.update(piece)
    assert digest.hexdigest() == hashlib.sha256((tmp_path / "big.bin").read_bytes()).hexdigest()
    print(f"move of a 40 MiB held file: peak traced memory {peak / (1 << 20):.1f} MiB")


def test_two_moves_at_once_run_one_after_the_other(db_app: Flask, tmp_path: Path) -> None:
    """A second move while one runs is refused, saying so, and changes nothing (its cleanup of cut-off moves would
    delete the copy the first one is writing); a lease left by a killed run is taken over once it expires."""
    import datetime as dt

    from core.data import run_leases
    from core.data.models import RunLease
    from core.staff.vault_moves import LEASE

    anna = join(db_app, ANNA)
    path = mapping(tmp_path, ["reference,file", f"{anna.token[:12]},a.zip"], {"a.zip": ZIP_BYTES})
    assert deposit(db_app, path).exit_code == 0
    give_vault(db_app, anna)
    now = dt.datetime.now(dt.UTC)
    # Another run holds the lease (as the console's background move would, while it writes a copy).
    assert in_app(db_app, lambda db: run_leases.take(db, LEASE, "staff:7|abc", now, dt.timedelta(minutes=15))) is None
    busy = move(db_app)
    assert busy.exit_code == 1 and "another move into the vaults is running" in busy.output and "staff:7" in busy.output
    [still_held] = rows(db_app)
    assert still_held.held_key_id is not None

    # The other run was killed: its lease expires, and the next move takes it over and does the work.
    expired = now - dt.timedelta(minutes=1)
    in_app(db_app, lambda db: (db.execute(update(RunLease).values(expires_at=expired)), db.commit()))
    moved = move(db_app)
    assert moved.exit_code == 0 and "1 held file(s) and 1 mandate(s) moved" in moved.output
    assert in_app(db_app, lambda db: db.scalars(select(RunLease)).all()) == []  # given back


def test_of_two_runs_taking_the_lease_at_once_one_gets_it(db_app: Flask) -> None:
    import datetime as dt
    import threading

    from core.data import run_leases

    barrier = threading.Barrier(2)
    results: list[object] = []

    def run(holder: str) -> None:
        with db_app.app_context():
            barrier.wait()
            results.append(
                run_leases.take(db_session(), "vault-move", holder, dt.datetime.now(dt.UTC), dt.timedelta(minutes=1))
            )

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result is None for result in results) == [False, True]
