"""Process settings, read from the environment (prefix ``CLAIMSITE_``) and typed.

Production refuses to start with a missing or placeholder secret key. In development a random key is made once
and kept in ``instance/secret_key`` so sessions survive restarts; there is never a hard-coded fallback.

:class:`FolderSettings` is the part that says where the campaign files and themes are: what ``flask campaigns``
reads, in CI too, where there are no secrets and nothing may be written. :class:`Settings` adds everything the
running app needs, with its production checks.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.certificates import SealIdentity, TokenKey, certificate_problem, development_identity
from core.sealing import SealingError, SealingKey, generate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The participant count on a public page is at most this old, all caches together (issue 22): see
# Settings._counter_is_fresh.
MAX_COUNTER_AGE_SECONDS = 10
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development", "xxx", "please-change"}


class SettingsError(Exception):
    """A setting is missing or unsafe; the message says which and how to fix it."""


class FolderSettings(BaseSettings):
    """Where the campaign files, themes and UI catalogs are. Reading these needs no secret and makes nothing; each
    field is read from ``CLAIMSITE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix="CLAIMSITE_", extra="ignore")

    campaigns_dir: Path = Field(default=PROJECT_ROOT / "campaigns", description="folder of <slug>.yaml files")
    themes_dir: Path = Field(default=PROJECT_ROOT / "themes", description="folder of themes")
    # the check shows the sentences that name a campaign in each language (core.campaigns.naming)
    translations_dir: Path = Field(default=PROJECT_ROOT / "translations", description="compiled UI catalogs")


