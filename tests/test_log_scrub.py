"""No personal data in the logs: a whole sign-up (form, code, signing, payment, mandate, mails) logged at DEBUG
level holds none of what the participant typed."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from tests.test_signup import VALID, deliver, join_fully


def test_a_full_signup_logs_no_personal_data(db_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: the worst case
    client = db_app.test_client()
    join_fully(db_app, client, "en")
    deliver(db_app)  # the mandate PDF and the confirmation mail
    logged = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    for field in ("email", "name", "phone", "street", "postcode", "birth_date"):
        assert VALID[field] not in logged, f"the participant's {field} is in the log"
    assert "anna" not in logged.lower()


def test_the_check_would_notice_an_address_in_the_log(db_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """The same capture sees what the app logs (so the test above can fail)."""
    caplog.set_level(logging.DEBUG)
    db_app.logger.info("a careless line about %s", VALID["email"])
    assert VALID["email"] in "\n".join(record.getMessage() for record in caplog.records)


def test_a_database_error_never_carries_the_values_bound_to_it(db_app: Flask) -> None:
    """What the error handlers log of a failed statement: the SQL, not the values (a token, a keyed hash)."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from core.data.db import db_session
    from core.data.models import Signup

    row = {"token": "t" * 43, "campaign": "tiktokclaim", "email_hash": "secret-hash-value", "language": "en"}
    with db_app.app_context():
        db = db_session()
        db.execute(insert(Signup), row)
        db.commit()
        with pytest.raises(IntegrityError) as raised:
            db.execute(insert(Signup), row)
        db.rollback()
    message = str(raised.value)
    assert "INSERT INTO signups" in message and "parameters hidden" in message
    # (PostgreSQL's own DETAIL line still names the values of the key it found taken: here the keyed hash.)
    assert "t" * 43 not in message and "tiktokclaim', 'secret-hash-value', 'en'" not in message
