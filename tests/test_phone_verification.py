"""Proving a phone number by SMS code (core.phones.verification): the e-mail code's rules (right, wrong, five
tries, expiry, resend after a minute, tries counted atomically), the code delivered through the real worker to the
outbox, what is kept of the number, and retention after a day."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select, update

from core.data.db import utcnow
from core.data.hashing import network_hash, phone_hash
from core.data.models import Job, JobStatus, PhoneVerification
from core.data.one_time_codes import CodeCheck
from core.data.retention import erase_phone_verifications
from core.jobs.queue import Worker
from core.phones import verification as phones
from core.phones.limits import SmsLimits
from core.phones.verification import SendStatus
from tests.conftest import HASH_KEY

NUMBER = "+31612345678"
CAMPAIGN = "facebookleak"
LIMITS = SmsLimits(per_network="100/hour", per_number="100/day")  # these tests are about the code, not the limits


@pytest.fixture
def app(db_app: Flask) -> Iterator[Flask]:
    with db_app.app_context():
        yield db_app


def session(app: Flask) -> Any:
    return app.extensions["claimsite.db"].sessions()


def begin(app: Flask, now: dt.datetime, number: str = NUMBER) -> str:
    with session(app) as db:
        verification = phones.start(db, CAMPAIGN, number, "breach-check", now)
        db.commit()
        return verification.id


def send(app: Flask, verification_id: str, now: dt.datetime, ip: str = "192.0.2.10", language: str = "nl") -> Any:
    with session(app) as db:
        verification = phones.find(db, verification_id)
        assert verification is not None
        outcome = phones.send_code(db, verification, LIMITS, network_hash(HASH_KEY, ip), now, language=language)
        db.commit()
        return outcome


def proved_number(app: Flask, verification_id: str) -> str | None:
    # Each session is closed here: one left to the garbage collector returns its connection at a random moment.
    with session(app) as db:
        return phones.verified_number(db, verification_id)


def check(app: Flask, verification_id: str, code: str, now: dt.datetime) -> CodeCheck:
    with session(app) as db:
        verification = phones.find(db, verification_id)
        assert verification is not None
        outcome = phones.check_code(db, verification, code, now)
        db.commit()
        return outcome


def deliver(app: Flask) -> str:
    """Run the queued jobs with the real worker; return the code of the newest SMS in the outbox."""
    assert Worker(app).run_once() >= 1
    newest = sorted((Path(app.instance_path) / "outbox").glob("*.sms"))[-1]
    match = re.search(r"\b(\d{6})\b", newest.read_text())
    assert match is not None
    return match.group(1)


def test_the_code_goes_out_through_the_worker_and_proves_the_number(app: Flask) -> None:
    now = utcnow()
    verification_id = begin(app, now)
    sending = send(app, verification_id, now)
    assert sending.status is SendStatus.SENT
    with force_locale("nl"):
        assert str(sending.message) == "We hebben een code per sms gestuurd. Die is 15 minuten geldig."
    with force_locale("en"):
        assert str(sending.message) == "We sent a code by SMS. It is valid for 15 minutes."
    assert not (Path(app.instance_path) / "outbox").exists()  # the request only queued it
    code = deliver(app)
    [file] = (Path(app.instance_path) / "outbox").glob("*.sms")
    text = file.read_text()
    assert text.startswith(f"To: {NUMBER}\n\n") and "Facebook" in text and "15 minuten geldig" in text
    with session(app) as db:
        [job] = db.scalars(select(Job).where(Job.kind == phones.SMS_JOB))
        assert job.status == JobStatus.DONE and code not in job.payload and NUMBER not in job.payload
        stored = phones.find(db, verification_id)
        assert stored is not None and stored.codes_sent == 1
        assert stored.number_digest == phone_hash(HASH_KEY, NUMBER) and NUMBER.encode() not in stored.locked_number
        assert stored.country_code == 31 and stored.code_hash is not None and code not in stored.code_hash
    assert proved_number(app, verification_id) is None  # not proved yet
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert check(app, verification_id, wrong, now) is CodeCheck.WRONG
    assert check(app, verification_id, code, now + dt.timedelta(minutes=1)) is CodeCheck.OK
    assert proved_number(app, verification_id) == NUMBER
    assert check(app, verification_id, code, now) is CodeCheck.NO_CODE  # a code proves once
    assert send(app, verification_id, now + dt.timedelta(minutes=5)).status is SendStatus.VERIFIED


def test_five_wrong_tries_use_the_code_up(app: Flask) -> None:
    now = utcnow()
    verification_id = begin(app, now)
    send(app, verification_id, now)
    code = deliver(app)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    outcomes = [check(app, verification_id, wrong, now) for _ in range(5)]
    assert outcomes == [CodeCheck.WRONG] * 4 + [CodeCheck.TOO_MANY]
    assert check(app, verification_id, code, now) is CodeCheck.TOO_MANY  # the right code no longer works
    assert proved_number(app, verification_id) is None


def test_an_expired_code_does_not_prove_the_number(app: Flask) -> None:
    now = utcnow()
    verification_id = begin(app, now)
    send(app, verification_id, now)
    code = deliver(app)
    assert check(app, verification_id, code, now + dt.timedelta(minutes=15, seconds=1)) is CodeCheck.EXPIRED


def test_a_new_code_only_after_a_minute_and_it_replaces_the_old_one(app: Flask) -> None:
    now = utcnow()
    verification_id = begin(app, now)
    assert send(app, verification_id, now).sent
    first = deliver(app)
    too_early = send(app, verification_id, now + dt.timedelta(seconds=20))
    assert (too_early.status, too_early.wait_seconds) == (SendStatus.WAIT, 40)
    with force_locale("en"):
        assert str(too_early.message) == "A new code can be sent in 40 seconds."
    assert send(app, verification_id, now + dt.timedelta(seconds=60)).sent
    second = deliver(app)
    later = now + dt.timedelta(seconds=61)
    if first != second:
        assert check(app, verification_id, first, later) is CodeCheck.WRONG
    assert check(app, verification_id, second, later) is CodeCheck.OK


def test_a_job_whose_code_was_replaced_sends_nothing(app: Flask) -> None:
    now = utcnow() - dt.timedelta(minutes=2)
    verification_id = begin(app, now)
    send(app, verification_id, now)
    send(app, verification_id, now + dt.timedelta(seconds=61))  # the first job has not run yet
    assert Worker(app).run_once() == 2
    assert len(list((Path(app.instance_path) / "outbox").glob("*.sms"))) == 1


@pytest.mark.databases("postgresql")
def test_two_wrong_tries_at_the_same_moment_are_both_counted(app: Flask) -> None:
    now = utcnow()
    verification_id = begin(app, now)
    send(app, verification_id, now)
    code = deliver(app)
    wrong = f"{(int(code) + 3) % 1_000_000:06d}"
    for _ in range(3):
        assert check(app, verification_id, wrong, now) is CodeCheck.WRONG
    barrier = threading.Barrier(2)
    outcomes: list[CodeCheck] = []
    errors: list[BaseException] = []

    def try_wrong() -> None:
        try:
            with app.app_context(), session(app) as db:
                verification = phones.find(db, verification_id)
                assert verification is not None
                barrier.wait(timeout=5)
                outcomes.append(phones.check_code(db, verification, wrong, now))
                db.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=try_wrong) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert sorted(outcome.value for outcome in outcomes) == ["too-many", "wrong"]  # tries 4 and 5, not 4 and 4
    with session(app) as db:
        stored = phones.find(db, verification_id)
        assert stored is not None and stored.code_attempts == 5
    assert check(app, verification_id, code, now) is CodeCheck.TOO_MANY


def test_start_refuses_what_is_not_an_e164_number(app: Flask) -> None:
    for text in ("0612345678", "+31 6 12345678", "+31612345678\n", "+0612345678", "+31abc"):
        with session(app) as db, pytest.raises(ValueError) as raised:
            phones.start(db, CAMPAIGN, text, "breach-check", utcnow())
        assert text.strip() not in str(raised.value)


def test_retention_deletes_unproved_verifications_and_strips_proved_ones_after_a_day(app: Flask) -> None:
    now = utcnow()
    old = now - dt.timedelta(hours=25)
    proved = begin(app, old, "+31611111111")
    send(app, proved, old)
    with session(app) as db:  # proved a day ago (its job, run now, would find its code expired)
        db.execute(update(PhoneVerification).where(PhoneVerification.id == proved).values(verified_at=old))
        db.commit()
    unproved_old = begin(app, old, "+31622222222")
    recent = begin(app, now - dt.timedelta(hours=23), "+31633333333")
    with session(app) as db:
        counted = erase_phone_verifications(db, now, dry_run=True)
        assert (counted.unverified_deleted, counted.verified_stripped) == (1, 1)
        erased = erase_phone_verifications(db, now)
        assert (erased.unverified_deleted, erased.verified_stripped) == (1, 1)
    with session(app) as db:
        assert phones.find(db, unproved_old) is None
        kept = phones.find(db, proved)
        assert kept is not None and kept.verified_at is not None and kept.created_at is not None
        assert kept.number_digest == phone_hash(HASH_KEY, "+31611111111")
        assert (kept.locked_number, kept.country_code, kept.code_hash) == (None, None, None)
        still = phones.find(db, recent)
        assert still is not None and still.locked_number is not None
    assert proved_number(app, proved) is None
    with session(app) as db:
        again = erase_phone_verifications(db, now)
        assert (again.unverified_deleted, again.verified_stripped) == (0, 0)
        assert set(db.scalars(select(PhoneVerification.id))) == {proved, recent}


@pytest.mark.databases("postgresql")
def test_two_requests_for_a_code_at_the_same_moment_send_one(app: Flask) -> None:
    now = utcnow()
    verification_id = begin(app, now)
    barrier = threading.Barrier(2)
    outcomes: list[SendStatus] = []
    errors: list[BaseException] = []

    def ask(ip: str) -> None:
        try:
            with app.app_context(), session(app) as db:
                verification = phones.find(db, verification_id)
                assert verification is not None
                barrier.wait(timeout=5)
                sending = phones.send_code(db, verification, LIMITS, network_hash(HASH_KEY, ip), now)
                db.commit()
                outcomes.append(sending.status)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(f"192.0.2.{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert sorted(outcomes) == [SendStatus.SENT, SendStatus.WAIT]
    with session(app) as db:
        assert db.scalar(select(func.count()).select_from(Job).where(Job.kind == phones.SMS_JOB)) == 1
        stored = phones.find(db, verification_id)
        assert stored is not None and stored.codes_sent == 1


def test_flask_retention_run_reports_the_phone_numbers(app: Flask) -> None:
    old = utcnow() - dt.timedelta(days=2)
    begin(app, old)
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "phone numbers: deleted 1 unproved verification(s) and stripped 0 proved one(s)" in result.output