class Settings(FolderSettings):
    """Every process setting. Each field is read from ``CLAIMSITE_<FIELD NAME IN CAPITALS>``."""

    env: Literal["development", "production", "test"] = Field(
        default="production", description="development reloads campaign files and serves <slug>.localhost"
    )
    secret_key: str = Field(default="", description="signs sessions and tokens; required in production")
    hash_key: str = Field(
        default="", description="keys the hashes of e-mail addresses and IPs; required in production; never change it"
    )
    contact_key: str = Field(
        default="",
        description="encrypts the contact copy of participants' e-mail addresses (core.data.contacts), the one "
        "readable copy kept after the join flow, for later mail; required in production; never change it",
    )
    breach_key: str = Field(
        default="",
        description="keys the digests of phone numbers in the breach indexes (core.breach.numbers); required in "
        "production, different from the other keys; a new key needs every dataset imported again",
    )
    breach_dir: Path | None = Field(
        default=None, description="folder of the breach indexes, one <dataset>.idx each; default: instance/breach"
    )
    vault_store: Literal["local", "s3"] = Field(
        default="local",
        description="where the participants' encrypted vault files are kept: local (a folder, "
        "CLAIMSITE_VAULT_DIR) or s3 (an S3-compatible bucket, CLAIMSITE_VAULT_S3_*)",
    )
    vault_dir: Path | None = Field(default=None, description="folder of the local vault store; default: instance/vault")
    vault_s3_bucket: str = Field(default="", description="the bucket of the s3 vault store (required with it)")
    vault_s3_prefix: str = Field(default="", description="folder in that bucket, e.g. vault/ (empty: its root)")
    vault_s3_endpoint_url: str = Field(
        default="",
        description="a store other than AWS S3 (MinIO, Ceph, a cloud's S3 API), e.g. https://s3.example.org; "
        "region and credentials come from boto3's usual variables (AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, ...)",
    )
    sealing_public_key: str = Field(
        default="",
        description="the foundation's public key, that personal data is sealed to (the base64 line of "
        "a file from flask keys generate); required in production; elsewhere a development pair is made once in "
        "instance/keys/",
    )
    vault_holding_key: str = Field(
        default="",
        description="the public key files are held under for a participant who has no vault yet (base64url; derived "
        "from the foundation's key pair: flask keys generate and flask vault holding-key print it); empty in "
        "production: such deposits are refused; elsewhere derived from the development pair",
    )
    mandate_seal_key: str = Field(
        default="",
        description="PEM file of the key that seals every mandate PDF (core.signup.mandate_seal); with "
        "CLAIMSITE_MANDATE_SEAL_CERTIFICATE; outside production, without them, a development CA and seal are made "
        "once in instance/seal/",
    )
    mandate_seal_certificate: str = Field(default="", description="PEM file of the seal's certificate")
    mandate_seal_pkcs11_library: str = Field(
        default="",
        description="instead of CLAIMSITE_MANDATE_SEAL_KEY: the PKCS#11 library of the hardware token that holds the "
        "seal's key (with ..._PKCS11_TOKEN, ..._PKCS11_KEY and ..._PKCS11_PIN)",
    )
    mandate_seal_pkcs11_token: str = Field(default="", description="the token's label")
    mandate_seal_pkcs11_key: str = Field(default="", description="the label of the seal's key on the token")
    mandate_seal_pkcs11_pin: str = Field(default="", description="the token's user PIN")
    mandate_seal_chain: str = Field(
        default="", description="PEM files of the CAs that issued the seal's certificate, separated by ':'"
    )
    mandate_timestamp_url: str = Field(
        default="", description="an RFC 3161 time-stamping authority that dates every seal, e.g. http://tsa.example/"
    )
    database_url: str = Field(default="", description="SQLAlchemy URL; default: SQLite in instance/")
    instance_dir: Path = Field(default=PROJECT_ROOT / "instance", description="local state: database, outbox, keys")
    trusted_proxies: int = Field(
        default=0, ge=0, description="number of reverse proxies whose X-Forwarded-* headers are trusted"
    )
    public_scheme: Literal["https", "http"] = Field(default="https", description="scheme of public campaign URLs")
    port: int = Field(default=5000, description="port of the development server, for <slug>.localhost links")
    counter_cache_seconds: float = Field(
        default=2.0, ge=0, description="how old a shown participant count may be within one process"
    )
    ratelimit_storage_url: str = Field(
        default="",
        description="where rate-limit counts live, e.g. redis://127.0.0.1:6379/0 (required in "
        "production); default outside production: memory, one count per process",
    )
    page_cache_seconds: float = Field(default=2.0, ge=0, description="how long a rendered page is reused")
    public_max_age_seconds: int = Field(
        default=4,
        ge=0,
        description="max-age of a public campaign page: how long a shared cache (nginx) or a browser may serve it "
        "without asking the app",
    )
    public_stale_seconds: int = Field(
        default=2,
        ge=0,
        description="stale-while-revalidate of a public campaign page: how long after max-age a cache may still "
        "serve it while it fetches a fresh one",
    )
    publish_poll_seconds: float = Field(
        default=2.0,
        ge=0,
        description="how often each web and worker process looks for changed campaign files (outside development, "
        "which looks on every request); 0: never, a change then needs a restart",
    )
    publish_quiet_seconds: float = Field(
        default=2.0,
        ge=0,
        description="a changed campaign is published once its files have not changed for this long, so a "
        "half-saved edit never goes live",
    )
    mail_url: str = Field(
        default="",
        description="smtp://user:pass@host:port plain or with ?starttls=1, smtps://... implicit TLS; "
        "empty: write to instance/outbox",
    )
    mail_from: str = Field(default="", description="default sender; empty: the campaign organisation's e-mail")
    sms_provider: str = Field(
        default="",
        description="the SMS provider that sends phone verification codes (core.phones.sms_providers), e.g. twilio; "
        "empty: outbox outside production (instance/outbox/*.sms), none in production (no SMS is sent); production "
        "refuses outbox",
    )
    admin_host: str = Field(
        default="",
        description="the one host the staff console is served on, e.g. staff.example.org (never a "
        "campaign's host); empty: no console, except in development, where it is staff.localhost",
    )
    staff_idle_minutes: int = Field(default=30, ge=1, description="a staff session ends after this long unused")
    staff_session_hours: int = Field(default=10, ge=1, description="a staff session ends this long after login")

    @model_validator(mode="after")
    def _safe_secrets(self) -> Settings:
        if self.env != "production":
            return self
        keys = (
            ("CLAIMSITE_SECRET_KEY", self.secret_key),
            ("CLAIMSITE_HASH_KEY", self.hash_key),
            ("CLAIMSITE_CONTACT_KEY", self.contact_key),
            ("CLAIMSITE_BREACH_KEY", self.breach_key),
        )
        for name, value in keys:
            if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 32:
                raise SettingsError(
                    f"{name} is missing, a placeholder or shorter than 32 characters. Production refuses to start "
                    "without a real secret. Generate one with: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))'. For local use, set CLAIMSITE_ENV=development instead."
                )
        if len({value for _name, value in keys}) < len(keys):
            raise SettingsError(
                "CLAIMSITE_SECRET_KEY, CLAIMSITE_HASH_KEY, CLAIMSITE_CONTACT_KEY and CLAIMSITE_BREACH_KEY must differ: "
                "each keys something else, and the secret key may be rotated while the hash and contact keys never "
                "change"
            )
        return self

    @model_validator(mode="after")
    def _mail_is_delivered(self) -> Settings:
        if self.mail_url:
            parts = urlsplit(self.mail_url)
            try:
                parts.port  # noqa: B018 - raises ValueError for a port that is not a number
            except ValueError:
                parts = parts._replace(netloc="")
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise SettingsError(
                    "CLAIMSITE_MAIL_URL must look like smtp://user:password@host:587?starttls=1 (or smtp://host:25, "
                    "or smtps://user:password@host:465 for implicit TLS); leave it empty outside production to "
                    "write mail to instance/outbox"
                )
        elif self.env == "production":
            raise SettingsError(
                "CLAIMSITE_MAIL_URL is missing. Production refuses to start without a mail server: sign-ups' "
                "verification and confirmation mail would only be written to a folder. Set it to e.g. "
                "smtp://user:password@mail.example.org:587?starttls=1 (smtps://... for implicit TLS)."
            )
        if self.mail_from and "@" not in self.mail_from:
            raise SettingsError(f"CLAIMSITE_MAIL_FROM must be an e-mail address, not '{self.mail_from}'")
        return self

    @model_validator(mode="after")
    def _sms_is_delivered(self) -> Settings:
        if self.env == "production" and self.sms_provider.strip() == "outbox":
            raise SettingsError(
                "CLAIMSITE_SMS_PROVIDER=outbox only writes each SMS to a folder, which production refuses: nobody "
                "would get their code. Set it to a real provider (e.g. twilio, with its CLAIMSITE_TWILIO_* keys), or "
                "leave it empty to send no SMS."
            )
        return self

    def resolved_sms_provider(self) -> str:
        """The identifier of the SMS provider to use: the setting, else ``outbox`` outside production and ``""``
        (none: phone numbers cannot be verified) in production."""
        chosen = self.sms_provider.strip()
        return chosen or ("" if self.env == "production" else "outbox")

    @model_validator(mode="after")
    def _personal_data_is_sealed(self) -> Settings:
        if self.env == "production" and not self.sealing_public_key.strip():
            raise SettingsError(
                "CLAIMSITE_SEALING_PUBLIC_KEY is missing. Production refuses to start without the foundation's public "
                "key: personal data would have nothing to be sealed to. Make a key pair on a staff machine with "
                "'flask keys generate --out DIR', keep the private key there, and set this to the public key's "
                "last line."
            )
        return self

    @model_validator(mode="after")
    def _mandates_are_sealed(self) -> Settings:
        if self.env != "production":
            return self
        identity = self.resolved_seal_identity()
        problem = certificate_problem(identity, dt.datetime.now(dt.UTC))
        if problem:
            raise SettingsError(f"mandate seal: {problem}. Production refuses to start without a valid seal.")
        url = urlsplit(self.mandate_timestamp_url.strip())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(
                "CLAIMSITE_MANDATE_TIMESTAMP_URL is missing or not an http(s) URL. Production refuses to start without "
                "a time-stamping authority (RFC 3161): without one a seal is dated only by this server's clock, "
                "which proves nothing to a court. Set it to your trust service provider's TSA, "
                "e.g. https://tsa.example.org/."
            )
        return self

    @model_validator(mode="after")
    def _limits_are_shared(self) -> Settings:
        url = self.ratelimit_storage_url.strip()
        if self.env == "production" and (not url or urlsplit(url).scheme in ("memory", "async+memory")):
            raise SettingsError(
                "CLAIMSITE_RATELIMIT_STORAGE_URL is missing (or memory://). Production refuses to start with "
                "rate-limit counts in memory: each gunicorn worker would keep its own count, so every limit would be "
                "multiplied by the number of workers, which the app cannot see. Set it to a Redis server that every "
                "worker reaches, e.g. redis://127.0.0.1:6379/0 (rediss://... for TLS)."
            )
        return self

    @model_validator(mode="after")
    def _counter_is_fresh(self) -> Settings:
        # The worst case of a count on a public page: read just before the counter cache expired, put in a page
        # just before the page cache expired, stored by the shared cache just then, and served at the end of its
        # max-age and stale-while-revalidate. Each cache counts from when it got its copy, so the ages add up.
        total = self.counter_age_bound()
        if total > MAX_COUNTER_AGE_SECONDS:
            raise SettingsError(
                f"a participant count on a public page could be {total:g} s old: CLAIMSITE_COUNTER_CACHE_SECONDS "
                f"({self.counter_cache_seconds:g}) + CLAIMSITE_PAGE_CACHE_SECONDS ({self.page_cache_seconds:g}) + "
                f"CLAIMSITE_PUBLIC_MAX_AGE_SECONDS ({self.public_max_age_seconds}) + CLAIMSITE_PUBLIC_STALE_SECONDS "
                f"({self.public_stale_seconds}) may add up to at most {MAX_COUNTER_AGE_SECONDS} s. Lower one of them "
                "(the defaults are 2 + 2 + 4 + 2)."
            )
        return self

    def counter_age_bound(self) -> float:
        """How old, at worst, the participant count on a public page is when a visitor sees it (seconds)."""
        return (
            self.counter_cache_seconds
            + self.page_cache_seconds
            + self.public_max_age_seconds
            + self.public_stale_seconds
        )

    @property
    def development(self) -> bool:
        return self.env == "development"

    def resolved_admin_host(self) -> str:
        """The staff console's host, lower case without a port; empty when there is no console."""
        if self.admin_host.strip():
            return self.admin_host.strip().lower().rstrip(".")
        return "staff.localhost" if self.development else ""

    def resolved_secret_key(self) -> str:
        """The secret key; outside production a random one is created once in the instance folder."""
        return self.secret_key or self._instance_secret("secret_key")

    def resolved_hash_key(self) -> str:
        """The key of e-mail and IP hashes; outside production a random one is kept in the instance folder."""
        return self.hash_key or self._instance_secret("hash_key")

    def resolved_contact_key(self) -> str:
        """The key of the contact copies; outside production a random one is kept in the instance folder."""
        return self.contact_key or self._instance_secret("contact_key")

    def resolved_breach_key(self) -> str:
        """The key of the phone-number digests in the breach indexes; outside production a random one is kept in
        the instance folder."""
        return self.breach_key or self._instance_secret("breach_key")

    def resolved_breach_dir(self) -> Path:
        """The folder of the breach indexes (it may not exist yet)."""
        return self.breach_dir or self.instance_dir / "breach"

    def resolved_vault_dir(self) -> Path:
        """The folder of the local vault store (made on the first file stored)."""
        return self.vault_dir or self.instance_dir / "vault"

    def resolved_seal_identity(self) -> SealIdentity:
        """The files the mandate seal is made with; outside production, without them, the development CA's (made
        once). Production refuses to start without them (:meth:`_mandates_are_sealed`)."""
        token = self.mandate_seal_pkcs11_library.strip()
        if self.mandate_seal_key.strip() or self.mandate_seal_certificate.strip() or token:
            if not self.mandate_seal_certificate.strip() or bool(self.mandate_seal_key.strip()) == bool(token):
                raise SettingsError(
                    "the mandate seal needs CLAIMSITE_MANDATE_SEAL_CERTIFICATE and one key: "
                    "CLAIMSITE_MANDATE_SEAL_KEY (a file) or CLAIMSITE_MANDATE_SEAL_PKCS11_LIBRARY (a token)"
                )
            token_key = None
            if token:
                if not (self.mandate_seal_pkcs11_token.strip() and self.mandate_seal_pkcs11_key.strip()):
                    raise SettingsError(
                        "a seal key on a token needs CLAIMSITE_MANDATE_SEAL_PKCS11_TOKEN and ..._PKCS11_KEY (labels)"
                    )
                token_key = TokenKey(
                    Path(token),
                    self.mandate_seal_pkcs11_token.strip(),
                    self.mandate_seal_pkcs11_key.strip(),
                    self.mandate_seal_pkcs11_pin,
                )
            chain = tuple(Path(p) for p in self.mandate_seal_chain.split(":") if p.strip())
            key = Path(self.mandate_seal_key) if self.mandate_seal_key.strip() else None
            identity = SealIdentity(key, Path(self.mandate_seal_certificate), chain, token_key)
            for path in (key, identity.certificate, *identity.chain, token_key and token_key.library):
                if path is not None and not path.is_file():
                    raise SettingsError(f"mandate seal: {path} is not a file")
            return identity
        if self.env == "production":
            raise SettingsError(
                "CLAIMSITE_MANDATE_SEAL_CERTIFICATE is missing. Production refuses to start without the foundation's "
                "seal: a mandate PDF would prove nothing by itself. Set CLAIMSITE_MANDATE_SEAL_CERTIFICATE and "
                "CLAIMSITE_MANDATE_SEAL_CHAIN (PEM files) with the key as a file (CLAIMSITE_MANDATE_SEAL_KEY) or on a "
                "token (CLAIMSITE_MANDATE_SEAL_PKCS11_*); README.md, 'The sealed mandate', says where to get them."
            )
        return development_identity(self.instance_dir / "seal")

    def resolved_sealing_key(self) -> SealingKey:
        """The public key personal data is sealed to. Outside production, without the setting, the newest pair in
        ``instance/keys/`` (one is made there the first time: see :meth:`development_key_pair`)."""
        if self.sealing_public_key.strip():
            try:
                return SealingKey.from_text(self.sealing_public_key)
            except SealingError as exc:
                raise SettingsError(f"CLAIMSITE_SEALING_PUBLIC_KEY: {exc}") from None
        if self.env == "production":
            raise SettingsError("CLAIMSITE_SEALING_PUBLIC_KEY is missing")
        return SealingKey.from_text(self.development_key_pair()[1].read_text(encoding="utf-8"))

    def development_key_pair(self) -> tuple[Path, Path]:
        """(private, public) key files of the development pair in ``instance/keys/``, made if there is none."""
        folder = self.instance_dir / "keys"
        publics = sorted(folder.glob("public-*.key"), key=lambda path: (path.stat().st_mtime_ns, path.name))
        if not publics:
            private, public, _key = generate(folder)
            return private, public
        public = publics[-1]
        return folder / public.name.replace("public-", "private-", 1), public

    def _instance_secret(self, name: str) -> str:
        key_file = self.instance_dir / name
        if not key_file.exists():
            self.instance_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.instance_dir / 'claimsite.sqlite3'}"


def load_settings(overrides: dict[str, object] | None = None) -> Settings:
    """Settings from the environment, with ``overrides`` (for tests) taking precedence."""
    try:
        return Settings(**(overrides or {}))  # type: ignore[arg-type]
    except SettingsError:
        raise
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
