"""``flask campaigns check`` as CI runs it: its own process, no secrets, no app, and nothing written; ``--production``
applies production's rules as errors; every problem is printed once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from core.campaigns import campaign_files
from core.campaigns.stray_files import stray_campaign_files
from tests.conftest import PRODUCTION_PUBLIC_KEY, REPO, CampaignFolder, campaign_data, run_campaigns_command

FLASK = Path(sys.executable).parent / "flask"
SUMMARY = re.compile(r"^(\d+) campaign\(s\) valid, (\d+) error\(s\), (\d+) warning\(s\)( \(production's rules\))?$")
PAID = (
    "the fee model 'subscription' asks a payment, but no payment provider may take it: set CLAIMSITE_STRIPE_SECRET_KEY"
)
ONLY_ONE_LANGUAGE = "a closed campaign needs its closed_message in every language; no en text"
WEAK_COLOURS = "primary_text on primary has contrast 3.68:1, under the 4.5:1"


def flask_campaigns(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``flask campaigns ARGS`` in a process of its own whose environment holds PATH and ``env`` only: no
    CLAIMSITE_* setting, no FLASK_APP, no secret."""
    return subprocess.run(
        [str(FLASK), "campaigns", *args],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tree(folder: Path) -> dict[str, tuple[int, int]] | None:
    """Every file and folder below ``folder`` with its mtime and size (None: no such folder). A folder's mtime
    changes when anything is made in it, even if it is taken away again."""
    if not folder.exists():
        return None
    entries = [folder, *folder.rglob("*")]
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in entries}


def problems(result: subprocess.CompletedProcess[str], kind: str) -> list[str]:
    return [line.removeprefix(kind) for line in result.stderr.splitlines() if line.startswith(kind)]


def summary(result: subprocess.CompletedProcess[str]) -> re.Match[str]:
    match = SUMMARY.match(result.stdout.strip().splitlines()[-1])
    assert match, result.stdout
    return match


def assert_each_line_once(result: subprocess.CompletedProcess[str]) -> None:
    lines = result.stderr.splitlines()
    assert lines and len(lines) == len(set(lines)), result.stderr
    assert "Traceback" not in result.stderr and "cannot start" not in result.stderr


@pytest.mark.parametrize(
    "env",
    [{}, {"FLASK_APP": "wsgi"}, {"CLAIMSITE_ENV": "production"}],
    ids=["no environment", "FLASK_APP=wsgi", "CLAIMSITE_ENV=production"],
)
def test_production_check_runs_in_the_project_with_no_environment(env: dict[str, str]) -> None:
    """Issue 16's 'done when': in the project folder (where wsgi.py would build the production app, which refuses
    to start without secrets), with no settings at all, it checks the shipped campaigns and writes nothing."""
    instance, campaigns = tree(REPO / "instance"), tree(REPO / "campaigns")
    result = flask_campaigns("check", "--production", cwd=REPO, **env)
    assert tree(REPO / "instance") == instance and tree(REPO / "campaigns") == campaigns
    assert_each_line_once(result)
    # No Stripe keys here: each campaign that charges is an error that names what to set; nothing else is.
    errors = problems(result, "error: ")
    assert any(e.startswith(f"{REPO / 'campaigns' / 'tiktokclaim.yaml'}, line ") and PAID in e for e in errors)
    assert all("asks a payment, but no payment provider may take it" in e for e in errors), errors
    assert result.returncode == 1
    valid, error_count, warning_count, rules = summary(result).groups()
    assert int(valid) == len(campaign_files(REPO / "campaigns")) and int(error_count) == len(errors)
    assert rules and warning_count == "0"


def production_rule_folder(folder: CampaignFolder) -> None:
    """The shipped campaigns, and a campaign breaking each campaign-file rule production applies; tiktokclaim's
    fee model charges (and there are no Stripe keys), and its power of attorney loses its English text."""
    folder.copy_shipped()
    (folder.path / "tiktokclaim" / "agreements" / "mandate.2026-12-03.en.md").unlink()
    closed = campaign_data(slug="closedclaim", hosts=["closedclaim.example"], status="closed")
    closed["closed_message"] = {"nl": "De inschrijving is gesloten."}
    folder.write("closedclaim", closed)
    colours = {"colours": {"primary": "#fe2c55"}}  # white text on TikTok red: 3.68:1
    folder.write("pinkclaim", campaign_data(slug="pinkclaim", hosts=["pinkclaim.example"], theme_overrides=colours))


