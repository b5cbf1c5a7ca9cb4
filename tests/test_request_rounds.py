"""Rounds of data requests (alledata reopened): who a round takes per company, the packages prepared with the
private key file and verified by their manifests, a second round taking only the new ones, preparing again until
sent, the events staff record and the rules on their dates, the list with due dates, and the daily reminder's mail
and complaint, once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from core.data import identity_proofs
from core.data.db import db_session, utcnow
from core.data.models import AuditEntry, CompanyRequest, RequestChoice, RequestEvent, RequestMember, Signup
from core.data_requests.deadlines import DUE_SOON_DAYS, deadline
from core.data_requests.request_log import today_in_nl
from core.exports.evidence import spreadsheet_safe
from core.exports.round_package import verify_round_package
from core.i18n import long_date
from tests.conftest import CampaignFolder
from tests.test_data_request_join import (
    JOIN,
    SOMI,
    choose,
    deliver,
    jpeg_with_metadata,
    log_in_to_my_page,
    reopened,
    sign,
    token_of,
    upload,
)
from tests.test_staff_console import add_staff

TODAY = today_in_nl()
ROUND_1 = TODAY + dt.timedelta(days=1)
ROUND_2 = TODAY + dt.timedelta(days=40)


def received_days_ago_due_soon(holidays_country: str = "NL") -> int:
    """How many days ago a request was received whose answer is due within the week today: 23 days in a month of
    31, more when one month after that falls on a weekend or a holiday and the due day moves past the week."""
    for days_ago in range(23, 45):
        due = deadline(TODAY - dt.timedelta(days=days_ago), holidays_country).due
        if 0 <= (due - TODAY).days <= DUE_SOON_DAYS:
            return days_ago
    raise AssertionError(f"no receipt day makes a request due within {DUE_SOON_DAYS} days of {TODAY}")


PALANTIR_RECEIVED = received_days_ago_due_soon()


@pytest.fixture
def app(make_app: Callable[..., Flask], migrated_database_url: str, campaign_folder: CampaignFolder) -> Iterator[Flask]:
    rounds = [{"id": "round-1", "submit_on": ROUND_1.isoformat()}, {"id": "round-2", "submit_on": ROUND_2.isoformat()}]
    app = make_app(database_url=migrated_database_url, campaigns_dir=reopened(campaign_folder, rounds=rounds))
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def join(
    app: Flask, name: str, email: str, id_proof: str | None = "accepted", country: str = "NL", **choice: Any
) -> int:
    """A participant who joins alledata with ``choice`` (choose()'s fields), signs, uploads an ID copy, and whose
    copy staff accept (``id_proof``: "accepted", "received" (not reviewed) or None (none uploaded)); their id."""
    client = app.test_client()
    answers = {"name": name, "email": email, "country": country, "birth_date": "1990-05-01"}
    response = client.post(JOIN, data={**answers, "csrf_token": token_of(client, JOIN)}, base_url=SOMI)
    assert response.status_code == 302, response.get_data(as_text=True)
    [mail] = deliver(app)
    code = re.search(r"\b(\d{6})\b", str(mail["Subject"])).group(1)  # type: ignore[union-attr]
    page = f"{JOIN}/verify"
    assert (
        client.post(page, data={"code": code, "csrf_token": token_of(client, page)}, base_url=SOMI).status_code == 302
    )
    assert choose(client, **choice).status_code == 302
    assert sign(client).status_code == 302
    deliver(app)  # the mandate PDF
    if id_proof is not None:
        assert upload(client, jpeg_with_metadata()).status_code == 302
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup).order_by(Signup.id.desc())).first()
        assert signup is not None and signup.mandate_sha256
        if id_proof == "accepted":
            proof = identity_proofs.latest(db, signup)
            assert proof is not None and identity_proofs.review(db, proof, True, None, utcnow())
            db.commit()
        return signup.id


def set_signed_at(app: Flask, signup_id: int, at: dt.datetime) -> None:
    with app.app_context():
        db_session().execute(update(Signup).where(Signup.id == signup_id).values(signed_at=at))
        db_session().commit()


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def private_key(app: Flask) -> str:
    return str(app.extensions["claimsite"].settings.development_key_pair()[0])


def prepare(app: Flask, round_id: str, out: Path, *more: str) -> Any:
    return cli(
        app, "requests", "prepare", round_id, "--campaign", "alledata", "--private-key", private_key(app),
        "--out", str(out), *more,
    )  # fmt: skip


def printed_sha(output: str, company: str) -> str:
    found = re.search(rf"  {company}: .*\n.*\n    manifest SHA-256: ([0-9a-f]{{64}})", output)
    assert found, output
    return found.group(1)


def annex(path: Path) -> list[list[str]]:
    with zipfile.ZipFile(path) as package:
        return list(csv.reader(io.StringIO(package.read("annex.csv").decode("utf-8-sig"), newline="")))


def members(app: Flask, round_id: str, company: str) -> set[int]:
    with app.app_context():
        query = (
            select(RequestMember.signup_id)
            .join(CompanyRequest, CompanyRequest.id == RequestMember.company_request_id)
            .where(CompanyRequest.round_id == round_id, CompanyRequest.company == company)
        )
        return set(db_session().scalars(query))


def tokens(app: Flask, *ids: int) -> set[str]:
    """The references of the sign-ups ``ids`` as the annex writes them (a reference that starts with '-', one token
    in 64, carries the spreadsheet-safe apostrophe)."""
    with app.app_context():
        found = db_session().scalars(select(Signup.token).where(Signup.id.in_(ids)))
        return {spreadsheet_safe(token[:12]) for token in found}


def test_a_round_takes_who_chose_the_company_signed_by_its_day_and_proved_who_they_are(
    app: Flask, tmp_path: Path
) -> None:
    anna = join(
        app, "Anna de Vries", "anna@example.org",
        company=["tiktok", "zoom"],
        **{"detail-tiktok-username": "@anna", "detail-zoom-account-email": "anna.zoom@example.org"},
    )  # fmt: skip
    bram = join(app, "Bram Bos", "bram@example.org", company=["zoom"], **{"detail-zoom-account-email": "b@example.org"})
    carla = join(  # her ID copy is not reviewed yet
        app, "Carla Cruz", "carla@example.org", "received", company=["tiktok"], **{"detail-tiktok-username": "@carla"}
    )
    dirk = join(app, "Dirk Dam", "dirk@example.org", company=["tiktok"], **{"detail-tiktok-username": "@dirk"})
    eva = join(  # and a company of her own, for staff to review
        app, "Eva Eik", "eva@example.org", company=["palantir"], other="Acme Data BV",
        **{"detail-palantir-email": "eva@example.org"},
    )  # fmt: skip
    fenna = join(app, "Fenna Fox", "fenna@example.org", company=["tiktok"], **{"detail-tiktok-username": "@fenna"})
    with app.app_context():
        db_session().execute(update(Signup).where(Signup.id == fenna).values(withdrawn_at=utcnow()))
        db_session().commit()
    # The round's day ends at midnight in Amsterdam (UTC+1 in winter, +2 in summer): Anna signed late that evening,
    # Dirk just after midnight there, which is still the round's day in UTC.
    offset = (
        dt.datetime.combine(ROUND_1, dt.time(12), tzinfo=dt.UTC)
        .astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam"))
        .utcoffset()
    )
    midnight = dt.datetime.combine(ROUND_1 + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - offset  # type: ignore[operator]
    set_signed_at(app, anna, midnight - dt.timedelta(minutes=30))
    set_signed_at(app, dirk, midnight + dt.timedelta(minutes=30))
    assert (midnight + dt.timedelta(minutes=30)).date() == ROUND_1  # in UTC, Dirk still signed on the round's day

    out = tmp_path / "round-1"
    result = prepare(app, "round-1", out)
    assert result.exit_code == 0, result.output
    assert "1 participant(s) named another company" in result.output
    for company, expected in (("tiktok", {anna}), ("zoom", {anna, bram}), ("palantir", {eva})):
        assert members(app, "round-1", company) == expected, company
        path = out / f"alledata-round-1-{company}.zip"
        check = verify_round_package(path, printed_sha(result.output, company))
        assert check.ok, check.problems
        rows = annex(path)
        assert {row[0] for row in rows[1:]} == tokens(app, *expected)
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
        assert all(f"mandates/{token}.pdf" in names and f"id/{token}.jpg" in names for token in tokens(app, *expected))
    tiktok_rows = annex(out / "alledata-round-1-tiktok.zip")
    assert tiktok_rows[0][:5] == [
        "Reference", "Name", "Email address of your TikTok account", "Phone number of your TikTok account",
        "Your TikTok username (@name)",
    ]  # fmt: skip
    assert tiktok_rows[1][1:5] == ["Anna de Vries", "", "", "'@anna"]  # kept text in a spreadsheet
    assert tiktok_rows[1][5] == "1990-05-01"
    zoom_rows = {row[1]: row[2] for row in annex(out / "alledata-round-1-zoom.zip")[1:]}
    assert zoom_rows == {"Anna de Vries": "anna.zoom@example.org", "Bram Bos": "b@example.org"}
    with app.app_context():
        db = db_session()
        request = db.scalars(select(CompanyRequest).where(CompanyRequest.company == "zoom")).one()
        assert request.participants == 2 and request.manifest_sha256 == printed_sha(result.output, "zoom")
        assert [
            e.kind for e in db.scalars(select(RequestEvent).where(RequestEvent.company_request_id == request.id))
        ] == ["prepared"]
    assert carla not in members(app, "round-1", "tiktok") and fenna not in members(app, "round-1", "tiktok")

    # Round 2 takes only who no request to that company took yet: Dirk; and now Carla, whose copy was accepted.
    with app.app_context():
        db = db_session()
        proof = identity_proofs.latest(db, db.get(Signup, carla))  # type: ignore[arg-type]
        assert identity_proofs.review(db, proof, True, None, utcnow())  # type: ignore[arg-type]
        db.commit()
    out2 = tmp_path / "round-2"
    result = prepare(app, "round-2", out2)
    assert result.exit_code == 0, result.output
    assert members(app, "round-2", "tiktok") == {carla, dirk}
    assert "zoom: no participants: no package" in result.output and not (out2 / "alledata-round-2-zoom.zip").exists()
    assert verify_round_package(out2 / "alledata-round-2-tiktok.zip", printed_sha(result.output, "tiktok")).ok

    # Until it is sent, a round is made again (its members replaced; read one sign-up at a time this time, the same
    # packages); once sent, it is refused and nothing written.
    result = prepare(app, "round-1", out, "--batch", "1")
    assert result.exit_code == 0, result.output
    assert "made again" in result.output and members(app, "round-1", "zoom") == {anna, bram}
    assert verify_round_package(out / "alledata-round-1-zoom.zip", printed_sha(result.output, "zoom")).ok
    assert {row[1] for row in annex(out / "alledata-round-1-zoom.zip")[1:]} == {"Anna de Vries", "Bram Bos"}
    assert cli(app, "requests", "sent", "round-1", "zoom", "--campaign", "alledata", "--on", TODAY.isoformat(),
               "--channel", "email").exit_code == 0  # fmt: skip
    before = (out / "alledata-round-1-tiktok.zip").stat().st_mtime_ns
    result = prepare(app, "round-1", out)
    assert result.exit_code == 1
    assert "to zoom (sent" in result.output and "--company tiktok --company palantir" in result.output
    assert (out / "alledata-round-1-tiktok.zip").stat().st_mtime_ns == before
    assert prepare(app, "round-1", out, "--company", "tiktok").exit_code == 0

    # Without the private key the data was sealed to, nothing is prepared.
    wrong = tmp_path / "wrong"
    from core.sealing import generate

    other_key = generate(wrong)[0]
    result = cli(app, "requests", "prepare", "round-2", "--campaign", "alledata", "--private-key", str(other_key),
                 "--out", str(tmp_path / "none"))  # fmt: skip
    assert result.exit_code == 1 and "private key" in result.output


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


def event(app: Flask, company: str, kind: str, *more: str) -> Any:
    return cli(app, "requests", "event", "round-1", company, kind, "--campaign", "alledata", *more)


def sent(app: Flask, company: str, *more: str) -> Any:
    return cli(app, "requests", "sent", "round-1", company, "--campaign", "alledata", *more)


def test_sending_events_deadlines_and_the_daily_reminder(app: Flask, tmp_path: Path) -> None:
    join(
        app, "Anna de Vries", "anna@example.org", company=["tiktok", "zoom", "palantir"],
        **{"detail-tiktok-username": "@anna", "detail-zoom-account-email": "a@example.org",
           "detail-palantir-email": "a@example.org"},
    )  # fmt: skip
    add_staff(app, "mira@somi.nl")
    assert prepare(app, "round-1", tmp_path).exit_code == 0

    # Events need the sending first; dates not in the future, nor before the sending, and in order.
    assert "not marked sent yet" in event(app, "tiktok", "acknowledged", "--on", days(-1)).output
    assert "has not come yet" in sent(app, "tiktok", "--on", days(1), "--channel", "email").output
    result = sent(app, "tiktok", "--on", days(-60), "--channel", "email")
    assert result.exit_code == 0 and f"received on {days(-60)} (assumed for email)" in result.output
    assert "sent once" in sent(app, "tiktok", "--on", days(-60), "--channel", "email").output
    assert "before the request was sent" in event(app, "tiktok", "acknowledged", "--on", days(-61)).output
    assert event(app, "tiktok", "acknowledged", "--on", days(-50)).exit_code == 0
    assert "before the last event" in event(app, "tiktok", "acknowledged", "--on", days(-55)).output
    # An extension claimed after the first month is recorded, but does not move the deadline.
    result = event(app, "tiktok", "extension", "--on", days(-5), "--months", "2")
    assert result.exit_code == 0 and "does NOT move the deadline" in result.output
    tiktok_due = deadline(TODAY - dt.timedelta(days=60), "IE").due
    assert f"still due {tiktok_due.isoformat()}" in result.output
    assert "one" in event(app, "tiktok", "extension", "--on", days(-4), "--months", "1").output

    # Zoom: a letter, received three days later; an extension of three months claimed in time counts as two.
    assert sent(app, "zoom", "--on", days(-20), "--channel", "letter").exit_code == 0
    result = event(app, "zoom", "extension", "--on", days(-10), "--months", "3")
    zoom_due = deadline(TODAY - dt.timedelta(days=17), "NL", extension_claimed_on=TODAY - dt.timedelta(days=10),
                        extension_months=3).due  # fmt: skip
    assert "two further months at most" in result.output and f"now due {zoom_due.isoformat()}" in result.output
    assert "needs its kind" in event(app, "zoom", "answered", "--on", days(-2)).output
    assert (
        event(app, "zoom", "answered", "--on", days(-2), "--answer", "part", "--note", "no location data").exit_code
        == 0
    )
    assert "nothing is recorded after the answer" in event(app, "zoom", "acknowledged", "--on", days(-1)).output

    # Palantir: e-mailed two days before it was received, as its acknowledgement says: due within a week.
    received = PALANTIR_RECEIVED
    assert (
        sent(
            app, "palantir", "--on", days(-received - 2), "--channel", "email", "--received", days(-received)
        ).exit_code
        == 0
    )
    palantir_due = deadline(TODAY - dt.timedelta(days=received), "NL").due
    assert 0 <= (palantir_due - TODAY).days <= 7

    listing = cli(app, "requests", "list", "--campaign", "alledata").output
    lines = {line.split()[1]: line for line in listing.splitlines()[1:]}
    assert "overdue" in lines["tiktok"] and tiktok_due.isoformat() in lines["tiktok"]
    assert f"{(TODAY - tiktok_due).days} overdue" in lines["tiktok"] and "claimed-late" in lines["tiktok"]
    assert "answered" in lines["zoom"] and "(part)" in lines["zoom"] and zoom_due.isoformat() in lines["zoom"]
    assert "due_soon" in lines["palantir"] and f"{(palantir_due - TODAY).days} left" in lines["palantir"]

    # The reminder: one mail, the overdue event and the complaint, once however often it runs that day.
    result = cli(app, "requests", "remind", "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "1 due within 7 days, 1 overdue; mailed 1 staff account(s)" in result.output
    complaint = (
        app.extensions["claimsite"].settings.instance_dir / "complaints" / "alledata" / "round-1-tiktok-nl-ap.md"
    )
    text = complaint.read_text(encoding="utf-8")
    assert "Autoriteit Persoonsgegevens" in text and "TikTok Technology Ltd." in text
    # In alledata's language (Dutch), for the Dutch authority.
    assert f"uiterlijk op {tiktok_due.isoformat()} moeten antwoorden" in text and "namens 1 betrokkenen" in text
    assert "nadat de eerste maand was verstreken" in text and "per e-mail" in text and "Anna" not in text
    mails = deliver(app)
    assert [str(mail["To"]) for mail in mails] == ["mira@somi.nl"]
    body = mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # In alledata's language (Dutch), as its staff work in it.
    assert "round-1 tiktok: TE LAAT" in body and "round-1 palantir: termijn tot" in body and "zoom" not in body

    complaint.write_text("edited by staff", encoding="utf-8")
    result = cli(app, "requests", "remind", "--today", TODAY.isoformat())
    assert "no mail" in result.output and "complaint drafted" not in result.output
    assert deliver(app) == [] and complaint.read_text(encoding="utf-8") == "edited by staff"
    with app.app_context():
        kinds = list(db_session().scalars(select(RequestEvent.kind).order_by(RequestEvent.id)))
        actions = list(db_session().scalars(select(AuditEntry.action).where(AuditEntry.action.like("requests-%"))))
    assert kinds.count("overdue") == 1 and kinds.count("complaint-prepared") == 1
    # In the audit log: each command that recorded something, not the refused ones.
    assert actions.count("requests-prepare") == 1 and actions.count("requests-sent") == 3
    assert actions.count("requests-event") == 4


def test_the_id_copy_is_erased_once_every_company_chosen_has_answered(app: Flask, tmp_path: Path) -> None:
    anna = join(
        app, "Anna de Vries", "anna@example.org", company=["tiktok", "zoom"],
        **{"detail-tiktok-username": "@anna", "detail-zoom-account-email": "a@example.org"},
    )  # fmt: skip
    assert prepare(app, "round-1", tmp_path).exit_code == 0
    for company in ("tiktok", "zoom"):
        assert sent(app, company, "--on", days(-20), "--channel", "email").exit_code == 0

    def kept() -> bool:
        with app.app_context():
            db = db_session()
            signup = db.get(Signup, anna)
            proof = identity_proofs.latest(db, signup)  # type: ignore[arg-type]
            assert proof is not None
            return proof.sealed_image is not None

    result = event(app, "zoom", "answered", "--on", days(-2), "--answer", "full")
    assert result.exit_code == 0 and "erased" not in result.output
    assert kept()  # TikTok has not answered yet: the request to it may still need the copy
    result = event(app, "tiktok", "answered", "--on", days(-1), "--answer", "refused")
    assert result.exit_code == 0 and "1 ID cop(ies) erased" in result.output
    assert not kept()
    with app.app_context():
        proof = identity_proofs.latest(db_session(), db_session().get(Signup, anna))  # type: ignore[arg-type]
        assert proof is not None and proof.state == "accepted" and proof.erase_reason == "round-answered"


def test_the_participants_page_shows_each_request_with_its_date(app: Flask, tmp_path: Path) -> None:
    join(
        app, "Anna de Vries", "anna@example.org", company=["tiktok", "zoom", "palantir"],
        **{"detail-tiktok-username": "@anna", "detail-zoom-account-email": "anna@example.org",
           "detail-palantir-email": "anna@example.org"},
    )  # fmt: skip
    assert prepare(app, "round-1", tmp_path).exit_code == 0
    assert sent(app, "tiktok", "--on", days(-10), "--channel", "email").exit_code == 0
    assert sent(app, "zoom", "--on", days(-30), "--channel", "email").exit_code == 0
    assert event(app, "zoom", "extension", "--on", days(-20), "--months", "1").exit_code == 0
    assert sent(app, "palantir", "--on", days(-9), "--channel", "email").exit_code == 0
    assert event(app, "palantir", "answered", "--on", days(-2), "--answer", "part").exit_code == 0

    page = log_in_to_my_page(app, app.test_client())
    tiktok_due = deadline(TODAY - dt.timedelta(days=10), "IE").due
    zoom_due = deadline(
        TODAY - dt.timedelta(days=30), "NL", extension_claimed_on=TODAY - dt.timedelta(days=20), extension_months=1
    ).due

    def shown(day: dt.date) -> str:
        return long_date(day, "en")

    assert (
        f"TikTok: sent on {shown(TODAY - dt.timedelta(days=10))}; the company must answer by {shown(tiktok_due)}."
        in page
    )
    assert f"the company extended its deadline and must answer by {shown(zoom_due)}" in page
    assert f"Palantir: answered in part on {shown(TODAY - dt.timedelta(days=2))}" in page


def test_an_overdue_request_gets_a_complaint_to_the_authority_of_each_country_its_members_live_in(
    app: Flask, tmp_path: Path
) -> None:
    zoom = {"company": ["zoom"], "detail-zoom-account-email": "x@example.org"}
    join(app, "Anna de Vries", "anna@example.org", **zoom)
    join(app, "Bram Peeters", "bram@example.org", country="BE", **zoom)
    join(app, "Carla Janssens", "carla@example.org", country="BE", **zoom)
    assert prepare(app, "round-1", tmp_path).exit_code == 0
    assert sent(app, "zoom", "--on", days(-60), "--channel", "email").exit_code == 0
    result = cli(app, "requests", "remind", "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    folder = app.extensions["claimsite"].settings.instance_dir / "complaints" / "alledata"
    assert sorted(path.name for path in folder.iterdir()) == ["round-1-zoom-be-unknown.md", "round-1-zoom-nl-ap.md"]
    dutch = (folder / "round-1-zoom-nl-ap.md").read_text(encoding="utf-8")
    assert "Autoriteit Persoonsgegevens" in dutch and "namens 1 betrokkenen" in dutch
    belgian = (folder / "round-1-zoom-be-unknown.md").read_text(encoding="utf-8")
    assert "To: the supervisory authority of Belgium" in belgian and "on behalf of 2 data subjects" in belgian
    assert "not in campaigns/_shared/authorities.yaml yet" in belgian
    for text in (dutch, belgian):
        assert "Anna" not in text and "Bram" not in text and "Carla" not in text


def test_a_campaign_of_one_company_takes_the_participants_who_signed_before_it_asked_for_a_choice(
    make_app: Callable[..., Flask], migrated_database_url: str, campaign_folder: CampaignFolder, tmp_path: Path
) -> None:
    """A data request added to a running campaign (facebookleak): who signed before it asked for a choice signed a
    mandate naming the campaign's company, and is in its requests like those who chose it."""
    rounds = [{"id": "round-1", "submit_on": ROUND_1.isoformat()}]
    folder = reopened(campaign_folder, rounds=rounds, companies=["zoom"], all_of_them=False, other_company=False)
    app = make_app(database_url=migrated_database_url, campaigns_dir=folder)
    try:
        earlier = join(app, "Anna de Vries", "anna@example.org", company=["zoom"],
                       **{"detail-zoom-account-email": "a@example.org"})  # fmt: skip
        chose = join(app, "Bram Jansen", "bram@example.org", company=["zoom"],
                     **{"detail-zoom-account-email": "b@example.org"})  # fmt: skip
        with app.app_context():
            db = db_session()
            db.execute(delete(RequestChoice).where(RequestChoice.signup_id == earlier))  # as if before the step
            db.commit()
        assert prepare(app, "round-1", tmp_path).exit_code == 0
        assert members(app, "round-1", "zoom") == {earlier, chose}
        page = log_in_to_my_page(app, app.test_client())
        assert "Zoom:" in page
    finally:
        app.extensions["claimsite.db"].engine.dispose()
