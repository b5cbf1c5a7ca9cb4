"""Issue 21's promise, tried as an attacker on the server would: with the database, the stored files, every server
secret and the foundation's private key file (and the holding key derived from it), nothing decrypts a file in a
participant's vault, and no server secret unwraps the vault's private key. A file held before its owner had a vault
does open with the foundation's key, by design (README says so); once moved in, it no longer does. (The
participant's copy of their mandate outside the vault: tests/test_mandate_copy.py.)"""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from sqlalchemy import select

from core.data import vault_keys
from core.data.db import utcnow
from core.data.models import VaultKey
from core.vault.holding import derive_private
from core.vault.stream_format import private_key_pkcs8
from tests.conftest import BREACH_KEY, CONTACT_KEY, HASH_KEY, SECRET
from tests.test_mandate_copy import candidate_keys, everything_stored, opens
from tests.test_signup import deliver
from tests.test_vault_deposit import ANNA, ZIP_BYTES, deposit, in_app, join, mapping, opened, rows, stored
from tests.test_vault_held import move, private_key_file
from tests.test_vault_setup import PASSPHRASE, RECOVERY_CODE, password_of, unwrap, wrap

SECRET_TEXT = b"Anna's location history, 2019-2024 " * 40_000  # ~1.4 MB: more than one chunk


def set_up_vault_as_the_browser_does(app: Flask, email_hash: str) -> ec.EllipticCurvePrivateKey:
    """A vault whose private key the server holds only wrapped, with the passphrase and with the recovery code."""
    private = ec.generate_private_key(ec.SECP256R1())
    public_raw = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    pkcs8 = private_key_pkcs8(private)
    by_passphrase = json.dumps(wrap(pkcs8, password_of(PASSPHRASE)))
    by_recovery = json.dumps(wrap(pkcs8, password_of(RECOVERY_CODE, recovery=True)))
    done = in_app(app, lambda db: vault_keys.set_up(db, email_hash, public_raw, by_passphrase, by_recovery, utcnow()))
    assert done is vault_keys.SetUp.DONE
    return private


def test_nothing_the_server_holds_opens_a_vault_file_or_the_vaults_key(db_app: Flask, tmp_path: Path) -> None:
    anna = join(db_app, ANNA)
    reference = anna.token[:12]
    foundation_raw = base64.b64decode(private_key_file(db_app).read_text().splitlines()[-1])
    holding = derive_private(foundation_raw)

    # Held for Anna before she had a vault: the foundation's (holding) key opens it, by design.
    first = mapping(tmp_path / "1", ["reference,file", f"{reference},held.zip"], {"held.zip": SECRET_TEXT})
    assert deposit(db_app, first).exit_code == 0
    [held] = rows(db_app)
    assert held.held_key_id is not None and opened(stored(db_app, held.store_key), holding) == SECRET_TEXT

    private = set_up_vault_as_the_browser_does(db_app, anna.email_hash)
    assert move(db_app).exit_code == 0  # the held file and her signed mandate go into her vault
    second = mapping(tmp_path / "2", ["reference,file", f"{reference},new.zip"], {"new.zip": ZIP_BYTES})
    assert deposit(db_app, second).exit_code == 0
    deliver(db_app)
    files = rows(db_app)
    assert sorted(f.kind for f in files) == ["answer", "answer", "mandate"]
    assert all(f.held_key_id is None and f.other_key is None for f in files)
    ciphertexts = {f.file_name: stored(db_app, f.store_key) for f in files}
    # Her key opens every one: the checks below could succeed if anything else did too.
    assert opened(ciphertexts["held.zip"], private) == SECRET_TEXT
    assert opened(ciphertexts["new.zip"], private) == ZIP_BYTES
    assert opened(ciphertexts[f"mandate-{anna.campaign}.pdf"], private).startswith(b"%PDF")

    candidates = list(candidate_keys(db_app, list(everything_stored(db_app))))
    candidates += [("the holding key", private_key_pkcs8(holding)), ("the foundation's key", foundation_raw)]
    for name, ciphertext in ciphertexts.items():
        assert SECRET_TEXT[:64] not in ciphertext and ZIP_BYTES[:64] not in ciphertext
        for what, candidate in candidates:
            assert opens(ciphertext, candidate) is None, f"{what} opens {name}"
    assert len(candidates) > 50

    # No server secret, as a passphrase or a recovery code, unwraps the vault's private key (600,000 PBKDF2
    # iterations a try: the server's secrets, the foundation's key, and the stored public key, not every value).
    vault = in_app(db_app, lambda db: db.scalars(select(VaultKey)).one())
    records = [json.loads(vault.wrapped_by_passphrase), json.loads(vault.wrapped_by_recovery)]
    assert unwrap(records[0], password_of(PASSPHRASE)) == unwrap(records[1], password_of(RECOVERY_CODE, True))
    secrets = [HASH_KEY, CONTACT_KEY, SECRET, BREACH_KEY, base64.b64encode(foundation_raw).decode()]
    secrets.append(base64.urlsafe_b64encode(vault.public_raw).decode().rstrip("="))
    for record in records:
        for secret in secrets:
            with contextlib.suppress(InvalidTag):
                unwrap(record, secret.encode())
                raise AssertionError(f"a server secret unwraps the vault's key: {secret[:8]}…")
