"""Settling success fees out of an award (``flask fees settle``) and listing payments (``flask payments list``):
the rounding rule, and both commands over sign-ups made through the real flow, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.cli.fees import Award
from core.data.db import db_session, utcnow
from core.data.models import Signup, Stage
from core.money import settlement
from core.money.fees import FeeModel, FeeTerms, SuccessFeeTerms, cents, euros, fee_for_award
from plugins.no_cure_no_pay import NoCureNoPay, NoCureNoPaySettings
from tests.test_signup import (
    TIKTOK,
    code_of,
    deliver,
    join_fully,
    pay_in_test_mode,
    post_code,
    post_form,
    sign_form,
    signups,
)

SHARE = FeeTerms(
    model="no_cure_no_pay", success_fee=SuccessFeeTerms(option="share", flat_cents=5000, share_percent=Decimal("20"))
)
FLAT = FeeTerms(
    model="no_cure_no_pay", success_fee=SuccessFeeTerms(option="flat", flat_cents=5000, share_percent=Decimal("20"))
)


# -- the rounding rule ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("award", "fee"),
    [
        (1, 0),  # 0.2 cent: rounded down
        (4, 0),  # 0.8 cent: still down, never up
        (5, 1),
        (12347, 2469),  # EUR 123.47 -> 24.694 -> 24.69
        (49999, 9999),  # EUR 499.99 -> 99.998 -> 99.99
        (50000, 10000),
        (0, 0),
    ],
)
def test_a_share_is_rounded_down_to_the_cent(award: int, fee: int) -> None:
    assert fee_for_award(SHARE, award) == fee


@pytest.mark.parametrize(("award", "fee"), [(3000, 3000), (5000, 5000), (50000, 5000), (1, 1), (0, 0)])
def test_a_flat_fee_is_never_more_than_the_award(award: int, fee: int) -> None:
    assert fee_for_award(FLAT, award) == fee


def test_odd_shares_and_terms_without_a_success_fee() -> None:
    eighth = FeeTerms(
        model="x", success_fee=SuccessFeeTerms(option="share", flat_cents=0, share_percent=Decimal("12.5"))
    )
    assert fee_for_award(eighth, 10001) == 1250  # 1250.125
    whole = FeeTerms(model="x", success_fee=SuccessFeeTerms(option="share", flat_cents=0, share_percent=Decimal("100")))
    assert fee_for_award(whole, 49999) == 49999
    assert fee_for_award(FeeTerms(model="free"), 50000) == 0
    assert fee_for_award(FeeTerms(model="subscription", one_time_cents=1750), 50000) == 0  # already paid


def test_a_negative_award_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        fee_for_award(SHARE, -1)
    with pytest.raises(ValueError, match="negative"):
        fee_for_award(FeeTerms(model="free"), -1)


def test_the_fee_models_terms_settle_by_the_same_rule() -> None:
    model = NoCureNoPay(NoCureNoPaySettings(flat=Decimal("50"), share=Decimal("20")))
    assert model.terms("share") == SHARE and model.terms("flat") == FLAT
    assert model.fee_for_award(model.terms("share"), 12347) == 2469
    assert model.fee_for_award(model.terms("flat"), 3000) == 3000
    assert FeeTerms.from_json(SHARE.to_json()) == SHARE  # the snapshot saved with a sign-up reads back the same


def test_cents_and_euros_are_exact() -> None:
    assert cents(Decimal("17.50")) == 1750
    assert cents(Decimal("499.99")) == 49999
    assert cents(Decimal("0.01")) == 1
    assert cents(Decimal("0")) == 0
    assert cents(Decimal("500")) == 50000
    assert euros(1750) == Decimal("17.50") and str(euros(1750)) == "17.50"
    assert str(euros(0)) == "0.00" and str(euros(1)) == "0.01" and str(euros(50000)) == "500.00"
    assert all(cents(euros(n)) == n for n in (0, 1, 9, 10, 99, 100, 12347, 49999, 10**9 + 1))


@pytest.mark.parametrize(
    ("text", "award"),
    [("500", 50000), ("499.99", 49999), ("0", 0), ("0.1", 10), (" 123.47 ", 12347), ("1000000", 100000000), ("-0", 0)],
)
def test_award_input_in_euros(text: str, award: int) -> None:
    assert Award().convert(text, None, None) == award


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "is negative"),
        ("-0.01", "is negative"),
        ("12.345", "more than 2 decimals"),
        ("abc", "not an amount in euros"),
        ("1,50", "use a point for decimals"),
        ("EUR 5", "not an amount in euros"),
        ("5e2", "not an amount in euros"),
        ("nan", "not an amount in euros"),
        ("", "not an amount in euros"),
    ],
)
def test_award_input_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=message):
        Award().convert(text, None, None)


# -- sign-ups through the real flow ----------------------------------------------------------------------------
def sign_up(app: Flask, email: str, fee_option: str) -> tuple[FlaskClient, str]:
    """Join the TikTok claim in English choosing ``fee_option``, up to signing; returns the client and the
    payment page it was sent to (nothing paid yet)."""
    client = app.test_client()
    deliver(app)  # what earlier sign-ups still had queued
    assert post_form(client, "en", email=email).status_code == 302
    [mail] = deliver(app)
    assert post_code(client, code_of(mail), "en").status_code == 302
    signed = client.post("/en/join/sign", data=sign_form(client, "en", fee_option=fee_option), base_url=TIKTOK)
    assert signed.status_code == 302 and "/join/pay/" in signed.location, signed.get_data(as_text=True)
    return client, signed.location


def open_checkout(client: FlaskClient, pay_page: str) -> None:
    """Go to the (test) checkout and leave without paying: an open attempt."""
    html = client.get(pay_page, base_url=TIKTOK).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    checkout = client.post(pay_page, data={"csrf_token": token}, base_url=TIKTOK)
    assert checkout.status_code == 303 and "/payments/test/" in checkout.location


@pytest.fixture
def three_signups(db_app: Flask) -> dict[str, Signup]:
    """On the TikTok claim: one paid participant with the 20% share, one paid with the flat EUR 50, and one who
    signed (flat) but has not paid yet."""
    join_fully(db_app, db_app.test_client(), "en", email="share@example.org")  # sign_form picks the share
    client, pay_page = sign_up(db_app, "flat@example.org", "flat")
    assert pay_in_test_mode(client, pay_page).status_code == 302
    client, pay_page = sign_up(db_app, "later@example.org", "flat")
    open_checkout(client, pay_page)
    deliver(db_app)
    share, flat, unpaid = signups(db_app)
    assert (share.fee_option, share.paid_at is not None) == ("share", True)
    assert (flat.fee_option, flat.paid_at is not None) == ("flat", True)
    assert (unpaid.fee_option, unpaid.paid_at, unpaid.payment_required) == ("flat", None, True)
    return {"share": share, "flat": flat, "unpaid": unpaid}


def flask(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def rows_of(output: str) -> dict[str, list[str]]:
    """The table's rows by reference (the first column)."""
    return {
        line.split()[0]: line.split()[1:]
        for line in output.splitlines()
        if re.match(r"[A-Za-z0-9_-]{12}  ", line) and not line.startswith("REFERENCE")
    }


