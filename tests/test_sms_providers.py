"""SMS providers (core.phones.sms_providers): the outbox, Twilio through the real ``twilio`` library against a
loopback Twilio (tests/twilio_server.py), the choice of provider and production's refusals, and the SMS text."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.campaigns import LoadedCampaign
from core.data.db import utcnow
from core.data.hashing import network_hash
from core.data.models import Job, JobStatus
from core.jobs.queue import Worker
from core.phones import verification as phones
from core.phones.limits import SmsLimits
from core.phones.sms_job import ONE_SMS_SEPTETS, gsm7_septets, sms_text
from core.phones.sms_providers import SmsPermanentError, SmsProvider, SmsTemporaryError
from core.plugins import hookimpl
from core.settings import SettingsError
from plugins.twilio_sms import TwilioSms
from tests.conftest import HASH_KEY, PRODUCTION_PUBLIC_KEY
from tests.twilio_server import TwilioServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
NUMBER = "+3161235678"
LIMITS = SmsLimits()


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


def provider_for(server: TwilioServer, **changes: str) -> TwilioSms:
    environ = {
        "CLAIMSITE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "CLAIMSITE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CLAIMSITE_TWILIO_FROM": "+3197010000000",
        "CLAIMSITE_TWILIO_API_BASE": server.url,
    }
    environ.update({f"CLAIMSITE_TWILIO_{k.upper()}": v for k, v in changes.items()})
    return TwilioSms(environ)


def test_twilio_sends_through_the_real_library(twilio: TwilioServer) -> None:
    message_id = provider_for(twilio).send(NUMBER, "123456 is your code")
    [sent] = twilio.messages
    assert message_id == sent.sid and sent.sid.startswith("SM")
    assert (sent.to, sent.body, sent.sender) == (NUMBER, "123456 is your code", "+3197010000000")


def test_twilio_with_a_messaging_service(twilio: TwilioServer) -> None:
    provider_for(twilio, from_="", messaging_service_sid="MG" + "ab" * 16).send(NUMBER, "code")
    [sent] = twilio.messages
    assert (sent.sender, sent.messaging_service_sid) == (None, "MG" + "ab" * 16)


def test_a_wrong_auth_token_is_temporary_and_names_no_number(twilio: TwilioServer) -> None:
    with pytest.raises(SmsTemporaryError) as raised:
        provider_for(twilio, auth_token="wrong-token").send(NUMBER, "code")
    assert "401" in str(raised.value) and "20003" in str(raised.value) and NUMBER not in str(raised.value)
    assert twilio.messages == []


def test_an_invalid_number_is_a_permanent_failure_that_does_not_repeat_it(twilio: TwilioServer) -> None:
    with pytest.raises(SmsPermanentError) as raised:
        provider_for(twilio).send("+12", "code")
    assert "21211" in str(raised.value) and "+12" not in str(raised.value)


def test_an_outage_is_temporary(twilio: TwilioServer) -> None:
    twilio.fail_next(503)
    with pytest.raises(SmsTemporaryError, match="503"):
        provider_for(twilio).send(NUMBER, "code")
    twilio.stop()
    with pytest.raises(SmsTemporaryError, match="could not be reached"):
        provider_for(twilio).send(NUMBER, "code")


def test_twilio_says_what_is_missing() -> None:
    assert TwilioSms({}).setup_problem() == (
        "set CLAIMSITE_TWILIO_ACCOUNT_SID, CLAIMSITE_TWILIO_AUTH_TOKEN, CLAIMSITE_TWILIO_FROM or "
        "CLAIMSITE_TWILIO_MESSAGING_SERVICE_SID"
    )


# -- through the worker -------------------------------------------------------------------------------------


def queue_code(app: Flask, now: dt.datetime, number: str = NUMBER) -> str:
    with app.app_context(), app.extensions["claimsite.db"].sessions() as db:
        verification = phones.start(db, "facebookleak", number, "breach-check", now)
        sending = phones.send_code(db, verification, LIMITS, network_hash(HASH_KEY, "192.0.2.1"), now, language="en")
        assert sending.sent
        db.commit()
        return verification.id


def sms_jobs(app: Flask) -> list[Job]:
    with app.app_context(), app.extensions["claimsite.db"].sessions() as db:
        return list(db.scalars(select(Job).where(Job.kind == phones.SMS_JOB).order_by(Job.id)))


def test_the_worker_sends_through_twilio_and_retries_an_outage(
    make_app: Any,
    migrated_database_url: str,
    twilio: TwilioServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = provider_for(twilio)
    monkeypatch.setenv("CLAIMSITE_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("CLAIMSITE_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("CLAIMSITE_TWILIO_FROM", provider.sender)
    monkeypatch.setenv("CLAIMSITE_TWILIO_API_BASE", twilio.url)
    app = make_app(database_url=migrated_database_url, sms_provider="twilio")
    try:
        now = utcnow()
        queue_code(app, now)
        twilio.fail_next(500)
        worker = Worker(app)
        assert worker.run_once() == 1
        [job] = sms_jobs(app)
        assert (job.status, job.attempts) == (JobStatus.PENDING, 1) and "500" in (job.last_error or "")
        assert twilio.messages == []
        assert worker.run_once(utcnow() + dt.timedelta(seconds=31)) == 1  # the retry, within the code's 15 minutes
        [sent] = twilio.messages
        assert sent.to == NUMBER and "is your code for" in sent.body
        [job] = sms_jobs(app)
        assert job.status == JobStatus.DONE and NUMBER not in job.payload
        queue_code(app, now, number="+316123")  # too short for Twilio: refused for good, not retried
        assert worker.run_once(utcnow() + dt.timedelta(seconds=40)) == 1
        failed = sms_jobs(app)[-1]
        assert failed.status == JobStatus.FAILED and "21211" in (failed.last_error or "")
        assert "+316123" not in (failed.last_error or "")
        codes = re.findall(r"\b\d{6}\b", sent.body)
        assert caplog.text and "twilio" in caplog.text  # the retry and the failure were logged...
        assert NUMBER not in caplog.text and "+316123" not in caplog.text  # ...without a number
        assert codes and codes[0] not in caplog.text  # or the code
    finally:
        app.extensions["claimsite.db"].engine.dispose()


def test_the_outbox_writes_each_sms_and_prints_its_text(db_app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    queue_code(db_app, utcnow())
    assert Worker(db_app).run_once() == 1
    [file] = (Path(db_app.instance_path) / "outbox").glob("*.sms")
    to, _, text = file.read_text().partition("\n\n")
    assert to == f"To: {NUMBER}" and "is your code for" in text
    printed = capsys.readouterr().err
    assert "outbox: SMS" in printed and text.strip() in printed and NUMBER not in printed


# -- choosing the provider ----------------------------------------------------------------------------------


def test_production_refuses_the_outbox(make_app: Any) -> None:
    with pytest.raises(SettingsError, match="outbox"):
        make_app(env="production", sealing_public_key=PRODUCTION_PUBLIC_KEY, mail_url="smtp://127.0.0.1:25",
                 sms_provider="outbox")  # fmt: skip


def test_production_refuses_twilio_without_its_credentials(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACCOUNT_SID", "AUTH_TOKEN", "FROM", "MESSAGING_SERVICE_SID"):
        monkeypatch.delenv(f"CLAIMSITE_TWILIO_{name}", raising=False)
    monkeypatch.setenv("CLAIMSITE_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    with pytest.raises(SettingsError, match="CLAIMSITE_TWILIO_AUTH_TOKEN"):
        make_app(env="production", sealing_public_key=PRODUCTION_PUBLIC_KEY, mail_url="smtp://127.0.0.1:25",
                 sms_provider="twilio")  # fmt: skip


def test_an_unknown_provider_is_refused_and_production_may_send_none(make_app: Any) -> None:
    with pytest.raises(SettingsError, match="no SMS provider 'carrier-pigeon'"):
        make_app(sms_provider="carrier-pigeon")
    app = make_app(env="production", sealing_public_key=PRODUCTION_PUBLIC_KEY, mail_url="smtp://127.0.0.1:25")
    assert app.extensions["claimsite"].sms_provider is None
    assert make_app().extensions["claimsite"].sms_provider.identifier == "outbox"


class _PigeonSms(SmsProvider):
    identifier = "outbox"

    def send(self, to_e164: str, text: str) -> str:
        return "pigeon"


class _SecondOutbox:
    @hookimpl
    def claimsite_sms_providers(self) -> list[SmsProvider]:
        return [_PigeonSms()]


def test_two_providers_with_one_name_stop_the_app(db_app: Flask) -> None:
    from core.phones.sms_providers import installed_sms_providers

    plugins = db_app.extensions["claimsite"].plugins
    plugins.pm.register(_SecondOutbox(), name="second_outbox")
    try:
        with pytest.raises(SettingsError, match="two installed SMS providers are called 'outbox'"):
            installed_sms_providers(plugins)
    finally:
        plugins.pm.unregister(name="second_outbox")


# -- the text -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_sms_fits_one_gsm7_segment_for_every_shipped_campaign(shipped_app: Flask, language: str) -> None:
    campaigns: dict[str, LoadedCampaign] = shipped_app.extensions["claimsite"].registry.snapshot.campaigns
    assert campaigns
    with shipped_app.app_context():
        for loaded in campaigns.values():
            text = sms_text(loaded, language, "123456")
            septets = gsm7_septets(text)
            assert septets is not None, f"{loaded.slug}: not GSM-7: {text}"
            assert septets <= ONE_SMS_SEPTETS, f"{loaded.slug}: {septets} septets: {text}"
            assert "123456" in text and "15" in text and loaded.campaign.organisation.name in text
            assert loaded.campaign.name.get_text(language, loaded.campaign.default_language) in text
    facebook = campaigns["facebookleak"]
    with shipped_app.app_context():
        if language == "nl":
            assert sms_text(facebook, "nl", "123456").startswith("123456 is de code voor ")
        else:
            assert sms_text(facebook, "en", "123456").startswith("123456 is your code for ")


def test_gsm7_counts_the_extension_table_twice_and_refuses_what_is_not_gsm7() -> None:
    assert gsm7_septets("abc") == 3 and gsm7_septets("€5") == 3 and gsm7_septets("‘quoted’") is None