def test_production_rules_are_warnings_without_production_and_errors_with_it(
    tmp_path: Path, campaign_folder: CampaignFolder
) -> None:
    production_rule_folder(campaign_folder)
    before = tree(tmp_path)
    plain = flask_campaigns("check", cwd=tmp_path, CLAIMSITE_CAMPAIGNS_DIR=str(campaign_folder.path))
    strict = flask_campaigns("check", "--production", cwd=tmp_path, CLAIMSITE_CAMPAIGNS_DIR=str(campaign_folder.path))
    assert tree(tmp_path) == before
    tiktok, closed, pink = (
        str(campaign_folder.path / f"{slug}.yaml") for slug in ("tiktokclaim", "closedclaim", "pinkclaim")
    )
    expected = [
        (tiktok, "plugins.subscription: " + PAID),
        (tiktok, "signup.agreements[0]: no en text for this agreement: add mandate.2026-12-03.en.md"),
        (closed, "closed_message: " + ONLY_ONE_LANGUAGE),
        (pink, "theme_overrides.colours: " + WEAK_COLOURS),
    ]

    assert plain.returncode == 0, plain.stderr
    assert_each_line_once(plain)
    warned = problems(plain, "warning (an error with --production): ")
    for file, message in expected:
        assert len([w for w in warned if w.startswith(f"{file}, line ") and message in w]) == 1, (message, warned)
    assert len(warned) == len(expected) and problems(plain, "error: ") == []
    assert summary(plain).groups()[1:] == ("0", str(len(problems(plain, "warning"))), None)

    assert strict.returncode == 1
    assert_each_line_once(strict)
    assert problems(strict, "error: ") == warned  # the same problems, in the same words, now errors
    assert problems(strict, "warning (an error with --production): ") == []
    # The loader's own warnings about the same texts (a language missing) gave way to the rules' messages.
    assert not any("closed_message" in w or "signup.agreements[0]:" in w for w in problems(strict, "warning: "))
    assert summary(strict).groups()[1:] == (str(len(expected)), "0", " (production's rules)")


def test_stripe_keys_in_the_environment_satisfy_the_payment_rule(
    tmp_path: Path, campaign_folder: CampaignFolder
) -> None:
    campaign_folder.copy_shipped()
    keys = {
        "CLAIMSITE_STRIPE_SECRET_KEY_TIKTOKCLAIM": "sk_live_x",
        "CLAIMSITE_STRIPE_WEBHOOK_SECRET_TIKTOKCLAIM": "whsec_x",
    }
    result = flask_campaigns(
        "check", "--production", cwd=tmp_path, CLAIMSITE_CAMPAIGNS_DIR=str(campaign_folder.path), **keys
    )
    assert result.returncode == 0, result.stderr
    assert summary(result).groups()[1:] == ("0", "0", " (production's rules)")
    broken = flask_campaigns(
        "check",
        "--production",
        cwd=tmp_path,
        CLAIMSITE_CAMPAIGNS_DIR=str(campaign_folder.path),
        CLAIMSITE_STRIPE_CHECKOUT_MINUTES="5",
    )
    assert broken.returncode == 1 and "CLAIMSITE_STRIPE_CHECKOUT_MINUTES" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_a_broken_file_and_unread_files_are_each_reported_once_and_nothing_is_written(
    tmp_path: Path, campaign_folder: CampaignFolder
) -> None:
    """Development used to log each error when the app loaded the files, then print it again, and to write secret
    keys into instance/. The check now builds no app."""
    campaign_folder.write("democlaim")
    broken = campaign_data(slug="broken", hosts=["broken.example"], status="opne")
    campaign_folder.write("broken", broken)
    shipped = (REPO / "campaigns" / "palantirclaim.yaml").read_text(encoding="utf-8")
    (campaign_folder.path / "metaclaim.yml").write_text(shipped, encoding="utf-8")
    (campaign_folder.path / "zoomclaim.YAML").write_text(shipped, encoding="utf-8")
    (campaign_folder.path / "_notes.yml").write_text("not a campaign\n", encoding="utf-8")
    before = tree(tmp_path)
    instance = tree(REPO / "instance")
    result = flask_campaigns(
        "check", cwd=tmp_path, CLAIMSITE_ENV="development", CLAIMSITE_CAMPAIGNS_DIR=str(campaign_folder.path)
    )
    assert tree(tmp_path) == before and tree(REPO / "instance") == instance
    assert result.returncode == 1
    assert_each_line_once(result)
    [error] = problems(result, "error: ")
    assert error.startswith(str(campaign_folder.path / "broken.yaml")) and "status: expected" in error
    assert result.stderr.count("opne") == 1
    unread = [w for w in problems(result, "warning: ") if "is not read" in w]
    not_read = "is not read: campaign files end in '.yaml'; rename it to"
    assert unread == [
        f"{campaign_folder.path / 'metaclaim.yml'}: {not_read} metaclaim.yaml",
        f"{campaign_folder.path / 'zoomclaim.YAML'}: {not_read} zoomclaim.yaml",
    ]
    assert summary(result).groups()[:2] == ("1", "1")


def test_an_unread_file_whose_new_name_is_taken_says_so(campaign_folder: CampaignFolder) -> None:
    campaign_folder.write("democlaim")
    (campaign_folder.path / "democlaim.yml").write_text("slug: democlaim\n", encoding="utf-8")
    [warning] = stray_campaign_files(campaign_folder.path)
    assert warning.file.endswith("democlaim.yml")
    assert "rename it to democlaim.yaml (but democlaim.yaml exists already: keep one of the two)" in warning.message


def test_the_production_start_and_the_check_refuse_the_same_campaigns(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask]
) -> None:
    """One function decides for both, so the check never passes what production would leave out at start."""
    for name in [n for n in os.environ if n.startswith("CLAIMSITE_STRIPE_")]:
        monkeypatch.delenv(name)
    app = make_app(env="production", mail_url="smtp://127.0.0.1:1", sealing_public_key=PRODUCTION_PUBLIC_KEY)
    refused = [str(problem) for problem in app.extensions["claimsite"].registry.snapshot.errors]
    result = run_campaigns_command("check", "--production", campaigns_dir=REPO / "campaigns")
    errors = [line.removeprefix("error: ") for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors and refused == errors