def test_settle_charges_each_participant_the_option_they_signed(
    db_app: Flask, three_signups: dict[str, Signup], tmp_path: Path
) -> None:
    target = tmp_path / "settlement.csv"
    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "500", "--csv", str(target))
    assert result.exit_code == 0, result.output
    out = result.output
    share, flat, unpaid = (three_signups[k] for k in ("share", "flat", "unpaid"))
    assert "EUR 500.00 per participant" in out
    assert re.search(r"REFERENCE\s+SIGNED\s+OPTION\s+FEE \(EUR\)\s+TO PARTICIPANT \(EUR\)", out)
    rows = rows_of(out)
    assert (
        rows
        == {
            share.token[:12]: [share.signed_at.date().isoformat(), "share", "100.00", "400.00"],  # type: ignore[union-attr]
            flat.token[:12]: [flat.signed_at.date().isoformat(), "flat", "50.00", "450.00"],  # type: ignore[union-attr]
        }
    )
    assert unpaid.token[:12] not in out  # signed, not paid: not a participant yet
    assert "2 participant(s): 1 flat, 1 share" in out
    assert "Total fees: EUR 150.00" in out
    assert "Total to participants: EUR 850.00" in out
    assert "One-time payments received: EUR 35.00" in out
    assert "rounded down to the cent" in out
    assert f"CSV written to {target.resolve()}" in out
    for personal in ("Anna", "Vries", "example.org", "Kerkstraat", "Utrecht", share.token, share.email_hash):
        assert personal not in out

    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "reference,signed_at,fee_model,option,award_eur,fee_eur,participant_eur,one_time_paid_eur"
    )
    written = list(csv.DictReader(text.splitlines()))
    assert len(written) == 2  # no totals row
    assert "Anna" not in text and "example.org" not in text
    expected = {share.token[:12]: ("100.00", "400.00"), flat.token[:12]: ("50.00", "450.00")}
    stored = {s.token[:12]: s for s in signups(db_app)}
    for row in written:
        # A reference that starts with "-" (one token in 64) gets the apostrophe of every spreadsheet-safe cell.
        reference = row["reference"].removeprefix("'")
        assert row["reference"] == (f"'{reference}" if reference.startswith("-") else reference)
        signup = stored[reference]
        assert row["signed_at"] == signup.signed_at.isoformat()  # type: ignore[union-attr]
        assert row["fee_model"] == signup.fee_model == "subscription"
        assert row["option"] == signup.fee_option
        assert row["award_eur"] == "500.00"
        assert (row["fee_eur"], row["participant_eur"]) == expected[reference]
        assert row["one_time_paid_eur"] == "17.50"
    assert not list(tmp_path.glob(".*partial"))


