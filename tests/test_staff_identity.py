"""Staff review of ID copies on the console (issue 20): the copies waiting per data-request campaign, one opened
with the private key file (each opening in the audit log), accepted or rejected with a reason that is mailed to the
participant, admins only, and one decision when two staff members decide at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from core.data import identity_proofs
from core.data.db import db_session
from core.data.models import AuditEntry, Contact, IdentityProof, ProofState, Signup
from core.sealing import OpeningKeys, generate
from tests.conftest import CampaignFolder
from tests.test_confirmation_race import WAIT, HoldAfterRead, run_in_thread
from tests.test_data_request_join import (
    JOIN,
    SOMI,
    choose,
    deliver,
    jpeg_with_metadata,
    plain,
    reopened,
    sign,
    token_of,
    upload,
)
from tests.test_staff_console import ADMIN, audit_actions, csrf, development_private_key, post
from tests.test_staff_roles import console

COPIES = "/campaigns/alledata/identity"


@pytest.fixture
def app(make_app: Callable[..., Flask], migrated_database_url: str, campaign_folder: CampaignFolder) -> Iterator[Flask]:
    """alledata open again (it asks for an ID copy), with the console on its admin host."""
    app = make_app(
        database_url=migrated_database_url, campaigns_dir=reopened(campaign_folder), admin_host="staff.example"
    )
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def participant(app: Flask, address: str = "anna@example.org") -> FlaskClient:
    """A participant of alledata who signed (as in test_data_request_join, with an address of their own)."""
    client = app.test_client()
    answers = {"name": "Anna de Vries", "email": address, "country": "NL", "birth_date": "1990-05-01"}
    response = client.post(JOIN, data={**answers, "csrf_token": token_of(client, JOIN)}, base_url=SOMI)
    assert response.status_code == 302, response.get_data(as_text=True)
    [mail] = [m for m in deliver(app) if m["To"] == address]
    code = re.search(r"\b(\d{6})\b", str(mail["Subject"])).group(1)  # type: ignore[union-attr]
    page = f"{JOIN}/verify"
    response = client.post(page, data={"code": code, "csrf_token": token_of(client, page)}, base_url=SOMI)
    assert response.status_code == 302
    assert choose(client, company=["zoom"], **{"detail-zoom-account-email": address}).status_code == 302
    assert sign(client).status_code == 302
    return client


def uploaded(app: Flask, address: str = "anna@example.org") -> tuple[FlaskClient, int, str]:
    """A participant who uploaded an ID copy: their browser, the copy's id and the sign-up's token."""
    client = participant(app, address)
    assert upload(client, jpeg_with_metadata()).status_code == 302
    with app.app_context():
        proof, token = (
            db_session()
            .execute(
                select(IdentityProof, Signup.token)
                .join(Signup, Signup.id == IdentityProof.signup_id)
                .order_by(IdentityProof.id.desc())
                .limit(1)
            )
            .one()
        )
        return client, proof.id, token


def open_copy(client: FlaskClient, proof_id: int, key: bytes | None) -> Any:
    """The form on a copy's page, sent with ``key`` as the private key file (None: no file chosen)."""
    data: dict[str, Any] = {"csrf_token": csrf(client, "/")}
    if key is not None:
        data["private_keys"] = (io.BytesIO(key), "private-key.key")
    return client.post(
        f"{COPIES}/{proof_id}",
        base_url=ADMIN,
        content_type="multipart/form-data",
        headers={"Referer": f"{ADMIN}/"},
        data=data,
    )


def decide(client: FlaskClient, proof_id: int, decision: str, **fields: str) -> Any:
    data = {"csrf_token": csrf(client, "/"), "decision": decision, **fields}
    return post(client, f"{COPIES}/{proof_id}/decision", data)


def proof_state(app: Flask, proof_id: int) -> IdentityProof:
    with app.app_context():
        proof = db_session().get(IdentityProof, proof_id)
        assert proof is not None
        db_session().expunge(proof)
        return proof


def audit_details(app: Flask, action: str) -> list[str]:
    with app.app_context():
        return [
            entry.detail or ""
            for entry in db_session().scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        ]


