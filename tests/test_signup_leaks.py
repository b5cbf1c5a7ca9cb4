"""What the join flow lets an outsider learn: the form post for a known address does the same database work and
queues the same jobs as for a new one (the time it takes is measured by bench/signup_known.py, not here), and no
page after the form may be kept by a browser or proxy cache. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from core.data.models import Job
from core.jobs.queue import decode_payload
from tests.test_signup import (
    TIKTOK,
    VALID,
    code_of,
    copy_url_of,
    csrf_token,
    deliver,
    link_of,
    pay_in_test_mode,
    post_code,
    sign_form,
)


@contextmanager
def statements_sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement the app sends to the database meanwhile, as text (no values). On PostgreSQL they are
    read at the driver (psycopg's cursor), since the form's write goes to the driver directly; on SQLite every
    statement goes through SQLAlchemy's engine."""
    sent: list[str] = []
    engine = app.extensions["claimsite.db"].engine
    if engine.dialect.name == "postgresql":
        import psycopg

        def recording(method: Callable[..., Any]) -> Callable[..., Any]:
            def run(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
                sent.append(query if isinstance(query, str) else repr(query))
                return method(cursor, query, *args, **kwargs)

            return run

        with monkeypatch.context() as patch:
            patch.setattr(psycopg.Cursor, "execute", recording(psycopg.Cursor.execute))
            patch.setattr(psycopg.Cursor, "executemany", recording(psycopg.Cursor.executemany))
            yield sent
        return

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", listen)


WRITE = re.compile(r"\b(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)


def writes(sent: list[str]) -> Counter[str]:
    """INSERT/UPDATE/DELETE per table over ``sent`` (a statement with several parts counts each part)."""
    return Counter(f"{verb.upper()} {table}" for text in sent for verb, table in WRITE.findall(text))


def jobs_since(app: Flask, last_id: int) -> Counter[str]:
    with app.app_context():
        from core.data.db import db_session

        jobs = db_session().scalars(select(Job).where(Job.id > last_id)).all()
        return Counter(f"{job.kind}:{decode_payload(job.payload).get('template')}" for job in jobs)


def last_job_id(app: Flask) -> int:
    with app.app_context():
        from core.data.db import db_session

        return max(db_session().scalars(select(Job.id)).all() or [0])


def post_measured(app: Flask, monkeypatch: pytest.MonkeyPatch, address: str) -> tuple[list[str], Counter[str], Any]:
    client = app.test_client()
    data = {**VALID, "email": address, "csrf_token": csrf_token(client, "/en/join")}
    before = last_job_id(app)
    with statements_sent(app, monkeypatch) as sent:
        response = client.post("/en/join", data=data, base_url=TIKTOK)
    return sent, jobs_since(app, before), response


def test_a_known_address_costs_the_same_statements_and_jobs_as_a_new_one(
    db_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = db_app.test_client()
    first.post("/en/join", data={**VALID, "csrf_token": csrf_token(first, "/en/join")}, base_url=TIKTOK)
    deliver(db_app)
    new_sent, new_jobs, new_answer = post_measured(db_app, monkeypatch, "new@example.org")
    known_sent, known_jobs, known_answer = post_measured(db_app, monkeypatch, VALID["email"])
    assert new_answer.status_code == known_answer.status_code == 302
    assert new_answer.headers["Location"] == known_answer.headers["Location"]
    assert writes(new_sent), new_sent  # the listener sees the write at all
    assert writes(known_sent) == writes(new_sent)
    assert known_sent == new_sent  # the very same statements, in the same order
    assert known_jobs == new_jobs == Counter({"mail:verification": 1})


def never_stored(response: Any) -> Any:
    assert "no-store" in response.headers.get("Cache-Control", ""), (
        response.request.path,
        response.headers.get("Cache-Control"),
    )
    return response


def test_no_page_after_the_form_is_stored(db_app: Flask) -> None:
    client = db_app.test_client()
    client.post("/en/join", data={**VALID, "csrf_token": csrf_token(client, "/en/join")}, base_url=TIKTOK)
    [mail] = deliver(db_app)
    never_stored(client.get("/en/join/verify", base_url=TIKTOK))
    wrong = f"{(int(code_of(mail)) + 1) % 1_000_000:06d}"
    never_stored(post_code(client, wrong, "en"))
    token = csrf_token(client, "/en/join/verify")
    never_stored(client.post("/en/join/verify/resend", data={"csrf_token": token}, base_url=TIKTOK))
    never_stored(client.get(link_of(mail), base_url=TIKTOK))
    never_stored(post_code(client, code_of(mail), "en"))
    never_stored(client.get("/en/join/sign", base_url=TIKTOK))
    signed = never_stored(client.post("/en/join/sign", data=sign_form(client, "en"), base_url=TIKTOK))
    never_stored(client.get(signed.location, base_url=TIKTOK))  # the payment page
    pay_in_test_mode(client, signed.location)
    mails = deliver(db_app)  # the mandate, and the confirmation mail with the link to the participant's copy
    never_stored(client.get("/en/join/done", base_url=TIKTOK))
    [confirmation] = [m for m in mails if m["To"] == VALID["email"]]
    text = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    mandate = re.search(r"https://tiktokclaim\.org(/en/mandate/[^\s#]+)#", text)
    assert mandate is not None
    page = never_stored(FlaskClient(db_app).get(mandate.group(1), base_url=TIKTOK))
    copy = never_stored(FlaskClient(db_app).get(copy_url_of(page.get_data(as_text=True)), base_url=TIKTOK))
    assert copy.data.startswith(b"CLVAULT1")