def test_settle_rounds_shares_down_and_caps_flat_fees(db_app: Flask, three_signups: dict[str, Signup]) -> None:
    share, flat = three_signups["share"], three_signups["flat"]
    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "123.47")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.output)
    assert rows[share.token[:12]][1:] == ["share", "24.69", "98.78"]  # 20% of 123.47 = 24.694
    assert rows[flat.token[:12]][1:] == ["flat", "50.00", "73.47"]
    assert "Total fees: EUR 74.69" in result.output and "Total to participants: EUR 172.25" in result.output

    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "30")
    rows = rows_of(result.output)
    assert rows[share.token[:12]][1:] == ["share", "6.00", "24.00"]
    assert rows[flat.token[:12]][1:] == ["flat", "30.00", "0.00"]  # never more than the award

    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "0")
    assert result.exit_code == 0 and "Total fees: EUR 0.00" in result.output


def add_signup(app: Flask, campaign: str, terms: FeeTerms | None, option: str | None = None) -> str:
    """A signed participant stored directly (as an older sign-up would be); returns its token."""
    token = secrets.token_urlsafe(32)
    with app.app_context():
        session = db_session()
        session.add(
            Signup(
                token=token,
                campaign=campaign,
                email_hash=secrets.token_hex(32),
                language="en",
                stage=Stage.SIGNED,
                signed_at=utcnow(),
                fee_model=terms.model if terms else None,
                fee_option=option,
                fee_terms=terms.to_json() if terms else None,
                payment_required=False,
            )
        )
        session.commit()
    return token


def test_settle_uses_the_terms_as_signed_not_the_campaigns_current_ones(db_app: Flask) -> None:
    # signed when the TikTok claim asked 12.5% (it asks 20% now), and one from before it had a fee model
    fee = SuccessFeeTerms(option="share", flat_cents=5000, share_percent=Decimal("12.5"))
    older = FeeTerms(model="subscription", one_time_cents=1750, success_fee=fee)
    earlier = add_signup(db_app, "tiktokclaim", older, "share")
    feeless = add_signup(db_app, "tiktokclaim", None)
    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "100.01")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.output)
    assert rows[earlier[:12]][1:] == ["share", "12.50", "87.51"]  # 12.50125 rounded down
    assert rows[feeless[:12]][1:] == ["none", "0.00", "100.01"]
    assert "2 participant(s): 1 none, 1 share" in result.output
    assert "One-time payments received: EUR 0.00" in result.output  # none went through a payment here


