"""Pre-registration means what the FAQ says (issue 17, item 2): a pre-registration records interest (a verified
address, nothing signed), its done page and mail say so; when the campaign opens each pre-registered person gets
one invitation (also when two processes notice the opening at once), whose link leads to signing with the earlier
answers and the fee shown, and which a mail scanner can open without signing anything; retention keeps a
pre-registration until the campaign opened plus a set number of days. On SQLite and PostgreSQL.

The campaign is the shipped TikTok claim (it asks a registration fee before a sign-up counts) turned into a
pre-registration that opens in ten days; "opening" it moves its ``opens`` into the past, as staff would.
"""

from __future__ import annotations

import datetime as dt
import email.message
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from core.data.contacts import contact_address
from core.data.db import db_session, utcnow
from core.data.models import AcceptedAgreement, Contact, Job, Signup, SignupEvent, Stage, is_participant
from core.data.retention import erase_unfinished
from core.signup.invitations import INVITATION_JOB, InvitationSweep
from core.signup.mandate_job import MANDATE_JOB
from core.staff.lookup import status as staff_status
from tests.conftest import CampaignFolder
from tests.test_participant_page import confirm, logged_in
from tests.test_schedule import local
from tests.test_signup import TIKTOK, code_of, csrf_token, deliver, pay_in_test_mode, post_code, post_form, sign_form
from tests.test_staff_console import ADMIN, logged_in_client

OPENS_IN = dt.timedelta(days=10)


@pytest.fixture
def folder(campaign_folder: CampaignFolder) -> CampaignFolder:
    campaign_folder.copy_shipped()
    write_tiktok(campaign_folder, opens=local(OPENS_IN))
    return campaign_folder


