"""The contact copy of a verified address (core/data/contacts.py): the address alone, under a key of its own, kept
once verified and removed on erasure or with a sign-up that retention deletes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from core.data.contacts import contact_address
from core.data.db import db_session
from core.data.models import Contact, Signup
from core.sealing import ContactBox, SealingError, WorkingBox
from tests.conftest import CONTACT_KEY, HASH_KEY
from tests.test_participant_page import confirm, logged_in
from tests.test_signup import TIKTOK, code_of, deliver, join_fully, post_code, post_form, signups


def in_app(app: Flask, fn: Any) -> Any:
    with app.app_context():
        return fn(db_session())


def contacts(app: Flask) -> dict[int, bytes]:
    return in_app(app, lambda db: {c.signup_id: c.locked_address for c in db.scalars(select(Contact))})


def test_an_address_gets_its_contact_copy_once_verified_under_a_key_of_its_own(db_app: Flask) -> None:
    client = db_app.test_client()
    assert post_form(client, "en", email="Anna.Mail@Example.org").status_code == 302
    [mail] = deliver(db_app)
    assert contacts(db_app) == {}  # an address nobody has verified is never kept
    assert post_code(client, code_of(mail), "en").status_code == 302
    [signup] = signups(db_app)
    [locked] = contacts(db_app).values()
    assert b"Anna.Mail" not in locked and b"example" not in locked.lower()
    assert ContactBox(CONTACT_KEY).unlock(locked) == b"Anna.Mail@Example.org"  # as typed, for the mail's To:
    for other_key in (WorkingBox(HASH_KEY), ContactBox(HASH_KEY)):  # the hash key opens the working copies only
        with pytest.raises(SealingError):
            other_key.unlock(locked)
    assert in_app(db_app, lambda db: contact_address(db, db.get(Signup, signup.id))) == "Anna.Mail@Example.org"


def test_another_contact_key_cannot_read_the_copy(make_app: Any, migrated_database_url: str) -> None:
    first = make_app(database_url=migrated_database_url)
    join_fully(first, first.test_client(), "en")
    [signup] = signups(first)
    second = make_app(database_url=migrated_database_url, contact_key="another-contact-key-of-forty-characters-x")
    assert in_app(first, lambda db: contact_address(db, db.get(Signup, signup.id))) == "anna@example.org"
    assert in_app(second, lambda db: contact_address(db, db.get(Signup, signup.id))) is None
    for app in (first, second):
        app.extensions["claimsite.db"].engine.dispose()


def test_erasure_removes_the_contact_copy(db_app: Flask) -> None:
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    join_fully(db_app, db_app.test_client(), "en", email="bram@example.org", name="Bram")
    anna, bram = signups(db_app)
    assert set(contacts(db_app)) == {anna.id, bram.id}
    client = db_app.test_client()
    logged_in(db_app, client)
    assert confirm(client, "erase", anna.token).location == "/en/my"
    assert set(contacts(db_app)) == {bram.id}  # Anna's is gone; Bram's is untouched
    assert in_app(db_app, lambda db: db.get(Signup, anna.id).erased_at) is not None  # the signed evidence stays


def test_retention_deletes_the_contact_copy_with_an_unfinished_signup(db_app: Flask) -> None:
    client = db_app.test_client()
    post_form(client, "en")
    [mail] = deliver(db_app)
    post_code(client, code_of(mail), "en")  # verified, never signed
    assert len(contacts(db_app)) == 1
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=61)
    in_app(db_app, lambda db: (db.execute(update(Signup).values(created_at=long_ago)), db.commit()))
    result = db_app.test_cli_runner().invoke(args=["retention", "run"])
    assert "tiktokclaim: erased 1 unfinished sign-up(s)" in result.output
    assert signups(db_app) == [] and contacts(db_app) == {}


def test_the_flow_keeps_working_for_a_visitor_with_no_contact_copy(db_app: Flask) -> None:
    """A participant who signed before contact copies existed has none: the page still works for them."""
    join_fully(db_app, db_app.test_client(), "en")
    deliver(db_app)
    in_app(db_app, lambda db: (db.execute(Contact.__table__.delete()), db.commit()))
    client = db_app.test_client()
    logged_in(db_app, client)
    assert client.get("/en/my", base_url=TIKTOK).status_code == 200
