"""Fee models and payment providers: one fee model per campaign, the choice asked when signing and kept as signed
(terms are a snapshot), free campaigns, and a third-party fee model with its own provider and page."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from markupsafe import escape
from sqlalchemy import func, select

from core.campaigns import CampaignConfigError, load_campaign_file
from core.data.models import Payment, Signup, is_participant, participant
from core.money.fees import FeeTerms, SuccessFeeTerms, describe_terms, fee_model_for, fee_summary, percent, terms_of
from core.money.payment_providers import provider_for
from core.plugins import PluginHost
from core.signup.mandate_copy import open_copy
from tests.conftest import REPO, CampaignFolder
from tests.test_plugins import install_plugin
from tests.test_signup import VALID, code_of, copy_url_of, deliver, private_key_of

FACEBOOK = "https://facebookleak.somi.nl"
TIKTOK = "https://tiktokclaim.org"
FLAT_SENTENCE = (
    "No cure, no pay: only if the claim succeeds, you pay a fixed fee of €50.00 out of the compensation "
    "you receive (never more than the compensation itself)."
)
NO_CHOICE = "Please choose what you will pay if the claim succeeds."


def with_fee_model(folder: CampaignFolder, fee_plugins: dict[str, Any], drop_signup: bool = False) -> Path:
    """The shipped campaigns, with facebookleak charging through ``fee_plugins`` instead of ``free``."""
    folder.copy_shipped()
    path = folder.path / "facebookleak.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    others = {name: value for name, value in data["plugins"].items() if name != "free"}
    data["plugins"] = {**fee_plugins, **others}
    if drop_signup:
        del data["signup"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def problems(path: Path) -> list[Any]:
    with pytest.raises(CampaignConfigError) as caught:
        load_campaign_file(path, PluginHost().settings_schemas)
    return caught.value.problems


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def verified_client(app: Flask, base: str = FACEBOOK) -> FlaskClient:
    """A browser that sent the form (in English) and entered the code: the signing page is next."""
    client = app.test_client()
    token = csrf_in(client.get("/en/join", base_url=base).get_data(as_text=True))
    assert client.post("/en/join", data={**VALID, "csrf_token": token}, base_url=base).status_code == 302
    [mail] = deliver(app)
    token = csrf_in(client.get("/en/join/verify", base_url=base).get_data(as_text=True))
    response = client.post("/en/join/verify", data={"code": code_of(mail), "csrf_token": token}, base_url=base)
    assert response.status_code == 302 and response.location.endswith("/join/sign")
    asked = client.get("/en/join/sign", base_url=base)
    if asked.status_code == 302 and asked.location.endswith("/join/companies"):  # facebookleak's data request to Meta
        token = csrf_in(client.get("/en/join/companies", base_url=base).get_data(as_text=True))
        chosen = {"company": "meta", "detail-meta-profile-link": "https://facebook.com/anna", "csrf_token": token}
        assert client.post("/en/join/companies", data=chosen, base_url=base).status_code == 302
    return client


def signing_page(client: FlaskClient, path: str = "/en/join/sign", base: str = FACEBOOK) -> tuple[str, dict]:
    """The signing page, and a complete answer to it (every agreement ticked, a typed name, no fee choice)."""
    html = client.get(path, base_url=base).get_data(as_text=True)
    data = {"csrf_token": csrf_in(html), "signature_typed": "Anna de Vries"}
    for agreement, sha in re.findall(r'name="sha-([a-z0-9-]+)" value="([0-9a-f]{64})"', html):
        data[f"sha-{agreement}"], data[f"agree-{agreement}"] = sha, "yes"
    return html, data


def the_signup(app: Flask) -> Signup:
    with app.app_context():
        from core.data.db import db_session

        return db_session().scalars(select(Signup)).one()


def participants(app: Flask, slug: str = "facebookleak") -> int:
    with app.app_context():
        from core.data.db import db_session

        return db_session().scalar(
            select(func.count()).select_from(Signup).where(participant(), Signup.campaign == slug)
        )  # type: ignore[return-value]


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "mandate.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "mandate.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(text.split())


def dutch(msgid: str) -> str | None:
    """The Dutch translation of ``msgid``, if the catalog has one yet (another change adds them)."""
    with (REPO / "translations" / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        message = read_po(f).get(msgid)
    return message.string if message is not None and message.string and not message.fuzzy else None


# -- configuration ------------------------------------------------------------------------------------------------


def test_one_fee_model_per_campaign_with_a_signup(campaign_folder: CampaignFolder) -> None:
    path = with_fee_model(campaign_folder, {"no_cure_no_pay": {"flat": 50, "share": 20}})
    settings = load_campaign_file(path, PluginHost().settings_schemas).settings_for("no_cure_no_pay")
    assert (settings.flat, settings.share) == (Decimal(50), Decimal(20))

    subscription = {"amount": 17.5, "description": {"nl": "Deelname", "en": "Taking part"}}
    path = with_fee_model(campaign_folder, {"no_cure_no_pay": {}, "subscription": subscription})
    [both] = problems(path)
    assert both.field == "plugins.subscription" and both.line == line_of(path, "subscription:")
    assert "one fee model" in both.message and "no_cure_no_pay, subscription" in both.message
    assert f"facebookleak.yaml, line {both.line}" in str(both)

    path = with_fee_model(campaign_folder, {"no_cure_no_pay": {}}, drop_signup=True)
    [no_signup] = problems(path)
    assert no_signup.field == "plugins.no_cure_no_pay" and "needs a 'signup' section" in no_signup.message
    assert no_signup.line == line_of(path, "no_cure_no_pay:")


@pytest.mark.parametrize(
    ("amount", "words"),
    [(-5, "should be greater than"), (0, "should be greater than 0"), ("17.505", "2 decimal places")],
)
def test_subscription_amount_is_checked(campaign_folder: CampaignFolder, amount: Any, words: str) -> None:
    subscription = {"amount": amount, "description": {"nl": "Deelname", "en": "Taking part"}}
    path = with_fee_model(campaign_folder, {"subscription": subscription})
    [problem] = problems(path)
    assert problem.field == "plugins.subscription.amount" and words in problem.message
    assert problem.line == line_of(path, " amount:")


# -- no cure, no pay ----------------------------------------------------------------------------------------------


def test_no_cure_no_pay_choice_is_signed_and_kept(
    campaign_folder: CampaignFolder, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    path = with_fee_model(campaign_folder, {"no_cure_no_pay": {"flat": 50, "share": 20}})
    app = make_app(campaigns_dir=campaign_folder.path)
    client = verified_client(app)
    html, data = signing_page(client)
    assert html.count('name="fee_option"') == 2 and "Sign and join" in html
    assert "€50.00 if we win" in html and "20% of the compensation if we win" in html
    dutch_page, _ = signing_page(client, "/join/sign")  # the default language, without a prefix
    assert 'lang="nl"' in dutch_page and dutch_page.count('name="fee_option"') == 2
    assert "€\xa050,00" in dutch_page  # Dutch amounts, whatever the state of the catalog
    for msgid, text in [
        ("%(amount)s if we win", {"amount": "€\xa050,00"}),
        ("%(share)s of the compensation if we win", {"share": "20%"}),
    ]:
        translated = dutch(msgid)
        if translated:
            assert str(escape(translated % text)) in dutch_page

    refused = client.post("/en/join/sign", data=data, base_url=FACEBOOK)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and NO_CHOICE in page
    assert len(re.findall(r'name="agree-[a-z-]+" value="yes" required\s+checked', page)) == 2
    assert 'name="signature_typed" autocomplete="name" value="Anna de Vries"' in page
    assert not re.search(r'name="fee_option" value="\w+" required\s+checked', page)

    signed = client.post("/en/join/sign", data={**data, "fee_option": "flat"}, base_url=FACEBOOK)
    assert signed.status_code == 302 and signed.location.endswith("/en/join/done")
    signup = the_signup(app)
    assert (signup.fee_model, signup.fee_option, signup.payment_required) == ("no_cure_no_pay", "flat", False)
    terms = json.loads(signup.fee_terms or "")
    assert terms["success_fee"]["flat_cents"] == 5000 and Decimal(terms["success_fee"]["share_percent"]) == 20
    assert terms["one_time_cents"] is None and is_participant(signup) and participants(app) == 1
    with app.app_context():
        assert app.extensions["claimsite"].counters.participants("facebookleak") == 1  # no payment awaited

    [confirmation] = [m for m in deliver(app) if m["To"] == VALID["email"]]  # the mandate job, then its mail
    [attachment] = list(confirmation.iter_attachments())
    pdf = attachment.get_content()
    assert FLAT_SENTENCE in pdf_text(pdf, tmp_path)
    body = confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert FLAT_SENTENCE in " ".join(body.split())
    assert FLAT_SENTENCE in client.get("/en/join/done", base_url=FACEBOOK).get_data(as_text=True)
    # The mandate link: its page, and the key of the participant's copy in its fragment.
    link = re.search(r"https://facebookleak\.somi\.nl(/\S*mandate/[^\s#]+)#(\S+)", body)
    assert link is not None

    # The campaign raises its flat fee: what Anna signed stays as it was, new sign-ups get the new amount.
    path.write_text(path.read_text(encoding="utf-8").replace("flat: 50", "flat: 75"), encoding="utf-8")
    later = make_app(
        campaigns_dir=campaign_folder.path,
        database_url=app.extensions["claimsite.db"].engine.url.render_as_string(hide_password=False),
    )
    mandate_page = later.test_client().get(link.group(1), base_url=FACEBOOK).get_data(as_text=True)
    copy = later.test_client().get(copy_url_of(mandate_page), base_url=FACEBOOK).data
    assert open_copy(copy, private_key_of(link.group(2))) == pdf
    with later.app_context(), force_locale("en"):
        loaded = later.extensions["claimsite"].registry.snapshot.campaigns["facebookleak"]
        model = fee_model_for(loaded)
        assert model is not None and model.terms("flat").success_fee.flat_cents == 7500  # type: ignore[union-attr]
        from core.data.db import db_session

        kept = terms_of(db_session().scalars(select(Signup)).one())
        assert kept is not None and kept.success_fee.flat_cents == 5000  # type: ignore[union-attr]
        assert fee_summary(model, kept, None, "en") == [FLAT_SENTENCE]


# -- free ---------------------------------------------------------------------------------------------------------


def test_free_campaign_asks_nothing_and_counts_at_once(make_app: Callable[..., Flask]) -> None:
    app = make_app()  # the shipped campaigns: facebookleak enables "free"
    client = verified_client(app)
    html, data = signing_page(client)
    assert "Taking part is free of charge." in html and 'name="fee_option"' not in html
    signed = client.post("/en/join/sign", data=data, base_url=FACEBOOK)
    assert signed.status_code == 302 and signed.location.endswith("/en/join/done")
    signup = the_signup(app)
    assert (signup.fee_model, signup.fee_option, signup.payment_required) == ("free", None, False)
    assert participants(app) == 1
    assert "Taking part is free of charge." in client.get("/en/join/done", base_url=FACEBOOK).get_data(as_text=True)


# -- a third-party fee model with its own payment provider and page ------------------------------------------------

DONATION = '''\
"""A third-party plugin: a fixed donation before a sign-up counts, paid on its own "fakepay" page."""
from flask import Blueprint, abort, g, redirect, request
from flask_wtf.csrf import generate_csrf
from pydantic import Field
from sqlalchemy import select

from core.data.db import db_session, utcnow
from core.campaigns.schema import FeeModelSettings
from core.money.fees import Euros, FeeModel, FeeTerms, PaymentDue, cents
from core.data.models import Payment, PaymentState
from core.money.payment_providers import Checkout, PaymentProvider
from core.signup.payments import apply_state
from core.plugins import hookimpl

CALLS = []
RETURN_TO = {}
bp = Blueprint("fakepay", __name__)


class DonationSettings(FeeModelSettings):
    amount: Euros = Field(gt=0)


class Donation(FeeModel):
    name = "donation"

    def __init__(self, settings):
        self.settings = settings

    def terms(self, option):
        if option is not None:
            raise ValueError("no options")
        return FeeTerms(model="donation", one_time_cents=cents(self.settings.amount))

    def payment_due(self, terms, language):
        return PaymentDue(terms.one_time_cents, "Donation") if terms.one_time_cents else None


class FakePay(PaymentProvider):
    identifier = "fakepay"
    verbose_name = "Fake pay"

    def is_allowed(self, campaign):
        return "donation" in campaign.enabled_plugins

    def prepare(self, checkout):
        from core.campaigns.addresses import campaign_url

        RETURN_TO[checkout.payment_id] = checkout.success_url
        return Checkout(ref=f"fake_{checkout.payment_id}",
                        url=campaign_url(checkout.campaign, "fakepay.page", payment_id=checkout.payment_id))


@bp.route("/fakepay/<int:payment_id>", methods=["GET", "POST"])
def page(payment_id):
    db = db_session()
    payment = db.scalar(select(Payment).where(Payment.id == payment_id, Payment.provider == "fakepay"))
    if "donation" not in g.campaign.enabled_plugins or payment is None or payment.campaign != g.campaign.slug:
        abort(404)
    if request.method == "POST":
        apply_state(db, g.campaign, payment, PaymentState.PAID, utcnow(), how="fakepay page")
        db.commit()
        return redirect(RETURN_TO[payment_id], 303)
    token = generate_csrf()
    return f'<form method="post"><input type="hidden" name="csrf_token" value="{token}"><button>Pay</button></form>'


@hookimpl
def claimsite_settings_schema():
    return DonationSettings


@hookimpl
def claimsite_fee_model(campaign):
    CALLS.append(campaign.slug)
    return Donation(campaign.settings_for("donation"))


@hookimpl(tryfirst=True)
def claimsite_payment_providers():
    return [FakePay()]


@hookimpl
def claimsite_blueprints():
    return [bp]
'''


@pytest.fixture
def donation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    install_plugin(site_dir, "claimsite_donation", DONATION, name="donation")
    monkeypatch.syspath_prepend(str(site_dir))
    importlib.invalidate_caches()
    yield importlib.import_module("claimsite_donation")
    sys.modules.pop("claimsite_donation", None)


def test_third_party_fee_model_pays_through_its_own_provider(
    donation: ModuleType, campaign_folder: CampaignFolder, make_app: Callable[..., Flask]
) -> None:
    with_fee_model(campaign_folder, {"donation": {"amount": 5}})
    app = make_app(campaigns_dir=campaign_folder.path)
    with app.app_context():
        campaigns = app.extensions["claimsite"].registry.snapshot.campaigns
        order = [p.identifier for p in app.extensions["claimsite"].payment_providers]
        assert order.index("fakepay") < order.index("test")
        assert provider_for(campaigns["facebookleak"]).identifier == "fakepay"  # type: ignore[union-attr]
        assert provider_for(campaigns["tiktokclaim"]).identifier == "test"  # type: ignore[union-attr]

    client = verified_client(app)
    html, data = signing_page(client)
    assert 'name="fee_option"' not in html and "Sign and continue to payment" in html
    assert "A one-time participation fee of €5.00, paid when you join." in html
    signed = client.post("/en/join/sign", data=data, base_url=FACEBOOK)
    assert signed.status_code == 302 and "/en/join/pay/" in signed.location
    signup = the_signup(app)
    assert (signup.fee_model, signup.payment_required) == ("donation", True) and participants(app) == 0

    pay_page = client.get(signed.location, base_url=FACEBOOK).get_data(as_text=True)
    checkout = client.post(signed.location, data={"csrf_token": csrf_in(pay_page)}, base_url=FACEBOOK)
    assert checkout.status_code == 303 and checkout.location.startswith(f"{FACEBOOK}/fakepay/")
    assert client.get(checkout.location.replace(FACEBOOK, TIKTOK)).status_code == 404  # not on other campaigns
    fake_page = client.get(checkout.location).get_data(as_text=True)
    paid = client.post(
        checkout.location, data={"csrf_token": csrf_in(fake_page)}, headers={"Referer": checkout.location}
    )
    assert paid.status_code == 303 and "/join/pay/" in paid.location and paid.location.endswith("/return")
    back = client.get(paid.location, base_url=FACEBOOK)
    assert back.status_code == 302 and back.location.endswith("/en/join/done")
    assert "You have successfully joined" in client.get(back.location, base_url=FACEBOOK).get_data(as_text=True)
    signup = the_signup(app)
    assert signup.paid_at is not None and is_participant(signup) and participants(app) == 1
    with app.app_context():
        from core.data.db import db_session

        [payment] = db_session().scalars(select(Payment)).all()
        assert (payment.provider, payment.state, payment.amount_cents) == ("fakepay", "paid", 500)

        assert donation.CALLS and set(donation.CALLS) == {"facebookleak"}
        donation.CALLS.clear()
        models = {slug: fee_model_for(loaded) for slug, loaded in campaigns.items() if slug != "facebookleak"}
        assert donation.CALLS == []  # never asked for a campaign that does not enable it
        assert models["tiktokclaim"].name == "subscription"  # type: ignore[union-attr]
        assert fee_model_for(campaigns["facebookleak"]).name == "donation"  # type: ignore[union-attr]
        assert donation.CALLS == ["facebookleak"]


# -- core.money.fees ------------------------------------------------------------------------------------------------


def success(option: str, share: str = "20") -> FeeTerms:
    return FeeTerms(
        model="x",
        success_fee=SuccessFeeTerms(
            option=option,
            flat_cents=5000,  # type: ignore[arg-type]
            share_percent=Decimal(share),
        ),
    )


def test_describe_terms_in_english_and_dutch(make_app: Callable[..., Flask]) -> None:
    flat_id = (
        "No cure, no pay: only if the claim succeeds, you pay a fixed fee of %(amount)s out of the "
        "compensation you receive (never more than the compensation itself)."
    )
    share_id = "No cure, no pay: only if the claim succeeds, you pay %(share)s of the compensation you receive."
    cases = [  # terms, the English sentence, the figure in Dutch, the msgid
        (success("flat"), FLAT_SENTENCE, "€\xa050,00", flat_id),
        (success("share", "12.5"), share_id % {"share": "12.5%"}, "12,5%", share_id),
        (
            FeeTerms(model="x", one_time_cents=1750),
            "A one-time participation fee of €17.50, paid when you join.",
            "€\xa017,50",
            "A one-time participation fee of %(amount)s, paid when you join.",
        ),
        (FeeTerms(model="free"), "Taking part is free of charge.", "", "Taking part is free of charge."),
    ]
    with make_app().app_context():
        refund = "If you withdraw within 14 days of paying, you get it back in full."
        for terms, english, figure, msgid in cases:
            with force_locale("en"):
                # A one-time fee is followed by when it comes back (the refund rule of the terms).
                assert describe_terms(terms, "en") == [english] + ([refund] if terms.one_time_cents else [])
            with force_locale("nl"):
                in_dutch = describe_terms(terms, "nl")[0]
            assert figure in in_dutch  # Dutch figures, whatever the state of the catalog
            translated = dutch(msgid)
            if translated:
                assert in_dutch == translated % {"amount": figure, "share": figure}
        both = FeeTerms(model="x", one_time_cents=1750, success_fee=success("share").success_fee)
        with force_locale("en"):
            assert describe_terms(both, "en") == [cases[2][1], refund, share_id % {"share": "20%"}]
        with force_locale("nl"):
            assert describe_terms(both, "nl")[1] == (
                "Trek je je deelname binnen 14 dagen na betaling in, dan krijg je het volledige bedrag terug."
            )


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        ("20", "en", "20%"),
        ("20.00", "nl", "20%"),
        ("12.5", "nl", "12,5%"),
        ("12.50", "en", "12.5%"),
        ("100", "nl", "100%"),
    ],
)
def test_percent_is_written_as_people_write_it(value: str, language: str, expected: str) -> None:
    assert percent(Decimal(value), language) == expected