def write_tiktok(folder: CampaignFolder, opens: dt.datetime) -> None:
    """The TikTok claim as a pre-registration that opens at ``opens`` (its clock)."""
    path = folder.path / "tiktokclaim.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^status: .*$", "status: pre-registration", text, count=1, flags=re.M)
    text = re.sub(r"^opens: .*$", f"opens: {opens.isoformat(' ', 'minutes')}", text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def app(make_app: Any, folder: CampaignFolder, migrated_database_url: str) -> Iterator[Flask]:
    made = make_app(campaigns_dir=folder.path, database_url=migrated_database_url)
    yield made
    made.extensions["claimsite.db"].engine.dispose()


def open_campaign(app: Flask, folder: CampaignFolder, ago: dt.timedelta = dt.timedelta(minutes=1)) -> None:
    """Staff move ``opens`` into the past (test apps do not watch their files, so the test loads it)."""
    write_tiktok(folder, opens=local(-ago))
    app.extensions["claimsite"].registry.load()


def pre_register(app: Flask, client: FlaskClient, language: str = "en", **changes: str) -> email.message.EmailMessage:
    """Form and code; returns the pre-registration mail."""
    assert post_form(client, language, **changes).status_code == 302
    [code_mail] = deliver(app)
    verified = post_code(client, code_of(code_mail), language)
    assert verified.status_code == 302 and verified.location.endswith("/join/done")
    [mail] = deliver(app)
    return mail


def text_of(mail: email.message.EmailMessage) -> str:
    return " ".join(mail.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]


def in_app(app: Flask, fn: Any) -> Any:
    with app.app_context():
        return fn(db_session())


def jobs_of(app: Flask, kind: str) -> int:
    return in_app(app, lambda db: db.scalar(select(func.count()).select_from(Job).where(Job.kind == kind)))


def the_signups(app: Flask) -> list[Signup]:
    return in_app(app, lambda db: list(db.scalars(select(Signup).order_by(Signup.id))))


def invitations_sent(app: Flask) -> list[email.message.EmailMessage]:
    """What the worker sends once it notices the opening: its sweep queues the invitations, then they go out."""
    with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
        InvitationSweep().finish(session, utcnow())
    return deliver(app)


def invitation_link(mail: email.message.EmailMessage) -> str:
    found = re.search(r"https://tiktokclaim\.org(/(?:en/)?join/invitation/\S+)", text_of(mail))
    assert found, text_of(mail)
    return found.group(1)


def test_a_pre_registration_signs_nothing_and_is_told_so(app: Flask) -> None:
    client = app.test_client()
    form = client.get("/en/join", base_url=TIKTOK).get_data(as_text=True)
    assert "You sign nothing and give no mandate" in form
    assert "Sign" not in re.search(r'<ol class="progress".*?</ol>', form, re.S).group(0)  # type: ignore[union-attr]
    mail = pre_register(app, client)

    done = client.get("/en/join/done", base_url=TIKTOK).get_data(as_text=True)
    assert "You have pre-registered for TikTok Claim." in done
    assert "Nothing has been signed: you have not joined yet and have given no mandate." in done
    assert f"The campaign opens on {local(OPENS_IN).day} " in done
    assert "successfully joined" not in done and "mandate (PDF)" not in done
    # Nothing to sign while it takes pre-registrations: the signing page leads back to the done page.
    assert client.get("/en/join/sign", base_url=TIKTOK).location.endswith("/join/done")

    assert str(mail["Subject"]).startswith("You have pre-registered for")
    assert mail["To"] == "anna@example.org"
    body = text_of(mail)
    assert "Nothing has been signed: you have not joined yet and have given no mandate." in body
    assert "We will then send you an e-mail inviting you to join." in body
    assert "You then decide whether to take part" in body

    [signup] = the_signups(app)
    assert signup.stage == Stage.INTERESTED and signup.verified_at is not None and signup.signed_at is None
    assert not is_participant(signup)
    assert in_app(app, lambda db: db.scalar(select(func.count()).select_from(AcceptedAgreement))) == 0
    assert jobs_of(app, MANDATE_JOB) == 0
    assert in_app(app, lambda db: contact_address(db, db.get(Signup, signup.id))) == "anna@example.org"
    steps = in_app(app, lambda db: [e.step for e in db.scalars(select(SignupEvent).order_by(SignupEvent.id))])
    assert steps == ["form", "code-sent", "verified", "pre-registered"]


def test_dutch_words_follow_the_status_too(app: Flask) -> None:
    client = app.test_client()
    mail = pre_register(app, client, "")
    assert str(mail["Subject"]).startswith("Je bent vooraf ingeschreven voor")
    assert "Er is niets ondertekend" in text_of(mail)
    done = client.get("/join/done", base_url=TIKTOK).get_data(as_text=True)
    assert "We hebben je interesse genoteerd" in done


def test_opening_queues_one_invitation_per_person_also_when_two_processes_notice_at_once(
    app: Flask, folder: CampaignFolder
) -> None:
    pre_register(app, app.test_client(), "en")
    pre_register(app, app.test_client(), "", email="bram@example.org", name="Bram Jansen")
    with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
        assert InvitationSweep().finish(session, utcnow()) == 0  # not open yet: nobody is invited
    open_campaign(app, folder)

    # Two workers (or a worker and `flask jobs --sweep`) notice the opening at the same moment.
    start = threading.Barrier(2)
    counts: list[int] = []

    def sweep() -> None:
        with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
            start.wait()
            counts.append(InvitationSweep().finish(session, utcnow()))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) in ([0, 2], [1, 1]) and jobs_of(app, INVITATION_JOB) == 2
    assert invitations_sent(app) != []  # the two queued invitations go out ...
    assert invitations_sent(app) == [] and jobs_of(app, INVITATION_JOB) == 2  # ... and a later sweep adds none
    assert [s.stage for s in the_signups(app)] == [Stage.INVITED, Stage.INVITED]


def test_each_invitation_goes_to_the_contact_copy_in_the_language_of_the_pre_registration(
    app: Flask, folder: CampaignFolder
) -> None:
    pre_register(app, app.test_client(), "en", email="Anna.Mail@Example.org")
    pre_register(app, app.test_client(), "", email="bram@example.org", name="Bram Jansen")
    open_campaign(app, folder)
    with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
        InvitationSweep().finish(session, utcnow())
    _, bram = the_signups(app)
    # Bram's contact copy says another address than his answers (as if kept from a later verification).
    with app.app_context():
        locked = app.extensions["claimsite"].contact_box.lock(b"bram.new@example.org")
        db_session().execute(update(Contact).where(Contact.signup_id == bram.id).values(locked_address=locked))
        db_session().commit()
    mails = {str(m["To"]): m for m in deliver(app)}
    assert set(mails) == {"Anna.Mail@Example.org", "bram.new@example.org"}
    english, dutch = mails["Anna.Mail@Example.org"], mails["bram.new@example.org"]
    assert str(english["Subject"]) == "TikTok Claim has opened: you can now decide whether to join"
    assert "Nothing has been signed yet" in text_of(english) and "€17.50" in text_of(english)
    assert str(dutch["Subject"]).startswith("TikTok Claim is geopend") and "/en/" not in invitation_link(dutch)
    assert "/en/join/invitation/" in invitation_link(english)


