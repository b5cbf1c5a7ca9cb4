"""SMS pumping limits and the daily budget (core.phones.limits): each trips, is counted per campaign, day and kind,
tells the visitor plainly, and mails staff once per kind and day (core.phones.alerts)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from pydantic import ValidationError
from sqlalchemy import select

from core.data.db import utcnow
from core.data.hashing import network_hash
from core.data.models import Job, SmsLimitTrip
from core.jobs.mail import MAIL_JOB
from core.jobs.queue import Worker, decode_payload
from core.phones import verification as phones
from core.phones.alerts import record_trip, trips_on
from core.phones.limits import LimitKind, SmsLimits, take_sms
from core.phones.verification import SendStatus
from core.ratelimits import RateLimits
from tests.conftest import HASH_KEY
from tests.smtp_server import SMTPServer
from tests.test_ratelimit_storage import redis_url  # noqa: F401  (a fixture)
from tests.test_staff_console import add_staff

CAMPAIGN = "facebookleak"


@pytest.fixture
def app(make_app: Any, migrated_database_url: str, smtp_server: SMTPServer) -> Iterator[Flask]:
    made = make_app(database_url=migrated_database_url, mail_url=smtp_server.url)
    with made.app_context():
        yield made
    made.extensions["claimsite.db"].engine.dispose()


def ask(app: Flask, limits: SmsLimits, number: str, ip: str, now: dt.datetime | None = None) -> phones.SmsSending:
    """A new verification of ``number`` asked from ``ip``, and its first code."""
    now = now or utcnow()
    with app.extensions["claimsite.db"].sessions() as db:
        verification = phones.start(db, CAMPAIGN, number, "breach-check", now)
        sending = phones.send_code(db, verification, limits, network_hash(HASH_KEY, ip), now)
        db.commit()
        return sending


def trips(app: Flask) -> dict[str, int]:
    with app.extensions["claimsite.db"].sessions() as db:
        return trips_on(db, CAMPAIGN, utcnow().date())


def alert_mails(app: Flask) -> list[dict[str, Any]]:
    with app.extensions["claimsite.db"].sessions() as db:
        jobs = db.scalars(select(Job).where(Job.kind == MAIL_JOB))
        return [p for p in (decode_payload(job.payload) for job in jobs) if p.get("mail") == "sms-limit-alert"]


def test_per_network_with_two_addresses_in_one_ipv6_64(app: Flask) -> None:
    limits = SmsLimits(per_network="2/hour")
    assert ask(app, limits, "+31611111111", "2001:db8:1:2::1").sent
    assert ask(app, limits, "+31611111112", "2001:db8:1:2:ffff::9").sent  # the same /64
    refused = ask(app, limits, "+31611111113", "2001:db8:1:2::77")
    assert (refused.status, refused.limit) == (SendStatus.REFUSED, LimitKind.NETWORK)
    with force_locale("en"):
        assert str(refused.message).startswith("Too many codes were asked for from your internet connection.")
    assert ask(app, limits, "+31611111114", "2001:db8:1:3::1").sent  # another /64
    assert ask(app, limits, "+31611111115", "192.0.2.1").sent
    assert trips(app) == {"network": 1}


def test_per_number_whoever_asks(app: Flask) -> None:
    limits = SmsLimits(per_number="2/day")
    assert ask(app, limits, "+31622222222", "192.0.2.1").sent
    assert ask(app, limits, "+31622222222", "192.0.2.2").sent
    refused = ask(app, limits, "+31622222222", "192.0.2.3")
    assert refused.limit is LimitKind.NUMBER
    with force_locale("nl"):
        assert str(refused.message) == (
            "Dit nummer heeft al zoveel codes gehad als we naar één nummer sturen. Probeer het morgen nog eens."
        )
    assert ask(app, limits, "+31622222223", "192.0.2.4").sent
    assert trips(app) == {"number": 1}


def test_per_country_calling_code(app: Flask) -> None:
    limits = SmsLimits(per_country="2/hour")
    assert ask(app, limits, "+32471111111", "192.0.2.1").sent
    assert ask(app, limits, "+32471111112", "192.0.2.2").sent
    assert ask(app, limits, "+32471111113", "192.0.2.3").limit is LimitKind.COUNTRY
    assert ask(app, limits, "+31633333333", "192.0.2.4").sent  # another country
    assert trips(app) == {"country": 1}


def test_the_daily_budget_and_one_alert_per_kind_and_day(app: Flask, smtp_server: SMTPServer) -> None:
    add_staff(app, "admin@somi.nl")
    add_staff(app, "fb@somi.nl", "secret-password-1", "--role", "staff", "--campaigns", CAMPAIGN)
    add_staff(app, "zoom@somi.nl", "secret-password-1", "--role", "staff", "--campaigns", "zoomclaim")
    limits = SmsLimits(per_campaign="3/day")
    for i in range(3):
        assert ask(app, limits, f"+3164444444{i}", f"192.0.2.{i + 1}").sent
    for i in range(3):
        assert ask(app, limits, f"+3165555555{i}", f"198.51.100.{i + 1}").limit is LimitKind.BUDGET
    assert trips(app) == {"budget": 3}
    mails = alert_mails(app)
    assert sorted(mail["to"] for mail in mails) == ["admin@somi.nl", "fb@somi.nl"]  # not zoomclaim's staff
    assert all(mail["context"] == {"kind": "budget", "day": utcnow().date().isoformat()} for mail in mails)
    Worker(app).run_once()
    received = smtp_server.wait_for(2)
    subjects = {str(message.message["Subject"]) for message in received}
    assert len(subjects) == 1 and all(
        s.startswith("Sms-limiet bereikt bij ") and s.endswith(": budget") for s in subjects
    )
    assert all("+316" not in message.message.as_string() for message in received)  # no number in the alert


def test_a_country_not_allowed_is_refused_without_counting_or_alerting(app: Flask) -> None:
    add_staff(app, "admin@somi.nl")
    refused = ask(app, SmsLimits(), "+12025550123", "192.0.2.1")
    assert refused.limit is LimitKind.COUNTRY_NOT_ALLOWED
    assert ask(app, SmsLimits(allowed_countries="all"), "+12025550124", "192.0.2.1").sent
    assert ask(app, SmsLimits(allowed_countries=("nl",)), "+32471111111", "192.0.2.2").limit is (
        LimitKind.COUNTRY_NOT_ALLOWED
    )
    assert trips(app) == {"country-not-allowed": 2} and alert_mails(app) == []


def test_a_refused_request_uses_no_wider_limit(app: Flask) -> None:
    limits = SmsLimits(per_network="1/hour", per_campaign="2/day")
    assert ask(app, limits, "+31666666661", "192.0.2.1").sent
    for i in range(5):  # refused by the network limit: the budget is not touched
        assert ask(app, limits, f"+3166666667{i}", "192.0.2.1").limit is LimitKind.NETWORK
    assert ask(app, limits, "+31666666662", "192.0.2.2").sent


def test_limits_are_checked_when_a_campaign_sets_them() -> None:
    with pytest.raises(ValidationError, match="is not a limit"):
        SmsLimits(per_number="three a day")
    with pytest.raises(ValidationError, match="unknown country codes XX"):
        SmsLimits(allowed_countries=("NL", "XX"))
    with pytest.raises(ValidationError):
        SmsLimits(per_hour="5/hour")  # type: ignore[call-arg]
    assert SmsLimits().per_network == "5/hour" and "NL" in SmsLimits().allowed_countries


def test_two_processes_share_the_counts_in_redis(redis_url: str) -> None:  # noqa: F811
    # Two RateLimits on one Redis stand for two gunicorn workers: what one counted, the other refuses.
    first, second = RateLimits(redis_url), RateLimits(redis_url)
    limits = SmsLimits(per_network="2/hour")
    campaign = f"redis-test-{secrets.token_hex(4)}"  # this test's own keys, whatever else is in Redis
    network = network_hash(HASH_KEY, "2001:db8:9:9::1")
    same_64 = network_hash(HASH_KEY, "2001:db8:9:9::2")
    assert network == same_64

    def take(limiter: RateLimits, number: str, net: str | None) -> LimitKind | None:
        return take_sms(limiter, limits, campaign=campaign, number_digest=number, e164="+31612345678", network=net)

    assert take(first, "a", network) is None
    assert take(second, "b", same_64) is None
    assert take(first, "c", same_64) is LimitKind.NETWORK
    assert take(second, "d", network_hash(HASH_KEY, "192.0.2.9")) is None


def test_one_alert_per_campaign_kind_and_day(app: Flask) -> None:
    add_staff(app, "admin@somi.nl")
    loaded = app.extensions["claimsite"].registry.snapshot.campaigns[CAMPAIGN]
    other = app.extensions["claimsite"].registry.snapshot.campaigns["zoomclaim"]
    day = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    with app.extensions["claimsite.db"].sessions() as db:
        for moment, campaign, kind in [
            (day, loaded, LimitKind.NETWORK),
            (day + dt.timedelta(hours=5), loaded, LimitKind.NETWORK),  # the same day: counted, no second mail
            (day, loaded, LimitKind.NUMBER),  # another kind
            (day, other, LimitKind.NETWORK),  # another campaign
            (day + dt.timedelta(days=1), loaded, LimitKind.NETWORK),  # the next day
        ]:
            record_trip(db, campaign, kind, moment)
        db.commit()
        assert trips_on(db, CAMPAIGN, day.date()) == {"network": 2, "number": 1}
        alerted = db.scalars(select(SmsLimitTrip).where(SmsLimitTrip.alerted_at.is_not(None)))
        assert len(list(alerted)) == 4
    sent = sorted((mail["context"]["day"], mail["context"]["kind"]) for mail in alert_mails(app))
    assert sent == [
        ("2026-12-03", "network"),
        ("2026-12-03", "network"),
        ("2026-12-03", "number"),
        ("2026-12-04", "network"),
    ]
