"""A participant whose address has a vault already when their mandate is made finds their copy in it at once,
encrypted to the vault key (core.signup.mandate_copy.put_mandate_in_vault, called by the mandate job); withdrawing
takes it out again; a later `flask vault move` does not copy it twice."""

from __future__ import annotations

from flask import Flask

from core.data import vault_files
from tests.conftest import opened_personal_data
from tests.test_signup import deliver, join_fully
from tests.test_vault_deposit import ANNA, give_vault, in_app, opened, rows, stored


def test_a_mandate_made_for_an_address_with_a_vault_goes_into_it(db_app: Flask) -> None:
    signup = join_fully(db_app, db_app.test_client(), "en", email=ANNA)  # signed: its mandate job is queued
    private = give_vault(db_app, signup)  # the vault exists before the job runs
    [confirmation] = deliver(db_app)  # runs the mandate job and the confirmation: no arrival mail beside it
    assert confirmation["To"] == ANNA

    [copy] = rows(db_app)
    assert (copy.kind, copy.file_name, copy.signup_id) == ("mandate", "mandate-tiktokclaim.pdf", signup.id)
    assert copy.held_key_id is None and copy.notified_at is not None
    with db_app.app_context():
        sealed_pdf = opened_personal_data(db_app, signup).mandate_pdf
    assert sealed_pdf and sealed_pdf.startswith(b"%PDF")
    assert opened(stored(db_app, copy.store_key), private) == sealed_pdf

    # Staff's move later finds it there: nothing left to copy in (tests/test_vault_held.py runs the move itself).
    assert in_app(db_app, lambda db: vault_files.signups_without_mandate(db, None)) == []

    # Withdrawing takes the copy out of the vault and the store.
    def withdraw(db) -> None:  # type: ignore[no-untyped-def]
        import datetime as dt

        from core.data.models import Signup
        from core.signup.flow import Visit
        from core.signup.withdrawal import withdraw as do_withdraw

        do_withdraw(db, db.get(Signup, signup.id), Visit(dt.datetime.now(dt.UTC), None, None))
        db.commit()

    in_app(db_app, withdraw)
    assert rows(db_app) == []
    with db_app.app_context():
        assert not db_app.extensions["claimsite"].vault_store.exists(copy.store_key)
