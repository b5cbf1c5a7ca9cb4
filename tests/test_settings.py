"""Process settings: one environment prefix, and production refuses an unsafe secret."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.certificates import development_identity
from core.settings import SettingsError, load_settings
from tests.conftest import PRODUCTION_PUBLIC_KEY, PRODUCTION_RATELIMIT_URL, ProductionSeal


@pytest.mark.parametrize("secret", ["", "changeme", "dev", "short-but-not-placeholder"])
def test_production_refuses_missing_or_placeholder_secret(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMSITE_ENV", "production")
    monkeypatch.setenv("CLAIMSITE_SECRET_KEY", secret)
    with pytest.raises(SettingsError, match="CLAIMSITE_SECRET_KEY"):
        load_settings()


def test_production_refuses_missing_hash_key_or_the_same_key_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMSITE_ENV", "production")
    monkeypatch.setenv("CLAIMSITE_SECRET_KEY", "x" * 40)
    monkeypatch.delenv("CLAIMSITE_HASH_KEY", raising=False)
    with pytest.raises(SettingsError, match="CLAIMSITE_HASH_KEY"):
        load_settings()
    monkeypatch.setenv("CLAIMSITE_HASH_KEY", "x" * 40)
    monkeypatch.setenv("CLAIMSITE_CONTACT_KEY", "z" * 40)
    monkeypatch.setenv("CLAIMSITE_BREACH_KEY", "w" * 40)
    with pytest.raises(SettingsError, match="must differ"):
        load_settings()


@pytest.mark.parametrize("missing", ["CLAIMSITE_CONTACT_KEY", "CLAIMSITE_BREACH_KEY"])
def test_production_refuses_a_missing_contact_or_breach_key_or_one_shared_with_another_key(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("CLAIMSITE_ENV", "production")
    keys = {
        "CLAIMSITE_SECRET_KEY": "x" * 40,
        "CLAIMSITE_HASH_KEY": "y" * 40,
        "CLAIMSITE_CONTACT_KEY": "z" * 40,
        "CLAIMSITE_BREACH_KEY": "w" * 40,
    }
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(SettingsError, match=f"{missing} is missing"):
        load_settings()
    monkeypatch.setenv(missing, "y" * 40)
    with pytest.raises(SettingsError, match="must differ"):
        load_settings()
    monkeypatch.setenv(missing, keys[missing])
    assert load_settings({"env": "test"}).resolved_breach_key() == "w" * 40  # from the environment


def test_outside_production_the_breach_key_is_made_once_in_the_instance_folder(tmp_path: Path) -> None:
    settings = load_settings({"env": "development", "instance_dir": tmp_path})
    key = settings.resolved_breach_key()
    assert len(key) >= 32 and (tmp_path / "breach_key").read_text() == key
    assert load_settings({"env": "development", "instance_dir": tmp_path}).resolved_breach_key() == key
    assert key not in {settings.resolved_hash_key(), settings.resolved_contact_key()}


def test_production_is_the_default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAIMSITE_ENV", raising=False)
    monkeypatch.delenv("CLAIMSITE_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError):
        load_settings()


def test_settings_come_from_prefixed_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, production_seal: ProductionSeal
) -> None:
    for name, value in production_seal.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMSITE_ENV", "production")
    monkeypatch.setenv("CLAIMSITE_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("CLAIMSITE_HASH_KEY", "y" * 40)
    monkeypatch.setenv("CLAIMSITE_CONTACT_KEY", "z" * 40)
    monkeypatch.setenv("CLAIMSITE_BREACH_KEY", "w" * 40)
    monkeypatch.setenv("CLAIMSITE_TRUSTED_PROXIES", "2")
    monkeypatch.setenv("CLAIMSITE_CAMPAIGNS_DIR", str(tmp_path))
    monkeypatch.setenv("CLAIMSITE_DATABASE_URL", "postgresql+psycopg://db/claims")
    monkeypatch.setenv("CLAIMSITE_MAIL_URL", "smtp://mailer:s3cret@mail.example:587?starttls=1")
    monkeypatch.setenv("CLAIMSITE_SEALING_PUBLIC_KEY", PRODUCTION_PUBLIC_KEY)
    monkeypatch.setenv("CLAIMSITE_RATELIMIT_STORAGE_URL", PRODUCTION_RATELIMIT_URL)
    settings = load_settings()
    assert settings.trusted_proxies == 2 and settings.campaigns_dir == tmp_path
    assert settings.resolved_sealing_key().id.hex() == "1a92f23852dc908d"
    assert settings.mail_url == "smtp://mailer:s3cret@mail.example:587?starttls=1"
    assert settings.resolved_database_url() == "postgresql+psycopg://db/claims"
    assert settings.resolved_seal_identity() == production_seal.identity


EARLY_2020 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
EARLY_2021 = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)


def _certificate(
    folder: Path, name: str, key: Any, valid: tuple[dt.datetime, dt.datetime] = (EARLY_2020, EARLY_2021)
) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Foundation seal")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .sign(key, hashes.SHA256())
    )
    key_path, certificate_path = folder / f"{name}-key.pem", folder / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, certificate_path


def test_production_refuses_to_start_without_a_valid_seal_and_a_time_stamping_authority(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, production_seal: ProductionSeal
) -> None:
    for name, value in {
        "CLAIMSITE_ENV": "production",
        "CLAIMSITE_SECRET_KEY": "x" * 40,
        "CLAIMSITE_HASH_KEY": "y" * 40,
        "CLAIMSITE_CONTACT_KEY": "z" * 40,
        "CLAIMSITE_BREACH_KEY": "b" * 40,
        "CLAIMSITE_MAIL_URL": "smtp://mail.example:25",
        "CLAIMSITE_SEALING_PUBLIC_KEY": PRODUCTION_PUBLIC_KEY,
        "CLAIMSITE_RATELIMIT_STORAGE_URL": PRODUCTION_RATELIMIT_URL,
        "CLAIMSITE_INSTANCE_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="CLAIMSITE_MANDATE_SEAL_CERTIFICATE is missing"):
        load_settings()
    assert not (tmp_path / "seal").exists()  # production never makes a development seal of its own

    for name, value in production_seal.environment.items():
        monkeypatch.setenv(name, value)
    assert load_settings().mandate_timestamp_url == production_seal.authority.url
    for url in ("", "tsa.example.org", "ftp://tsa.example.org/", "https://"):
        monkeypatch.setenv("CLAIMSITE_MANDATE_TIMESTAMP_URL", url)
        with pytest.raises(SettingsError, match="CLAIMSITE_MANDATE_TIMESTAMP_URL is missing or not an http"):
            load_settings()
    monkeypatch.setenv("CLAIMSITE_MANDATE_TIMESTAMP_URL", production_seal.authority.url)

    development = development_identity(tmp_path / "development-seal")
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_KEY", str(development.key))
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_CERTIFICATE", str(development.certificate))
    with pytest.raises(SettingsError, match="is the development seal, which is not valid as evidence"):
        load_settings()

    key, certificate = _certificate(tmp_path, "expired", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_KEY", str(key))
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_CERTIFICATE", str(certificate))
    with pytest.raises(SettingsError, match=r"expired\.pem expired on 2021-01-01 00:00 UTC"):
        load_settings()

    now = dt.datetime.now(dt.UTC)
    valid = (now - dt.timedelta(days=1), now + dt.timedelta(days=365))
    key, elliptic = _certificate(tmp_path, "elliptic", ec.generate_private_key(ec.SECP256R1()), valid)
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_KEY", str(key))
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_CERTIFICATE", str(elliptic))
    with pytest.raises(SettingsError, match="certifies an EC key; a mandate seal must be RSA"):
        load_settings()
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_KEY", str(key))
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_CERTIFICATE", str(certificate))

    certificate.write_text("not a certificate")
    with pytest.raises(SettingsError, match=r"expired\.pem is not a readable PEM certificate"):
        load_settings()
    monkeypatch.setenv("CLAIMSITE_MANDATE_SEAL_CERTIFICATE", str(tmp_path / "missing.pem"))
    with pytest.raises(SettingsError, match=r"missing\.pem is not a file"):
        load_settings()


def test_production_refuses_to_start_without_a_mail_server(
    monkeypatch: pytest.MonkeyPatch, production_seal: ProductionSeal
) -> None:
    for name, value in production_seal.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMSITE_ENV", "production")
    monkeypatch.setenv("CLAIMSITE_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("CLAIMSITE_HASH_KEY", "y" * 40)
    monkeypatch.setenv("CLAIMSITE_CONTACT_KEY", "z" * 40)
    monkeypatch.setenv("CLAIMSITE_BREACH_KEY", "w" * 40)
    monkeypatch.setenv("CLAIMSITE_SEALING_PUBLIC_KEY", PRODUCTION_PUBLIC_KEY)
    monkeypatch.setenv("CLAIMSITE_RATELIMIT_STORAGE_URL", PRODUCTION_RATELIMIT_URL)
    monkeypatch.delenv("CLAIMSITE_MAIL_URL", raising=False)
    with pytest.raises(SettingsError, match="CLAIMSITE_MAIL_URL is missing"):
        load_settings()
    for wrong in ("http://mailer:s3cret@mail.example", "mail.example:25", "smtp://", "smtp://mail.example:abc"):
        monkeypatch.setenv("CLAIMSITE_MAIL_URL", wrong)
        with pytest.raises(SettingsError, match="CLAIMSITE_MAIL_URL must look like") as raised:
            load_settings()
        assert "s3cret" not in str(raised.value)
    monkeypatch.setenv("CLAIMSITE_MAIL_URL", "smtps://mailer:s3cret@mail.example:465")
    assert load_settings().mail_url.startswith("smtps://")
    # Outside production an empty mail URL is fine: mail goes to instance/outbox.
    assert load_settings({"env": "development", "mail_url": ""}).mail_url == ""


def test_development_makes_and_keeps_a_random_secret(tmp_path: Path) -> None:
    first = load_settings({"env": "development", "instance_dir": tmp_path}).resolved_secret_key()
    again = load_settings({"env": "development", "instance_dir": tmp_path}).resolved_secret_key()
    assert first == again and len(first) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_wsgi_refuses_to_start_without_secret_in_a_clear_message(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSITE_")}
    env.update(CLAIMSITE_ENV="production", CLAIMSITE_INSTANCE_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "claimsite cannot start" in result.stderr and "CLAIMSITE_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_to_start_without_the_public_sealing_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, production_seal: ProductionSeal
) -> None:
    for name, value in production_seal.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMSITE_ENV", "production")
    monkeypatch.setenv("CLAIMSITE_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("CLAIMSITE_HASH_KEY", "y" * 40)
    monkeypatch.setenv("CLAIMSITE_CONTACT_KEY", "z" * 40)
    monkeypatch.setenv("CLAIMSITE_BREACH_KEY", "w" * 40)
    monkeypatch.setenv("CLAIMSITE_MAIL_URL", "smtp://mail.example:25")
    monkeypatch.setenv("CLAIMSITE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CLAIMSITE_RATELIMIT_STORAGE_URL", PRODUCTION_RATELIMIT_URL)
    monkeypatch.delenv("CLAIMSITE_SEALING_PUBLIC_KEY", raising=False)
    with pytest.raises(SettingsError, match="CLAIMSITE_SEALING_PUBLIC_KEY is missing"):
        load_settings()
    monkeypatch.setenv("CLAIMSITE_SEALING_PUBLIC_KEY", "not-a-key")
    with pytest.raises(SettingsError, match="CLAIMSITE_SEALING_PUBLIC_KEY: not a public key"):
        load_settings().resolved_sealing_key()
    assert not (tmp_path / "keys").exists()  # production never makes a key pair of its own


def test_outside_production_a_development_key_pair_is_made_once(tmp_path: Path) -> None:
    settings = load_settings({"env": "development", "instance_dir": tmp_path})
    key = settings.resolved_sealing_key()
    private, public = settings.development_key_pair()
    assert private.name == f"private-{key.id.hex()}.key" and public.name == f"public-{key.id.hex()}.key"
    assert private.stat().st_mode & 0o777 == 0o600
    assert load_settings({"env": "development", "instance_dir": tmp_path}).resolved_sealing_key() == key
