"""Retention: unfinished sign-ups are erased after their campaign's limit, participants never; old job payloads
are emptied. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from core.data.db import utcnow
from core.data.models import Job, Payment, PersonalRecord, Signup, SignupEvent
from tests.test_signup import TIKTOK, code_of, deliver, join_fully, post_code, post_form, sign_form


def sign_without_paying(app: Flask, email: str, start_checkout: bool = False) -> None:
    client = app.test_client()
    assert post_form(client, "en", email=email).status_code == 302
    [mail] = [m for m in deliver(app) if m["To"] == email]
    assert post_code(client, code_of(mail), "en").status_code == 302
    signed = client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK)
    assert "/join/pay/" in signed.location
    if start_checkout:
        html = client.get(signed.location, base_url=TIKTOK).get_data(as_text=True)

        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        assert client.post(signed.location, data={"csrf_token": token}, base_url=TIKTOK).status_code == 303


def age(app: Flask, email_prefix: str, days: int) -> None:
    """Move the sign-up of the address starting with ``email_prefix`` ``days`` into the past (by its id order)."""
    with app.app_context():
        from core.data.db import db_session

        session = db_session()
        ids = session.scalars(select(Signup.id).order_by(Signup.id)).all()
        index = {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4}[email_prefix]
        session.execute(
            update(Signup).where(Signup.id == ids[index]).values(created_at=utcnow() - dt.timedelta(days=days))
        )
        session.commit()


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        from core.data.db import db_session

        session = db_session()
        return {
            "signups": session.scalar(select(func.count()).select_from(Signup)) or 0,
            "records": session.scalar(select(func.count()).select_from(PersonalRecord)) or 0,
            "events": session.scalar(select(func.count()).select_from(SignupEvent)) or 0,
        }


def test_unfinished_signups_are_erased_after_the_limit_and_participants_kept(
    runner: FlaskCliRunner, db_app: Flask
) -> None:
    assert post_form(db_app.test_client(), "en", email="a@example.org").status_code == 302  # never verified
    assert post_form(db_app.test_client(), "en", email="b@example.org").status_code == 302  # recent
    deliver(db_app)
    join_fully(db_app, db_app.test_client(), "en", email="c@example.org")  # a paying participant
    sign_without_paying(db_app, "d@example.org")  # signed, never paid
    sign_without_paying(db_app, "e@example.org", start_checkout=True)  # its payment may still arrive
    deliver(db_app)
    with db_app.app_context():
        from core.data.db import db_session

        session = db_session()
        session.execute(update(Payment).where(Payment.state == "open").values(state="processing"))
        session.commit()
    for prefix, days in (("a", 61), ("b", 59), ("c", 400), ("d", 100), ("e", 100)):
        age(db_app, prefix, days)
    before = counts(db_app)

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and "tiktokclaim: would erase 2 unfinished sign-up(s) older than 60 days" in dry.output
    assert counts(db_app) == before

    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "tiktokclaim: erased 2 unfinished sign-up(s) older than 60 days" in result.output
    after = counts(db_app)
    assert after["signups"] == before["signups"] - 2 and after["records"] == before["records"] - 2
    assert after["events"] < before["events"]
    with db_app.app_context():
        from core.data.db import db_session

        left = db_session().scalars(select(Signup).order_by(Signup.id)).all()
        assert len(left) == 3 and left[1].paid_at is not None  # b (recent), c (participant), e (payment on its way)
    assert "erased 0" in runner.invoke(args=["retention", "run"]).output  # nothing more to do


def test_old_job_payloads_are_emptied(runner: FlaskCliRunner, db_app: Flask) -> None:
    from core.jobs.queue import decode_payload, enqueue

    with db_app.app_context():
        from core.data.db import db_session

        session = db_session()
        old = enqueue(session, "mail", {"to": "someone@example.org"})
        recent = enqueue(session, "mail", {"to": "other@example.org"})
        session.execute(
            update(Job).where(Job.id == old).values(status="failed", finished_at=utcnow() - dt.timedelta(days=31))
        )
        session.execute(update(Job).where(Job.id == recent).values(status="failed", finished_at=utcnow()))
        session.commit()
    result = runner.invoke(args=["retention", "run"])
    assert "emptied 1 payload(s)" in result.output
    with db_app.app_context():
        from core.data.db import db_session

        payloads = dict(db_session().execute(select(Job.id, Job.payload)).all())
        assert payloads[old] == "{}" and decode_payload(payloads[recent]) == {"to": "other@example.org"}


def test_the_limit_is_set_per_campaign_file() -> None:
    from core.campaigns.schema import Signup as SignupConfig

    config = SignupConfig.model_validate(
        {"agreements": [{"id": "terms", "version": "1", "title": {"en": "T"}}], "erase_unfinished_after_days": 14}
    )
    assert config.erase_unfinished_after_days == 14