# -- the list ------------------------------------------------------------------------------------------------------
def test_an_admin_sees_the_copies_waiting_oldest_first_with_the_counts(app: Flask) -> None:
    _anna, first, anna_token = uploaded(app)
    _bob, second, bob_token = uploaded(app, "bob@example.org")
    admin = console(app, "mira@somi.nl")

    campaign_page = admin.get("/campaigns/alledata", base_url=ADMIN).get_data(as_text=True)
    assert f'href="{COPIES}"' in campaign_page and "2 waiting for a decision" in plain(campaign_page)

    page = admin.get(COPIES, base_url=ADMIN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index(anna_token[:12]) < html.index(bob_token[:12])  # oldest first
    assert anna_token not in html and bob_token not in html  # the reference only
    assert f"{COPIES}/{first}" in html and f"{COPIES}/{second}" in html
    text = plain(html)
    assert "Waiting for a decision 2" in text and "Accepted 0" in text and "Rejected 0" in text
    assert re.search(r"\d+ KB", text)

    assert decide(admin, first, "accept").status_code == 200
    text = plain(admin.get(COPIES, base_url=ADMIN).get_data(as_text=True))
    assert "Waiting for a decision 1" in text and "Accepted 1" in text
    assert anna_token[:12] not in text and bob_token[:12] in text

    # A campaign whose data request asks no ID copy (or that has none) has no such page.
    assert admin.get("/campaigns/tiktokclaim/identity", base_url=ADMIN).status_code == 404
    assert 'href="/campaigns/tiktokclaim/identity"' not in admin.get("/campaigns/tiktokclaim", base_url=ADMIN).get_data(
        as_text=True
    )


def test_a_staff_account_gets_403_on_every_page_and_action_even_by_direct_url(app: Flask) -> None:
    _client, proof_id, _token = uploaded(app)
    kim = console(app, "kim@somi.nl", "--role", "staff", "--campaigns", "alledata", "--rights", "support")
    campaign_page = kim.get("/campaigns/alledata", base_url=ADMIN)
    assert campaign_page.status_code == 200 and COPIES not in campaign_page.get_data(as_text=True)
    assert kim.get(COPIES, base_url=ADMIN).status_code == 403
    assert kim.get(f"{COPIES}/{proof_id}", base_url=ADMIN).status_code == 403
    opened = open_copy(kim, proof_id, development_private_key(app))
    assert opened.status_code == 403 and "data:image" not in opened.get_data(as_text=True)
    assert decide(kim, proof_id, "accept").status_code == 403
    assert decide(kim, proof_id, "reject", reason="unreadable").status_code == 403
    assert proof_state(app, proof_id).state == ProofState.RECEIVED
    assert audit_actions(app).count(("kim@somi.nl", "forbidden")) == 5
    assert audit_details(app, "identity-view") == []


# -- opening a copy -------------------------------------------------------------------------------------------------
def test_a_copy_opens_only_with_the_private_key_file_and_each_opening_is_audited(app: Flask, tmp_path: Path) -> None:
    _client, proof_id, token = uploaded(app)
    admin = console(app, "mira@somi.nl")
    page = admin.get(f"{COPIES}/{proof_id}", base_url=ADMIN)
    assert page.status_code == 200 and "data:image" not in page.get_data(as_text=True)
    assert "private key file" in page.get_data(as_text=True)

    without = open_copy(admin, proof_id, None)
    assert without.status_code == 400
    assert "Choose the private key file" in without.get_data(as_text=True)
    assert "data:image" not in without.get_data(as_text=True)
    wrong_private, _public, _key = generate(tmp_path / "other")
    wrong = open_copy(admin, proof_id, wrong_private.read_bytes())
    assert wrong.status_code == 400 and "data:image" not in wrong.get_data(as_text=True)
    assert "The image was not opened" in wrong.get_data(as_text=True)
    assert "seals personal data to" in wrong.get_data(as_text=True)
    garbage = open_copy(admin, proof_id, b"not a key at all")
    assert garbage.status_code == 400 and "is not a private key file" in garbage.get_data(as_text=True)
    assert audit_details(app, "identity-view") == []

    opened = open_copy(admin, proof_id, development_private_key(app))
    assert opened.status_code == 200
    assert opened.headers["Cache-Control"] == "private, no-store"
    html = opened.get_data(as_text=True)
    shown = re.search(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', html)
    assert shown is not None
    with app.app_context():
        proof = db_session().get(IdentityProof, proof_id)
        assert proof is not None
        private_key = app.extensions["claimsite"].settings.development_key_pair()[0]
        assert base64.b64decode(shown.group(1)) == identity_proofs.open_image(
            proof, OpeningKeys.from_files([private_key])
        )
    assert "Anna de Vries" in html  # the name signed with, to compare with the document's
    assert "Accept" in html and "Reject" in html
    assert token not in html
    details = audit_details(app, "identity-view")
    assert details == [f"ID copy {proof_id} of sign-up {token[:12]}"]

    assert open_copy(admin, proof_id, development_private_key(app)).status_code == 200
    assert len(audit_details(app, "identity-view")) == 2  # a second opening, a second entry
    with app.app_context():
        assert all(
            entry.campaign == "alledata"
            for entry in db_session().scalars(select(AuditEntry).where(AuditEntry.action == "identity-view"))
        )


# -- deciding ---------------------------------------------------------------------------------------------------------
def test_accepting_a_copy_mails_nothing_and_is_audited(app: Flask) -> None:
    _client, proof_id, token = uploaded(app)
    deliver(app)  # the mandate and the confirmation of signing
    admin = console(app, "mira@somi.nl")
    accepted = decide(admin, proof_id, "accept")
    assert accepted.status_code == 200 and "Accepted" in accepted.get_data(as_text=True)
    proof = proof_state(app, proof_id)
    assert proof.state == ProofState.ACCEPTED and proof.reviewed_by is not None and proof.reason is None
    assert deliver(app) == []
    assert audit_details(app, "identity-accept") == [f"ID copy {proof_id} of sign-up {token[:12]}"]
    again = admin.get(f"{COPIES}/{proof_id}", base_url=ADMIN).get_data(as_text=True)
    assert "no longer waiting" in again and "accepted by Mira Staff" in plain(again)


def test_a_rejection_needs_a_reason_of_at_most_500_characters(app: Flask) -> None:
    _client, proof_id, _token = uploaded(app)
    admin = console(app, "mira@somi.nl")
    for fields, message in [
        ({}, "Choose why the copy cannot be accepted."),
        ({"reason": "other", "other": "   "}, "Write the reason for the participant"),
        ({"reason": "other", "other": "x" * 501}, "shorten it to at most 500"),
    ]:
        refused = decide(admin, proof_id, "reject", **fields)
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "Nothing was decided." in html and message in html
        assert proof_state(app, proof_id).state == ProofState.RECEIVED
    assert audit_details(app, "identity-reject") == []
    assert not any("could not accept" in str(mail["Subject"]) for mail in deliver(app))


def test_a_rejection_mails_the_reason_and_the_way_to_a_new_copy(app: Flask) -> None:
    client, proof_id, token = uploaded(app)
    deliver(app)
    admin = console(app, "mira@somi.nl")
    reason = "The back of the card is missing: please send both sides in one image"
    rejected = decide(admin, proof_id, "reject", reason="other", other=reason)
    assert rejected.status_code == 200
    assert "gets a mail with the reason" in plain(rejected.get_data(as_text=True))
    proof = proof_state(app, proof_id)
    assert proof.state == ProofState.REJECTED and proof.reason == reason + "."  # a sentence's end
    assert audit_details(app, "identity-reject") == [f"ID copy {proof_id} of sign-up {token[:12]}, mailed"]
    assert all(reason not in detail for detail in audit_details(app, "identity-reject"))

    [mail] = deliver(app)
    assert mail["To"] == "anna@example.org" and mail["Content-Language"] == "en"
    assert "We could not accept your ID copy" in str(mail["Subject"])
    raw = mail.as_string()
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert reason in body and reason in html
    assert f"reference {token[:12]}" in body
    assert "https://somi.nl/alledata/en/my" in body and 'href="https://somi.nl/alledata/en/my"' in html
    assert token not in raw and token[12:24] not in raw  # no token: the reference is all of it
    key = development_private_key(app).decode().strip().splitlines()[-1]
    assert key not in raw

    # The participant's own page says so, with the same reason.
    done = plain(client.get(f"{JOIN}/done", base_url=SOMI).get_data(as_text=True))
    assert f"We could not accept your ID copy: {reason}." in done


def test_a_common_reason_is_worded_in_the_participants_language_and_form_of_address(app: Flask) -> None:
    _client, proof_id, _token = uploaded(app)
    deliver(app)
    with app.app_context():
        db_session().execute(update(Signup).values(language="nl"))  # as if Anna had joined in Dutch
        db_session().commit()
    admin = console(app, "mira@somi.nl")
    assert "Dutch" in plain(open_copy(admin, proof_id, development_private_key(app)).get_data(as_text=True))
    assert decide(admin, proof_id, "reject", reason="unreadable").status_code == 200
    proof = proof_state(app, proof_id)
    assert proof.state == ProofState.REJECTED and proof.reason and proof.reason.endswith(".")
    [mail] = deliver(app)
    assert mail["Content-Language"] == "nl"
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert body.startswith("Hallo,") and proof.reason in body
    assert "Kopieer dan dit adres naar uw browser" in html  # alledata says "u"
    assert "https://somi.nl/alledata/my" in body  # Dutch is the default language: no /nl/


def test_without_a_contact_copy_a_rejection_mails_nothing_and_the_console_says_so(app: Flask) -> None:
    _client, proof_id, token = uploaded(app)
    deliver(app)
    with app.app_context():
        db_session().execute(delete(Contact))
        db_session().commit()
    admin = console(app, "mira@somi.nl")
    rejected = decide(admin, proof_id, "reject", reason="not-an-id-document")
    assert rejected.status_code == 200
    assert "no mail was sent" in plain(rejected.get_data(as_text=True))
    assert proof_state(app, proof_id).state == ProofState.REJECTED
    assert deliver(app) == []
    assert audit_details(app, "identity-reject") == [
        f"ID copy {proof_id} of sign-up {token[:12]}, not mailed: no address kept"
    ]


def test_a_copy_replaced_meanwhile_is_no_longer_waiting(app: Flask) -> None:
    client, first, _token = uploaded(app)
    admin = console(app, "mira@somi.nl")
    assert upload(client, jpeg_with_metadata()).status_code == 302  # a newer copy replaces it
    page = plain(admin.get(f"{COPIES}/{first}", base_url=ADMIN).get_data(as_text=True))
    assert "no longer waiting" in page and "uploaded a newer copy" in page
    late = decide(admin, first, "accept")
    assert late.status_code == 409 and "not recorded" in late.get_data(as_text=True)
    assert proof_state(app, first).state == ProofState.ERASED
    assert audit_details(app, "identity-accept") == []


def test_two_staff_members_deciding_at_once_make_one_decision(app: Flask) -> None:
    """Mira rejects and Kim accepts the same copy at the same moment: Mira's request has read the copy (still
    waiting) when Kim's decision lands. Only Kim's counts; Mira is told, and no mail goes out."""
    _client, proof_id, token = uploaded(app)
    deliver(app)
    mira = console(app, "mira@somi.nl")
    kim = console(app, "kim@somi.nl")
    mira_token = csrf(mira, "/")
    answers: list[Any] = []
    hold = HoldAfterRead(app, "mira", table="identity_proofs")  # Mira read the copy: still waiting
    try:
        thread, errors = run_in_thread(
            "mira",
            lambda: answers.append(
                post(
                    mira,
                    f"{COPIES}/{proof_id}/decision",
                    {"csrf_token": mira_token, "decision": "reject", "reason": "unreadable"},
                )
            ),
        )
        assert hold.reached.wait(WAIT)
        assert decide(kim, proof_id, "accept").status_code == 200
        hold.release()
        thread.join(WAIT)
        assert not thread.is_alive() and not errors, errors
    finally:
        hold.remove()
    [late] = answers
    assert late.status_code == 409
    text = plain(late.get_data(as_text=True))
    assert "Your decision was not recorded" in text and "it was accepted by" in text
    proof = proof_state(app, proof_id)
    assert proof.state == ProofState.ACCEPTED and proof.reason is None
    assert deliver(app) == []
    assert [actor for actor, action in audit_actions(app) if action in ("identity-accept", "identity-reject")] == [
        "kim@somi.nl"
    ]
    assert token[:12] in audit_details(app, "identity-accept")[0]
