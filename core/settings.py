"""Process settings, read from the environment (prefix ``CLAIMSITE_``) and typed.

Production refuses to start with a missing or placeholder secret key. In development a random key is made once
and kept in ``instance/secret_key`` so sessions survive restarts; there is never a hard-coded fallback.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development", "xxx", "please-change"}


class SettingsError(Exception):
    """A setting is missing or unsafe; the message says which and how to fix it."""


class Settings(BaseSettings):
    """Every process setting. Each field is read from ``CLAIMSITE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix="CLAIMSITE_", extra="ignore")

    env: Literal["development", "production", "test"] = Field(
        default="production", description="development reloads campaign files and serves <slug>.localhost"
    )
    secret_key: str = Field(default="", description="signs sessions and tokens; required in production")
    database_url: str = Field(default="", description="SQLAlchemy URL; default: SQLite in instance/")
    instance_dir: Path = Field(default=PROJECT_ROOT / "instance", description="local state: database, outbox, keys")
    campaigns_dir: Path = Field(default=PROJECT_ROOT / "campaigns", description="folder of <slug>.yaml files")
    themes_dir: Path = Field(default=PROJECT_ROOT / "themes", description="folder of themes")
    translations_dir: Path = Field(default=PROJECT_ROOT / "translations", description="compiled UI catalogs")
    trusted_proxies: int = Field(
        default=0, ge=0, description="number of reverse proxies whose X-Forwarded-* headers are trusted"
    )
    public_scheme: Literal["https", "http"] = Field(default="https", description="scheme of public campaign URLs")
    port: int = Field(default=5000, description="port of the development server, for <slug>.localhost links")
    page_cache_seconds: float = Field(default=5.0, ge=0, description="how long a rendered page is reused")

    @model_validator(mode="after")
    def _safe_secret(self) -> Settings:
        if self.env == "production" and (
            self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "CLAIMSITE_SECRET_KEY is missing, a placeholder or shorter than 32 characters. Production refuses "
                "to start without a real secret. Generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'. For local use, set CLAIMSITE_ENV=development instead."
            )
        return self

    @property
    def development(self) -> bool:
        return self.env == "development"

    def resolved_secret_key(self) -> str:
        """The secret key; outside production a random one is created once in the instance folder."""
        if self.secret_key:
            return self.secret_key
        key_file = self.instance_dir / "secret_key"
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