def test_the_invitation_link_leads_to_signing_and_a_mail_scanner_signs_nothing(
    app: Flask, folder: CampaignFolder
) -> None:
    client = app.test_client()
    pre_register(app, client)
    open_campaign(app, folder)
    [mail] = invitations_sent(app)
    link = invitation_link(mail)

    scanner = app.test_client()  # a mail program that opens every link to check it
    page = scanner.get(link, base_url=TIKTOK)
    assert page.status_code == 200 and "Continue to the agreements" in page.get_data(as_text=True)
    assert scanner.get("/en/join/sign", base_url=TIKTOK).location.endswith("/join")  # not proven by a GET
    [signup] = the_signups(app)
    assert signup.stage == Stage.INVITED and signup.signed_at is None
    assert scanner.post(link, data={"csrf_token": "none"}, base_url=TIKTOK).status_code == 400
    assert the_signups(app)[0].stage == Stage.INVITED

    person = app.test_client()  # the invitation opened on another device than the pre-registration
    shown = person.get(link, base_url=TIKTOK).get_data(as_text=True)
    assert "€17.50" in shown  # what joining costs, before anything is signed
    pressed = person.post(link, data={"csrf_token": csrf_token(person, link)}, base_url=TIKTOK)
    assert pressed.status_code == 302 and pressed.location.endswith("/en/join/sign")
    sign_page = person.get("/en/join/sign", base_url=TIKTOK).get_data(as_text=True)
    assert "Anna de Vries" in sign_page and "€17.50" in sign_page  # the earlier answers, and the fee
    assert the_signups(app)[0].stage == Stage.VERIFIED and the_signups(app)[0].signed_at is None

    signed = person.post("/en/join/sign", data=sign_form(person, "en"), base_url=TIKTOK)
    assert "/join/pay/" in signed.location
    assert pay_in_test_mode(person, signed.location).status_code == 302
    deliver(app)
    [signup] = the_signups(app)
    assert is_participant(signup) and signup.mandate_sha256 and signup.confirmed_at is not None
    # The link of a signed invitation does not open the sign-up to anyone else.
    again = app.test_client().get(link, base_url=TIKTOK).get_data(as_text=True)
    assert "You have already joined" in again and "Anna" not in again


def test_a_pre_registration_can_also_come_back_through_the_join_form(app: Flask, folder: CampaignFolder) -> None:
    pre_register(app, app.test_client())
    open_campaign(app, folder)
    client = app.test_client()
    assert post_form(client, "en").status_code == 302
    [code_mail] = deliver(app)
    verified = post_code(client, code_of(code_mail), "en")
    assert verified.location.endswith("/en/join/sign")
    assert the_signups(app)[0].stage == Stage.VERIFIED
    with app.app_context(), app.extensions["claimsite.db"].sessions() as session:
        assert InvitationSweep().finish(session, utcnow()) == 0  # gone on already: no invitation


def test_a_tampered_or_foreign_invitation_link_gets_the_form(app: Flask, folder: CampaignFolder) -> None:
    pre_register(app, app.test_client())
    open_campaign(app, folder)
    [mail] = invitations_sent(app)
    link = invitation_link(mail)
    response = app.test_client().get(link[:-3] + "abc", base_url=TIKTOK, follow_redirects=True)
    assert "This invitation link has expired or is no longer valid" in response.get_data(as_text=True)


def make_old(app: Flask, days: int) -> None:
    past = utcnow() - dt.timedelta(days=days)
    in_app(app, lambda db: (db.execute(update(Signup).values(created_at=past, verified_at=past)), db.commit()))


def erase(app: Flask, now: dt.datetime) -> tuple[int, int]:
    def run(db: Any) -> tuple[int, int]:
        [result] = [
            r
            for r in erase_unfinished(db, [app.extensions["claimsite"].registry.snapshot.campaigns["tiktokclaim"]], now)
            if r.campaign == "tiktokclaim"
        ]
        return result.signups, result.pre_registrations

    return in_app(app, run)


