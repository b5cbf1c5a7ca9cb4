"""The systemd units in deploy/systemd/ (README, "Production"): systemd's own check passes on them, they take every
secret from the EnvironmentFile and none from the unit, and each service runs hardened."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

UNITS = REPO / "deploy" / "systemd"
SERVICES = ("claimsite-web@.service", "claimsite-worker.service", "claimsite-retention.service")
CHECKOUT = "/srv/claimsite"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # The units name the production paths; here they point at this checkout and this virtualenv, so that systemd
    # can also check that each command is there.
    for path in UNITS.iterdir():
        text = path.read_text().replace(f"{CHECKOUT}/.venv", sys.prefix).replace(CHECKOUT, str(REPO))
        (tmp_path / path.name).write_text(text)
    (tmp_path / "claimsite-web@8001.service").write_text((tmp_path / "claimsite-web@.service").read_text())
    names = ["claimsite-web@8001.service", "claimsite-worker.service", "claimsite-retention.service"]
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{name}" for name in [*names, "claimsite-retention.timer"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    problems = [line for line in (checked.stdout + checked.stderr).splitlines() if "claimsite" in line]
    assert problems == []


def test_no_secret_is_written_in_a_unit() -> None:
    for name in SERVICES:
        service = unit(name)["Service"]
        assert service["EnvironmentFile"] == "/etc/claimsite/claimsite.env", name
        assigned = re.findall(r"([A-Z_]+)=", service.get("Environment", ""))
        assert assigned and not [key for key in assigned if key.startswith("CLAIMSITE_")], name


def test_every_service_runs_hardened() -> None:
    for name in SERVICES:
        service = unit(name)["Service"]
        assert service["User"] == "claimsite", name
        for key, value in {
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ReadWritePaths": f"{CHECKOUT}/instance",
            "PrivateTmp": "yes",
            "ProtectHome": "yes",
            "CapabilityBoundingSet": "",
        }.items():
            assert service[key] == value, (name, key)


def test_each_web_instance_listens_on_its_own_port() -> None:
    command = unit("claimsite-web@.service")["Service"]["ExecStart"]
    assert "--bind 127.0.0.1:%i" in command and command.endswith("wsgi:app")
    timer = unit("claimsite-retention.timer")["Timer"]
    assert timer["OnCalendar"] == "daily" and timer["Persistent"] == "true"
    assert unit("claimsite-retention.service")["Service"]["ExecStart"].endswith("flask retention run")
