"""core.data.db.commit_new: a new row with the rows that belong to it, written and committed together (one statement on
PostgreSQL), or nothing at all when the row's unique key exists already."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.data.db import Dependent, commit_new, make_engine, utcnow
from core.data.models import Job, Signup, SignupEvent


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def new_signup(address_hash: str, token: str) -> dict[str, object]:
    return {
        "token": token,
        "campaign": "tiktokclaim",
        "email_hash": address_hash,
        "language": "nl",
        "stage": "started",
        "created_at": utcnow(),
        "code_attempts": 0,
        "codes_sent": 0,
    }


def rows_for(steps: list[str]) -> list[Dependent]:
    now = utcnow()
    return [
        *(Dependent(SignupEvent.__table__, {"step": step, "at": now}, parent_column="signup_id") for step in steps),
        Dependent(
            Job.__table__,
            {"kind": "test", "payload": "{}", "status": "pending", "attempts": 0, "run_after": now, "created_at": now},
        ),
    ]


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Signup)) or 0,
        session.scalar(select(func.count()).select_from(SignupEvent)) or 0,
        session.scalar(select(func.count()).select_from(Job)) or 0,
    )


def test_a_new_row_and_its_dependents_are_committed_together_in_order(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        new_id = commit_new(
            session,
            Signup.__table__,
            new_signup("a" * 64, "t1"),
            ("campaign", "email_hash"),
            rows_for(["form", "code-sent", "third"]),
        )
        assert new_id is not None and not session.in_transaction()
    with sessions() as other:  # committed: another connection sees it all
        signup = other.get(Signup, new_id)
        assert signup is not None and signup.payment_required is False  # the model's default was applied
        assert [e.step for e in signup.events] == ["form", "code-sent", "third"]  # ids in the order given
        assert counts(other) == (1, 3, 1)


def test_an_existing_unique_key_writes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = commit_new(
            session, Signup.__table__, new_signup("b" * 64, "t1"), ("campaign", "email_hash"), rows_for(["form"])
        )
        again = commit_new(
            session,
            Signup.__table__,
            new_signup("b" * 64, "t2"),
            ("campaign", "email_hash"),
            rows_for(["form", "code-sent"]),
        )
        assert first is not None and again is None
        assert counts(session) == (1, 1, 1)
        assert session.scalar(select(Signup.token)) == "t1"


def test_another_unique_key_still_fails_loudly(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        commit_new(session, Signup.__table__, new_signup("c" * 64, "same"), ("campaign", "email_hash"))
        with pytest.raises(sqlalchemy.exc.IntegrityError):  # the token is unique too, and not the key given
            commit_new(
                session, Signup.__table__, new_signup("d" * 64, "same"), ("campaign", "email_hash"), rows_for(["form"])
            )
        session.rollback()
        assert counts(session) == (1, 0, 0)


def test_it_refuses_to_commit_a_transaction_it_did_not_start(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.execute(select(1))
        with pytest.raises(RuntimeError, match="commit or roll back"):
            commit_new(session, Signup.__table__, new_signup("e" * 64, "t1"), ("campaign", "email_hash"))


def test_an_upsert_writes_the_same_rows_for_a_new_and_a_known_key(sessions: sessionmaker[Session]) -> None:
    """commit_upsert: a known key updates its row as asked, and the dependents are written either way, with
    values that tell new from known (IfNew) and a dependent row of its own updated on its own key."""
    from core.data.db import Added, Excluded, IfNew, OnConflict, commit_upsert
    from core.data.models import PersonalRecord

    def write(session: Session, token: str, language: str) -> tuple[int, object]:
        values = {**new_signup("f" * 64, token), "language": language, "codes_sent": 1}
        update = OnConflict(("campaign", "email_hash"), {"language": Excluded("language"), "codes_sent": Added()})
        now = utcnow()
        rows = [
            Dependent(
                PersonalRecord.__table__,
                {"sealed_answers": token.encode(), "working_answers": b"w"},
                parent_column="signup_id",
                on_conflict=OnConflict(("signup_id",), {"pending": Excluded("sealed_answers"), "pending_from": token}),
            ),
            *(
                Dependent(
                    SignupEvent.__table__,
                    {"step": IfNew(f"{step}-new", f"{step}-known"), "at": now},
                    parent_column="signup_id",
                )
                for step in ("a", "b")
            ),
        ]
        return commit_upsert(session, Signup.__table__, values, ("campaign", "email_hash"), update, "token", rows)

    with sessions() as session:
        first_id, first_token = write(session, "t1", "nl")
        second_id, second_token = write(session, "t2", "en")
        assert first_id == second_id and (first_token, second_token) == ("t1", "t1")  # the second found the first
    with sessions() as other:
        signup = other.get(Signup, first_id)
        assert signup is not None and (signup.token, signup.language, signup.codes_sent) == ("t1", "en", 2)
        assert [e.step for e in signup.events] == ["a-new", "b-new", "a-known", "b-known"]
        record = other.get(PersonalRecord, first_id)
        assert record is not None and record.sealed_answers == b"t1"  # kept; the second's went to pending
        assert (record.pending, record.pending_from) == (b"t2", "t2")