def test_retention_keeps_a_pre_registration_until_the_campaign_opened_plus_its_days(
    app: Flask, folder: CampaignFolder
) -> None:
    pre_register(app, app.test_client())
    assert post_form(app.test_client(), "en", email="never@example.org").status_code == 302  # never verified
    deliver(app)
    make_old(app, 100)
    # Waiting 100 days for a campaign that has not opened: the pre-registration stays; the unverified one goes.
    assert erase(app, utcnow()) == (1, 0)
    [signup] = the_signups(app)
    assert signup.stage == Stage.INTERESTED

    open_campaign(app, folder, ago=dt.timedelta(days=10))  # opened ten days ago; kept 60 days after that
    assert post_form(app.test_client(), "en", email="later@example.org").status_code == 302  # after it opened
    deliver(app)
    # Sign-ups started after the opening (never verified here) keep the ordinary limit: 60 days after they started.
    assert erase(app, utcnow() + dt.timedelta(days=49)) == (0, 0)
    assert erase(app, utcnow() + dt.timedelta(days=51)) == (0, 1)
    assert [s.stage for s in the_signups(app)] == [Stage.STARTED]
    assert erase(app, utcnow() + dt.timedelta(days=61)) == (1, 0)
    assert the_signups(app) == []
    assert in_app(app, lambda db: db.scalar(select(func.count()).select_from(Contact))) == 0  # the contact copy too


def test_retention_counts_from_the_invitation_when_the_file_opened_it_without_a_date(
    app: Flask, folder: CampaignFolder
) -> None:
    pre_register(app, app.test_client())
    make_old(app, 100)
    path = folder.path / "tiktokclaim.yaml"
    text = re.sub(r"^opens: .*\n", "", path.read_text(encoding="utf-8"), count=1, flags=re.M)
    path.write_text(text.replace("status: pre-registration", "status: open"), encoding="utf-8")
    app.extensions["claimsite"].registry.load()
    invitations_sent(app)
    # Invited (the opening, for this pre-registration) just now: not erased until 60 days after that.
    assert erase(app, utcnow() + dt.timedelta(days=59)) == (0, 0)
    assert erase(app, utcnow() + dt.timedelta(days=61)) == (0, 1)


def test_staff_see_pre_registrations_apart_from_participants(
    make_app: Any, folder: CampaignFolder, migrated_database_url: str
) -> None:
    app = make_app(campaigns_dir=folder.path, database_url=migrated_database_url, admin_host="staff.example")
    pre_register(app, app.test_client())
    client = logged_in_client(app)
    page = client.get("/campaigns/tiktokclaim", base_url=ADMIN).get_data(as_text=True)
    assert re.search(r'<span class="n">1</span> pre-registered <span class="why">[^<]*0 of them invited', page)
    assert '<span class="n">0</span> participants' in page
    [signup] = the_signups(app)
    assert staff_status(signup) == "pre-registered (address verified, nothing signed): waiting for the campaign to open"
    app.extensions["claimsite.db"].engine.dispose()


def test_the_participants_page_shows_a_pre_registration_as_such_and_erases_it_whole(
    app: Flask, folder: CampaignFolder
) -> None:
    pre_register(app, app.test_client())
    client = app.test_client()
    page = logged_in(app, client)
    assert "Pre-registered: nothing signed. We will e-mail you an invitation when the campaign opens." in page
    assert "Withdraw" not in page and "Decide whether to join" not in page

    open_campaign(app, folder)
    invitations_sent(app)
    page = client.get("/en/my", base_url=TIKTOK).get_data(as_text=True)
    assert "The campaign has opened: you can decide whether to join." in page
    join = re.search(r'href="https://tiktokclaim\.org(/en/join/invitation/[^"]+)">Decide whether to join', page)
    assert join and "Continue to the agreements" in client.get(join.group(1), base_url=TIKTOK).get_data(as_text=True)

    [signup] = the_signups(app)
    assert confirm(client, "erase", signup.token).status_code == 302
    assert the_signups(app) == []  # never signed: deleted whole, its contact copy with it
    assert in_app(app, lambda db: db.scalar(select(func.count()).select_from(Contact))) == 0