def test_settle_a_campaign_no_longer_served_from_its_signed_terms(db_app: Flask) -> None:
    gone = add_signup(db_app, "oldclaim", FLAT, "flat")
    result = flask(db_app, "fees", "settle", "oldclaim", "--award", "20")
    assert result.exit_code == 0, result.output
    assert rows_of(result.output)[gone[:12]][1:] == ["flat", "20.00", "0.00"]


class OwnRule(FeeModel):
    """A (third-party) fee model that settles its own way: a fixed EUR 1.00 more than the usual rule."""

    name = "subscription"
    extra = 100

    def terms(self, option: str | None) -> FeeTerms:
        raise NotImplementedError

    def fee_for_award(self, terms: FeeTerms, award_cents: int) -> int:
        return fee_for_award(terms, award_cents) + self.extra


def test_settle_asks_the_campaigns_fee_model_for_its_own_terms(db_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settlement, "fee_model_for", lambda loaded: OwnRule())
    own = add_signup(db_app, "tiktokclaim", SHARE.model_copy(update={"model": "subscription"}), "share")
    other = add_signup(db_app, "tiktokclaim", SHARE, "share")  # signed under another model: the usual rule
    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "10")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.output)
    assert rows[own[:12]][1:] == ["share", "3.00", "7.00"] and rows[other[:12]][1:] == ["share", "2.00", "8.00"]
    assert "Fees as the fee model 'subscription' computes them." in result.output

    monkeypatch.setattr(OwnRule, "extra", 10_000)  # more than the award: refused, not printed as a debt
    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "10")
    assert result.exit_code != 0 and "a fee must lie between 0 and the award" in result.output


def test_settle_refuses_terms_that_would_make_a_negative_fee(db_app: Flask, tmp_path: Path) -> None:
    # Terms that validation refuses, saved by hand (model_construct skips the checks), say.
    fee = SuccessFeeTerms.model_construct(option="share", flat_cents=5000, share_percent=Decimal("-20"))
    add_signup(
        db_app,
        "tiktokclaim",
        FeeTerms.model_construct(model="subscription", currency="EUR", one_time_cents=None, success_fee=fee),
        "share",
    )
    target = tmp_path / "out.csv"
    result = flask(db_app, "fees", "settle", "tiktokclaim", "--award", "10", "--csv", str(target))
    assert result.exit_code != 0 and "are not valid" in result.output and "greater than 0" in result.output
    assert not target.exists() and not list(tmp_path.glob(".*partial"))  # no half settlement left behind


def test_settle_with_no_participants(db_app: Flask) -> None:
    result = flask(db_app, "fees", "settle", "facebookleak", "--award", "500")
    assert result.exit_code == 0, result.output
    assert "0 participant(s)" in result.output and "Total fees: EUR 0.00" in result.output


