"""A third-party package adds a fee model, a job kind, a sweep, a landing-page section and a public counter, with
no edit in core: installed as pip would (a distribution with an entry point in ``claimsite.plugins``), enabled by
a campaign file, and reached by core only through the hooks."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from core.data.db import db_session
from core.data.models import Job, JobStatus, Signup
from core.jobs.queue import Worker, enqueue
from core.money.fees import FeeTerms
from core.plugins import ENTRY_POINT_GROUP
from tests.conftest import CampaignFolder
from tests.test_signup import TIKTOK, join_fully

PACKAGE = "claimsite_acme"

# A fee model that takes a share of the award, never more than a cap; a greeting mail job; a sweep that queues the
# greetings a fault left unqueued; a motto section; a public counter that starts from the sign-ups of a partner.
SOURCE = '''\
"""Acme's claims kit, installed like any package."""
import datetime as dt
from pathlib import Path

from core.campaigns.schema import FeeModelSettings
from core.campaigns.sections import Section
from core.jobs.queue import Worker, enqueue
from core.money.fees import FeeModel, FeeTerms, Percentage, PositiveEuros, SuccessFeeTerms, cents
from core.plugins import hookimpl
from core.signup.counters import PublicCounter

NAME = "acme"
GREETING_JOB = "acme.greeting"
GREETED = []  # (campaign slug, name) of every greeting the worker ran
UNQUEUED = []  # names whose greeting a fault never queued, for the sweep


class AcmeSettings(FeeModelSettings):
    share: Percentage
    cap: PositiveEuros
    motto: str


class CappedShare(FeeModel):
    name = NAME

    def __init__(self, settings):
        self.settings = settings

    def terms(self, option):
        if option is not None:
            raise ValueError("no options")
        fee = SuccessFeeTerms(option="share", flat_cents=cents(self.settings.cap), share_percent=self.settings.share)
        return FeeTerms(model=NAME, success_fee=fee)

    def fee_for_award(self, terms, award_cents):
        share = award_cents * terms.success_fee.share_percent // 100
        return min(int(share), terms.success_fee.flat_cents)


def greet(app, payload):
    from core.jobs.queue import current_job

    GREETED.append((current_job().campaign, payload["name"]))


class GreetingSweep:
    title = "greeting(s) never queued"
    columns = ("NAME",)

    def stuck(self, session):
        return [(name,) for name in UNQUEUED]

    def finish(self, session, now):
        for name in UNQUEUED:
            enqueue(session, GREETING_JOB, {"name": name}, campaign="tiktokclaim")
        session.commit()
        finished = len(UNQUEUED)
        UNQUEUED.clear()
        return finished


@hookimpl
def claimsite_settings_schema():
    return AcmeSettings


@hookimpl
def claimsite_fee_model(campaign):
    return CappedShare(campaign.settings_for(NAME))


@hookimpl
def claimsite_job_handlers():
    return {GREETING_JOB: greet}


@hookimpl
def claimsite_sweeps():
    return [GreetingSweep()]


@hookimpl
def claimsite_template_dirs():
    return [Path(__file__).parent / "templates"]


@hookimpl
def claimsite_page_sections(campaign, language):
    return [Section("acme", 25, "sections/acme.html", {"motto": campaign.settings_for(NAME).motto})]


@hookimpl
def claimsite_public_counter(campaign):
    return PublicCounter(1000, dt.date(2021, 3, 1))
