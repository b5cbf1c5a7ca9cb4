"""Shared fixtures: apps over the shipped campaigns or over a temporary campaigns folder, clients, CLI runner."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from core import create_app

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CAMPAIGNS = REPO / "campaigns"
SECRET = "test-secret-key-that-is-long-enough-0123456789"

# A small valid campaign; tests copy and change it.
MINIMAL: dict[str, Any] = {
    "slug": "democlaim",
    "name": {"nl": "Democlaim", "en": "Demo claim"},
    "hosts": ["democlaim.example", "www.democlaim.example"],
    "status": "open",
    "opens": "2026-01-05",
    "organisation": {"name": "SOMI", "website": "https://somi.nl", "email": "campaign@somi.nl"},
    "target_company": "Demo Corp",
    "languages": ["nl", "en"],
    "default_language": "nl",
    "hero": {
        "title": {"nl": "Heb je Demo gebruikt?", "en": "Have you used Demo?"},
        "claim_amount": 500,
        "bullets": [{"nl": "Samen sterker.", "en": "Stronger together."}],
        "call_to_action": {"nl": "Ja, ik doe mee.", "en": "Yes, count me in."},
    },
    "plugins": {
        "counter": {"baseline": 1234, "since": "2020-04-10"},
        "faq": {
            "title": {"nl": "Veelgestelde vragen", "en": "Frequently asked questions"},
            "items": [
                {"question": {"nl": "Wie is Demo?", "en": "Who is Demo?"},
                 "answer": {"nl": "Een **bedrijf**.", "en": "A **company**."}},
            ],
        },
    },
}


def campaign_data(**changes: Any) -> dict[str, Any]:
    """A copy of the minimal campaign with top-level ``changes`` (None removes a key)."""
    data = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


class CampaignFolder:
    """A temporary campaigns folder that tests write files into."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def write(self, slug: str, data: dict[str, Any] | None = None, text: str | None = None) -> Path:
        target = self.path / f"{slug}.yaml"
        if text is None:
            text = yaml.safe_dump(data if data is not None else campaign_data(slug=slug), allow_unicode=True,
                                  sort_keys=False)
        target.write_text(text, encoding="utf-8")
        return target

    def copy_shipped(self) -> None:
        for item in SHIPPED_CAMPAIGNS.iterdir():
            if item.is_dir():
                shutil.copytree(item, self.path / item.name, dirs_exist_ok=True)
            else:
                shutil.copy(item, self.path / item.name)


@pytest.fixture
def campaign_folder(tmp_path: Path) -> CampaignFolder:
    return CampaignFolder(tmp_path / "campaigns")


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """Create an app; keyword arguments override settings (e.g. env="development", campaigns_dir=...)."""

    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "env": "test",
            "secret_key": SECRET,
            "instance_dir": tmp_path / "instance",
            "public_scheme": "https",
        }
        config.update(overrides)
        app = create_app(config)
        app.config["TESTING"] = True
        return app

    return factory


@pytest.fixture(scope="session")
def shipped_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """One app over the shipped campaigns, shared by read-only tests."""
    app = create_app({"env": "test", "secret_key": SECRET, "instance_dir": tmp_path_factory.mktemp("instance")})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(shipped_app: Flask) -> FlaskClient:
    return shipped_app.test_client()


@pytest.fixture
def dev_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(env="development")