@pytest.mark.parametrize(
    ("award", "message"),
    [
        ("-5", "is negative"),
        ("499.999", "more than 2 decimals"),
        ("five hundred", "not an amount in euros"),
        ("1,5", "use a point for decimals"),
    ],
)
def test_settle_refuses_a_bad_award_clearly(make_app: Any, award: str, message: str, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = flask(make_app(), "fees", "settle", "tiktokclaim", "--award", award, "--csv", str(target))
    assert result.exit_code != 0
    assert "Invalid value for '--award'" in result.output and message in result.output
    assert "Traceback" not in result.output and not target.exists()


def test_settle_needs_an_award(make_app: Any) -> None:
    result = flask(make_app(), "fees", "settle", "tiktokclaim")
    assert result.exit_code != 0 and "Missing option '--award'" in result.output


@pytest.mark.databases("sqlite")
def test_unknown_campaign_lists_the_known_ones(db_app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = flask(db_app, "fees", "settle", "tiktok", "--award", "500", "--csv", str(target))
    assert result.exit_code != 0
    assert "unknown campaign 'tiktok'" in result.output
    assert "tiktokclaim" in result.output and "zoomclaim" in result.output
    assert not target.exists() and not list(tmp_path.glob(".*partial"))
    result = flask(db_app, "payments", "list", "tiktok")
    assert result.exit_code != 0 and "known campaigns: " in result.output


@pytest.mark.databases("sqlite")
def test_settle_reports_a_csv_it_cannot_write(db_app: Flask, tmp_path: Path) -> None:
    result = flask(
        db_app, "fees", "settle", "tiktokclaim", "--award", "5", "--csv", str(tmp_path / "missing" / "out.csv")
    )
    assert result.exit_code != 0 and "cannot write" in result.output and "Traceback" not in result.output


# -- flask payments list -------------------------------------------------------------------------------------
def test_payments_list_shows_each_attempt_and_who_still_has_to_pay(
    db_app: Flask, three_signups: dict[str, Signup]
) -> None:
    result = flask(db_app, "payments", "list", "tiktokclaim")
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(
        r"REFERENCE\s+ATTEMPT\s+PROVIDER\s+AMOUNT\s+STATE\s+CREATED \(UTC\)\s+PAID AT \(UTC\)\s+"
        r"PROVIDER REF",
        out,
    )
    rows = rows_of(out)
    for key in ("share", "flat"):
        row = rows[three_signups[key].token[:12]]
        assert row[:5] == ["1", "test", "EUR", "17.50", "paid"]
        assert re.fullmatch(r"test_\d+", row[-1])  # the test provider's reference
        assert len(row) == 10  # created and paid: a date and a time each
    row = rows[three_signups["unpaid"].token[:12]]
    assert row[:5] == ["1", "test", "EUR", "17.50", "open"] and row[7] == "-"  # not paid
    assert "3 attempt(s) shown" in out
    assert "Attempts per state: created 0, open 1, processing 0, paid 2, failed 0, cancelled 0, expired 0" in out
    assert "Sign-ups waiting for payment (signed, not paid): 1" in out
    assert "Anna" not in out and "example.org" not in out

    result = flask(db_app, "payments", "list", "tiktokclaim", "--state", "OPEN")
    assert result.exit_code == 0, result.output
    assert list(rows_of(result.output)) == [three_signups["unpaid"].token[:12]]
    assert "1 attempt(s) shown (state open)" in result.output


def test_payments_list_refuses_an_unknown_state(make_app: Any) -> None:
    result = flask(make_app(), "payments", "list", "tiktokclaim", "--state", "refunded")
    assert result.exit_code != 0 and "Invalid value for '--state'" in result.output
    for state in ("created", "open", "processing", "paid", "failed", "cancelled", "expired"):
        assert state in result.output


def test_payments_list_of_a_campaign_without_payments(db_app: Flask) -> None:
    result = flask(db_app, "payments", "list", "facebookleak")
    assert result.exit_code == 0, result.output
    assert "0 attempt(s) shown" in result.output and "waiting for payment (signed, not paid): 0" in result.output


def test_commands_explain_themselves(make_app: Any) -> None:
    app = make_app()
    for args in (("fees", "settle", "--help"), ("payments", "list", "--help")):
        result = flask(app, *args)
        assert result.exit_code == 0 and "no personal data" in " ".join(result.output.split())


def test_amounts_finer_than_a_cent_are_refused_and_cells_are_spreadsheet_safe() -> None:
    from core.cli.fees import spreadsheet_safe

    assert cents(Decimal("17.50")) == 1750
    for amount in ("0.005", "17.505"):
        with pytest.raises(ValueError, match="whole number of cents"):
            cents(Decimal(amount))
    assert spreadsheet_safe("-abc") == "'-abc" and spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet_safe("a-b") == "a-b"