'''


def install_package(site_dir: Path, name: str, files: dict[str, str], entry_point: str) -> None:
    """Install the package ``name`` (``files``: its paths -> text) the way pip would: the files, and a
    ``dist-info`` folder whose entry point in ``claimsite.plugins`` names it."""
    for path, text in files.items():
        target = site_dir / name / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    dist = site_dir / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_point} = {name}\n")


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    site_dir = tmp_path / "site-packages"
    install_package(
        site_dir,
        PACKAGE,
        {
            "__init__.py": SOURCE,
            "templates/sections/acme.html": '<p class="acme-motto">{{ section.motto }}</p>\n',
        },
        entry_point="acme",
    )
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()  # also forgets the distributions importlib.metadata found on the old path
    yield importlib.import_module(PACKAGE)
    sys.modules.pop(PACKAGE, None)
    importlib.invalidate_caches()


@pytest.fixture
def acme_app(acme: ModuleType, campaign_folder: CampaignFolder, make_app) -> Flask:  # type: ignore[no-untyped-def]
    """The shipped campaigns, the TikTok claim charging through Acme's fee model instead of its own."""
    campaign_folder.copy_shipped()
    path = campaign_folder.path / "tiktokclaim.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["plugins"]["subscription"], data["plugins"]["counter"]
    data["plugins"]["acme"] = {"share": 10, "cap": 25, "motto": "Fair shares for all"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return make_app(campaigns_dir=campaign_folder.path)


def test_the_plugin_is_found_through_its_entry_point_only(acme: ModuleType, acme_app: Flask) -> None:
    plugins = acme_app.extensions["claimsite"].plugins
    assert "acme" in plugins.names
    # core's own job handlers come through the same door, but are not a plugin a campaign enables
    assert plugins.pm.get_plugin("core_signup") is not None and "core_signup" not in plugins.names
    distributions = {plugin.__name__: dist.project_name for plugin, dist in plugins.pm.list_plugin_distinfo()}
    assert distributions[PACKAGE] == PACKAGE
    snapshot = acme_app.extensions["claimsite"].registry.snapshot
    assert snapshot.errors == () and "acme" in snapshot.campaigns["tiktokclaim"].enabled_plugins


def test_a_campaign_charges_through_the_plugins_fee_model(acme: ModuleType, acme_app: Flask) -> None:
    client = acme_app.test_client()
    join_fully(acme_app, client, "en")
    with acme_app.app_context():
        signup = db_session().scalars(select(Signup)).one()
        assert (signup.fee_model, signup.payment_required) == ("acme", False)
        assert FeeTerms.from_json(signup.fee_terms).success_fee.flat_cents == 2500  # type: ignore[arg-type, union-attr]
    runner = acme_app.test_cli_runner()
    small = runner.invoke(args=["fees", "settle", "tiktokclaim", "--award", "100"])
    assert small.exit_code == 0, small.output
    assert "Total fees: EUR 10.00" in small.output  # a tenth of the award
    large = runner.invoke(args=["fees", "settle", "tiktokclaim", "--award", "500"])
    assert "Total fees: EUR 25.00" in large.output and "Total to participants: EUR 475.00" in large.output  # capped
    assert "Fees as the fee model 'acme' computes them." in large.output


def test_the_plugins_section_and_public_counter_show(acme: ModuleType, acme_app: Flask) -> None:
    client = acme_app.test_client()
    landing = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    assert '<p class="acme-motto">Fair shares for all</p>' in landing
    other = client.get("/en/", base_url="https://zoomclaim.org").get_data(as_text=True)
    assert "acme-motto" not in other  # a campaign that does not enable the plugin
    join_fully(acme_app, client, "en")
    board = client.get("/en/scoreboard", base_url=TIKTOK).get_data(as_text=True)
    assert "1,001" in board and "1 March 2021" in board  # the plugin's baseline plus the one participant


def test_a_job_of_the_plugins_kind_is_run_by_the_worker(acme: ModuleType, acme_app: Flask) -> None:
    acme.GREETED.clear()
    with acme_app.app_context():
        enqueue(db_session(), acme.GREETING_JOB, {"name": "Anna"}, campaign="tiktokclaim")
        db_session().commit()
    runner = acme_app.test_cli_runner()
    ran = runner.invoke(args=["worker", "--once"])
    assert ran.exit_code == 0 and ran.output.strip() == "1 job(s) run", ran.output
    assert acme.GREETED == [("tiktokclaim", "Anna")]
    with acme_app.app_context():
        [job] = db_session().scalars(select(Job)).all()
        assert (job.kind, job.status) == ("acme.greeting", JobStatus.DONE)


def test_the_plugins_sweep_is_listed_and_run(acme: ModuleType, acme_app: Flask) -> None:
    acme.GREETED.clear()
    acme.UNQUEUED[:] = ["Bert"]
    runner = acme_app.test_cli_runner()
    listed = runner.invoke(args=["jobs"]).output
    assert "Bert" in listed and "1 greeting(s) never queued" in listed
    assert "finished 1 greeting(s) never queued" in runner.invoke(args=["jobs", "--sweep"]).output
    assert runner.invoke(args=["worker", "--once"]).output.strip() == "1 job(s) run"
    assert acme.GREETED == [("tiktokclaim", "Bert")]


def test_two_plugins_offering_one_job_kind_stop_the_worker(
    acme: ModuleType, campaign_folder: CampaignFolder, make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_dir = tmp_path / "more-site-packages"
    copycat = textwrap.dedent("""\
        from core.plugins import hookimpl


        @hookimpl
        def claimsite_job_handlers():
            return {"acme.greeting": print}
        """)
    install_package(site_dir, "claimsite_copycat", {"__init__.py": copycat}, entry_point="copycat")
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()
    try:
        app = make_app(campaigns_dir=campaign_folder.path)
        with pytest.raises(ValueError, match=r"job kind 'acme\.greeting' is offered by two plugins: (acme|copycat)"):
            Worker(app)
    finally:
        sys.modules.pop("claimsite_copycat", None)
