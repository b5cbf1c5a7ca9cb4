"""A data request's join flow (alledata reopened): the companies chosen before signing, with what each needs to find
the participant; the mandate that names them; the ID copy uploaded after signing, sealed, replaced and erased."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select, text

from core.data import identity_proofs
from core.data.db import db_session
from core.data.models import IdentityProof, ProofState, RequestChoice, Signup, SignupEvent
from core.jobs.queue import Worker
from core.sealing import OpeningKeys
from tests.conftest import CampaignFolder, opened_personal_data

SOMI = "https://somi.nl"
JOIN = "/alledata/en/join"
ANSWERS = {
    "name": "Anna de Vries",
    "email": "anna@example.org",
    "country": "NL",
    "birth_date": "1990-05-01",
}


@pytest.fixture
def database_url(migrated_database_url: str) -> str:
    return migrated_database_url


def reopened(folder: CampaignFolder, **settings: Any) -> Path:
    """The shipped campaigns, with alledata open again (and its data_request settings changed by ``settings``)."""
    folder.copy_shipped()
    path = folder.path / "alledata.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["status"] = "open"
    data["plugins"]["data_request"].update(settings)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder.path


@pytest.fixture
def app(make_app: Callable[..., Flask], migrated_database_url: str, campaign_folder: CampaignFolder) -> Iterator[Flask]:
    app = make_app(database_url=migrated_database_url, campaigns_dir=reopened(campaign_folder))
    yield app
    app.extensions["claimsite.db"].engine.dispose()


def token_of(client: FlaskClient, path: str) -> str:
    html = client.get(path, base_url=SOMI).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def deliver(app: Flask) -> list[email.message.EmailMessage]:
    folder = app.extensions["claimsite"].settings.instance_dir / "outbox"
    before = set(folder.glob("*.eml")) if folder.exists() else set()
    while Worker(app).run_once():
        pass
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
        if p not in before
    ]


def verified(app: Flask, client: FlaskClient) -> None:
    response = client.post(JOIN, data={**ANSWERS, "csrf_token": token_of(client, JOIN)}, base_url=SOMI)
    assert response.status_code == 302, response.get_data(as_text=True)
    [mail] = deliver(app)
    code = re.search(r"\b(\d{6})\b", str(mail["Subject"])).group(1)  # type: ignore[union-attr]
    page = f"{JOIN}/verify"
    response = client.post(page, data={"code": code, "csrf_token": token_of(client, page)}, base_url=SOMI)
    assert response.status_code == 302


def choose(client: FlaskClient, **fields: Any) -> Any:
    page = f"{JOIN}/companies"
    return client.post(page, data={**fields, "csrf_token": token_of(client, page)}, base_url=SOMI)


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def sign(client: FlaskClient) -> Any:
    html = client.get(f"{JOIN}/sign", base_url=SOMI).get_data(as_text=True)
    data = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "signature_typed": "Anna de Vries",
    }
    for agreement, sha in re.findall(r'name="sha-([a-z0-9-]+)" value="([0-9a-f]{64})"', html):
        data[f"sha-{agreement}"] = sha
        data[f"agree-{agreement}"] = "yes"
    return client.post(f"{JOIN}/sign", data=data, base_url=SOMI)


def test_the_companies_are_chosen_before_signing_and_the_mandate_names_them(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    verified(app, client)
    # Straight to signing is not possible: the mandate must name the companies first.
    assert client.get(f"{JOIN}/sign", base_url=SOMI).location.endswith("/alledata/en/join/companies")
    page = plain(client.get(f"{JOIN}/companies", base_url=SOMI).get_data(as_text=True))
    assert "TikTok" in page and "Palantir" in page and "Zoom" in page and "All of them" in page
    assert "Another company" in page

    # Nothing chosen, then a company without the detail it needs: each said, what was typed kept.
    refused = choose(client)
    assert refused.status_code == 422
    assert "Please choose at least one company." in plain(refused.get_data(as_text=True))
    refused = choose(client, company=["tiktok", "zoom"], other="Acme Data BV", **{"detail-zoom-account-email": "nope"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Please enter an e-mail address" in html and "Please fill this in" in html  # Zoom's address, TikTok's user
    assert 'value="Acme Data BV"' in html and 'value="nope"' in html

    chosen = choose(
        client,
        company=["tiktok", "zoom"],
        other="Acme Data BV",
        **{"detail-tiktok-username": "@anna", "detail-zoom-account-email": "anna.zoom@example.org"},
    )
    assert chosen.status_code == 302 and chosen.location.endswith("/alledata/en/join/sign")
    sign_page = plain(client.get(f"{JOIN}/sign", base_url=SOMI).get_data(as_text=True))
    assert "TikTok Technology Ltd., Zoom Video Communications, Inc., and ‘Acme Data BV’" in sign_page
    assert "Palantir" not in sign_page

    assert sign(client).status_code == 302
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup)).one()
        assert sorted(db.scalars(select(RequestChoice.company))) == ["other", "tiktok", "zoom"]
        steps = [event.step for event in signup.events]
        assert steps.index("companies-chosen") < steps.index("signed")
        chosen_event = next(event for event in signup.events if event.step == "companies-chosen")
        assert chosen_event.detail == "tiktok,zoom,other"
        opened = opened_personal_data(app, signup)
        details = opened.answers["data_request"]
        assert details["details"] == {
            "tiktok": {"username": "@anna"},
            "zoom": {"account-email": "anna.zoom@example.org"},
        }
        assert details["other"] == "Acme Data BV"
        assert "Acme Data BV" in opened.placeholders["companies"]
    # The mandate PDF names them too.
    deliver(app)
    with app.app_context():
        signup = db_session().scalars(select(Signup)).one()
        pdf = opened_personal_data(app, signup).mandate_pdf
    assert pdf is not None
    (tmp_path / "mandate.pdf").write_bytes(pdf)
    words = subprocess.run(
        ["pdftotext", str(tmp_path / "mandate.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "TikTok Technology Ltd." in " ".join(words.split()) and "Acme Data BV" in words


def test_all_of_them_takes_every_company_offered(app: Flask) -> None:
    client = app.test_client()
    verified(app, client)
    response = choose(
        client,
        all="yes",
        **{
            "detail-tiktok-username": "@anna",
            "detail-zoom-account-email": "anna@example.org",
            "detail-palantir-email": "anna@example.org",
        },
    )
    assert response.status_code == 302, plain(response.get_data(as_text=True))
    with app.app_context():
        assert sorted(db_session().scalars(select(RequestChoice.company))) == ["palantir", "tiktok", "zoom"]


def test_a_campaign_without_a_data_request_has_no_company_step(app: Flask) -> None:
    assert app.test_client().get("/en/join/companies", base_url="https://tiktokclaim.org").status_code == 404


def test_a_company_not_in_the_catalogue_is_refused_on_its_line(campaign_folder: CampaignFolder) -> None:
    from tests.conftest import run_campaigns_command

    folder = reopened(campaign_folder, companies=["tiktok", "tikttok"])
    result = run_campaigns_command("check", "--no-sentences", campaigns_dir=folder)
    assert result.exit_code == 1
    assert "alledata.yaml, line" in result.output
    assert "plugins.data_request.companies[1]" in result.output
    assert "no company 'tikttok'" in result.output and "did you mean 'tiktok'?" in result.output


def jpeg_with_metadata() -> bytes:
    image = Image.new("RGB", (600, 400), "white")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x9286] = "secret comment"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(client: FlaskClient, data: bytes, name: str = "id.jpg") -> Any:
    page = f"{JOIN}/identity"
    return client.post(
        page,
        data={"csrf_token": token_of(client, page), "document": (io.BytesIO(data), name)},
        base_url=SOMI,
        content_type="multipart/form-data",
    )


def joined(app: Flask) -> FlaskClient:
    client = app.test_client()
    verified(app, client)
    choose(client, company=["zoom"], **{"detail-zoom-account-email": "anna@example.org"})
    assert sign(client).status_code == 302
    return client


def test_the_id_copy_is_cleaned_sealed_and_replaced(app: Flask) -> None:
    client = joined(app)
    done = plain(client.get(f"{JOIN}/done", base_url=SOMI).get_data(as_text=True))
    assert "Upload a copy of your ID document" in done

    refused = upload(client, b"%PDF-1.4 not an image", "id.jpg")
    assert refused.status_code == 422
    assert "We accept only JPEG and PNG images" in plain(refused.get_data(as_text=True))
    refused = upload(client, b"hello", "id.jpg")
    assert refused.status_code == 422 and "is not an image" in plain(refused.get_data(as_text=True))

    original = jpeg_with_metadata()
    response = upload(client, original)
    assert response.status_code == 302 and response.location.endswith("/alledata/en/join/done")
    done = plain(client.get(response.location, base_url=SOMI).get_data(as_text=True))
    assert "We received your ID copy" in done

    with app.app_context():
        db = db_session()
        proof = db.scalars(select(IdentityProof)).one()
        assert proof.state == ProofState.RECEIVED and proof.media_type == "image/jpeg"
        # Nothing of the image, its metadata or the participant's answers is readable in a raw read of the database.
        raw = b"".join(
            bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
            for row in db.execute(text("SELECT * FROM identity_proofs")).all()
            for value in row
            if value is not None
        )
        assert b"PhoneMaker" not in raw and b"secret comment" not in raw and b"JFIF" not in raw
        # Staff open it with the private key file: the image, without its metadata.
        private_key = app.extensions["claimsite"].settings.development_key_pair()[0]
        image = identity_proofs.open_image(proof, OpeningKeys.from_files([private_key]))
        assert image is not None and image.startswith(b"\xff\xd8") and b"PhoneMaker" not in image
        assert Image.open(io.BytesIO(image)).size == (600, 400) and not Image.open(io.BytesIO(image)).getexif()

    # A second upload replaces the first, whose image is erased.
    assert upload(client, jpeg_with_metadata()).status_code == 302
    with app.app_context():
        proofs = db_session().scalars(select(IdentityProof).order_by(IdentityProof.id)).all()
        assert [p.state for p in proofs] == [ProofState.ERASED, ProofState.RECEIVED]
        assert proofs[0].sealed_image is None and proofs[0].erase_reason == "replaced"
        assert db_session().scalars(select(SignupEvent.step).where(SignupEvent.step == "identity-uploaded")).all()


def log_in_to_my_page(app: Flask, client: FlaskClient) -> str:
    page = "/alledata/en/my"
    response = client.post(page, data={"email": ANSWERS["email"], "csrf_token": token_of(client, page)}, base_url=SOMI)
    assert response.status_code == 302
    [mail] = [m for m in deliver(app) if "log in" in str(m["Subject"]).lower() or "login" in str(m["Subject"]).lower()]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://somi\.nl(/alledata/\S*my/login/\S+)", body).group(1)  # type: ignore[union-attr]
    pressed = client.post(link, data={"csrf_token": token_of(client, link)}, base_url=SOMI)
    assert pressed.status_code == 302, pressed.get_data(as_text=True)
    return plain(client.get(page, base_url=SOMI).get_data(as_text=True))


def test_the_participants_page_shows_the_companies_and_takes_a_new_id_copy_after_a_rejection(app: Flask) -> None:
    client = joined(app)
    assert upload(client, jpeg_with_metadata()).status_code == 302
    with app.app_context():
        db = db_session()
        proof = db.scalars(select(IdentityProof)).one()
        assert identity_proofs.review(db, proof, False, None, proof.received_at, "The photo is too blurry to read.")
        db.commit()
        reference = db.scalars(select(Signup.token)).one()
    deliver(app)
    page = log_in_to_my_page(app, app.test_client())
    assert "Companies Zoom" in page
    assert "Not accepted: The photo is too blurry to read." in page

    other = app.test_client()
    page = log_in_to_my_page(app, other)
    form = f"/alledata/en/my/identity/{reference}"
    response = other.post(
        form,
        data={"csrf_token": token_of(other, form), "document": (io.BytesIO(jpeg_with_metadata()), "id.jpg")},
        base_url=SOMI,
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = plain(other.get("/alledata/en/my", base_url=SOMI).get_data(as_text=True))
    assert "Received on" in page and "we will check it" in page
    # Someone else's reference is not found; a visitor not logged in is sent to log in.
    assert other.get("/alledata/en/my/identity/not-a-reference", base_url=SOMI).status_code == 404
    assert app.test_client().get(form, base_url=SOMI).status_code == 302


def test_retention_erases_an_id_copy_kept_as_long_as_the_campaign_allows_and_withdrawal_at_once(app: Flask) -> None:
    client = joined(app)
    assert upload(client, jpeg_with_metadata()).status_code == 302
    runner = app.test_cli_runner()
    assert "ID copies: would erase 0" in runner.invoke(args=["retention", "run", "--dry-run"]).output
    with app.app_context():
        db = db_session()
        proof = db.scalars(select(IdentityProof)).one()
        proof.received_at = proof.received_at - dt.timedelta(days=121)  # alledata keeps them 120 days
        db.commit()
    assert "ID copies: would erase 1" in runner.invoke(args=["retention", "run", "--dry-run"]).output
    assert "ID copies: erased 1" in runner.invoke(args=["retention", "run"]).output
    with app.app_context():
        proof = db_session().scalars(select(IdentityProof)).one()
        assert proof.sealed_image is None and proof.state == ProofState.ERASED and proof.erase_reason == "kept-days"

    # A new copy, then a withdrawal on the participant's page: the copy goes at once.
    assert upload(client, jpeg_with_metadata()).status_code == 302
    with app.app_context():
        db = db_session()
        signup = db.scalars(select(Signup)).one()
        from core.signup.flow import Visit
        from core.signup.withdrawal import withdraw

        withdraw(db, signup, Visit(dt.datetime.now(dt.UTC), None, None))
        db.commit()
        latest = identity_proofs.latest(db, signup)
        assert latest is not None and latest.sealed_image is None and latest.erase_reason == "withdrawn"


def test_key_rotation_seals_the_id_copies_again(
    app: Flask, make_app: Callable[..., Flask], migrated_database_url: str, tmp_path: Path
) -> None:
    from core.sealing import generate

    client = joined(app)
    assert upload(client, jpeg_with_metadata()).status_code == 302
    old_private = app.extensions["claimsite"].settings.development_key_pair()[0]
    new_private, new_public, new_key = generate(tmp_path / "new-keys")
    new_app = make_app(
        database_url=migrated_database_url,
        campaigns_dir=app.extensions["claimsite"].settings.campaigns_dir,
        sealing_public_key=new_public.read_text(),
    )
    args = ["keys", "rotate", "--private-key", str(old_private), "--to", str(new_public)]
    result = new_app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert f"1 ID cop(ies) sealed again to key {new_key.id.hex()}; 0 were sealed to it already" in result.stdout
    with new_app.app_context():
        proof = db_session().scalars(select(IdentityProof)).one()
        image = identity_proofs.open_image(proof, OpeningKeys.from_files([new_private]))
        assert image is not None and image.startswith(b"\xff\xd8")
    again = new_app.test_cli_runner().invoke(args=args)
    assert "0 ID cop(ies) sealed again" in again.stdout and "1 were sealed to it already" in again.stdout
    new_app.extensions["claimsite.db"].engine.dispose()


def test_the_evidence_package_checks_the_mandate_that_names_the_companies(app: Flask, tmp_path: Path) -> None:
    import zipfile

    client = app.test_client()
    verified(app, client)
    choose(client, company=["tiktok"], other="Acme Data BV", **{"detail-tiktok-username": "@anna"})
    assert sign(client).status_code == 302
    deliver(app)
    private_key = app.extensions["claimsite"].settings.development_key_pair()[0]
    out = tmp_path / "evidence.zip"
    args = ["export", "evidence", "alledata", "--private-key", str(private_key), "--out", str(out)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        problems = package.read("problems.csv").decode("utf-8").strip().splitlines()
        participants = package.read("participants.csv").decode("utf-8")
    assert len(problems) == 1, problems  # the header only: the texts re-rendered with the companies match
    assert "Anna de Vries" in participants


def test_the_database_read_raw_holds_no_detail_the_participant_gave_nor_their_id_copy(app: Flask) -> None:
    from tests.test_sealed_storage import raw_bytes

    client = app.test_client()
    verified(app, client)
    details = {"detail-tiktok-username": "@annadevries1990", "detail-zoom-account-email": "anna.zoom@example.org"}
    assert choose(client, company=["tiktok", "zoom"], other="Acme Data Verwerking BV", **details).status_code == 302
    assert sign(client).status_code == 302
    deliver(app)
    photo = Image.new("RGB", (300, 200), (12, 34, 56))
    out = io.BytesIO()
    photo.save(out, "PNG")
    assert upload(client, out.getvalue(), "id.png").status_code == 302
    raw = raw_bytes(app)
    assert b"alledata" in raw  # what is not personal is there to be seen
    for value in ("@annadevries1990", "anna.zoom@example.org", "Acme Data Verwerking", "Anna de Vries", "IHDR"):
        assert value.encode() not in raw, value
    assert bytes([12, 34, 56]) * 20 not in raw  # the image's pixels, in no form


def test_an_upload_too_large_to_read_is_refused_with_a_message_on_the_same_page(app: Flask) -> None:
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    client = joined(app)
    page = f"{JOIN}/identity"
    huge = FileStorage(io.BytesIO(b"\xff\xd8\xff" + bytes(13 * 1024 * 1024)), "huge.jpg", content_type="image/jpeg")
    # Encoded in memory (the test client would spool a body this large to a file it never closes).
    boundary, body = encode_multipart({"csrf_token": token_of(client, page), "document": huge})
    response = client.post(page, data=body, base_url=SOMI, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 422
    assert "too large (at most 10 MB)" in plain(response.get_data(as_text=True))
    with app.app_context():
        assert db_session().scalars(select(IdentityProof)).first() is None


def test_a_campaign_of_one_company_has_it_ticked_already(db_app: Flask) -> None:
    client = db_app.test_client()
    base = "https://facebookleak.somi.nl"
    page = "/en/join"
    response = client.post(page, data={**ANSWERS, "csrf_token": token_of_at(client, base, page)}, base_url=base)
    assert response.status_code == 302
    [mail] = deliver(db_app)
    code = re.search(r"\b(\d{6})\b", str(mail["Subject"])).group(1)  # type: ignore[union-attr]
    verify = "/en/join/verify"
    client.post(verify, data={"code": code, "csrf_token": token_of_at(client, base, verify)}, base_url=base)
    html = client.get("/en/join/companies", base_url=base).get_data(as_text=True)
    assert re.search(r'name="company" value="meta"[^>]*\bchecked', html)
    assert "All of them" not in html and 'name="other"' not in html


def token_of_at(client: FlaskClient, base: str, path: str) -> str:
    html = client.get(path, base_url=base).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
