"""Issue 17, item 1: what joining costs is stated before anyone commits, on the landing page beside the call to
action and on the join form, from the campaign's fee model; the progress indicator shows every step from the first
(payment included when the fee model asks one); and the amount stated is the amount charged at checkout."""

from __future__ import annotations

import re

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select

from core.data.models import Payment
from core.money.fees import FeeTerms, euros, summarize_costs
from tests.test_pages import visible_text
from tests.test_signup import TIKTOK, join_fully

FACEBOOK = "https://facebookleak.somi.nl"
TIKTOK_COSTS = {
    "en": "Joining costs €17.50, paid once when you join, and refunded in full if you withdraw within 14 days.",
    "nl": "Meedoen kost €\u00a017,50, eenmalig bij aanmelding; trek je je binnen 14 dagen terug, dan krijg je het "
    "volledig terug.",
}
# facebookleak addresses the visitor with "u" (address_form: u).
FREE = {"en": "Joining is free: it costs you nothing.", "nl": "Meedoen is gratis: het kost u niets."}


def costs_block(html: str) -> str:
    """The visible text of the cost statement (``macros/ui.html`` ``costs``), or "" when the page has none."""
    found = re.search(r'<div class="costs" data-testid="costs">(.*?)</div>', html, re.S)
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else ""


def cta_of(html: str) -> str:
    found = re.search(r'<div class="cta cta--[\w-]+" id="join">(.*?)\n</div>', html, re.S)
    assert found, "no call to action on the page"
    return found.group(1)


def progress_steps(html: str) -> list[str]:
    found = re.search(r'<ol class="progress"[^>]*>(.*?)</ol>', html, re.S)
    assert found, "no progress indicator"
    return [" ".join(visible_text(step).split()) for step in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1))]


def test_the_landing_page_states_the_one_time_fee_beside_the_call_to_action(shipped_app: Flask) -> None:
    client = shipped_app.test_client()
    for language, prefix in (("en", "/en/"), ("nl", "/")):
        html = client.get(prefix, base_url=TIKTOK).get_data(as_text=True)
        assert TIKTOK_COSTS[language] in costs_block(cta_of(html)), costs_block(html)


def test_a_free_campaign_says_it_is_free_on_the_landing_page_and_the_join_form(shipped_app: Flask) -> None:
    client = shipped_app.test_client()
    for language, prefix in (("en", "/en/"), ("nl", "/")):
        landing = client.get(prefix, base_url=FACEBOOK).get_data(as_text=True)
        assert (
            costs_block(cta_of(landing))
            == f"{'What joining costs:' if language == 'en' else 'Wat meedoen kost:'} {FREE[language]}"
        )
        form = client.get(f"{prefix}join", base_url=FACEBOOK).get_data(as_text=True)
        assert FREE[language] in costs_block(form)


def test_the_join_form_states_the_cost_and_shows_every_step_with_the_payment(shipped_app: Flask) -> None:
    client = shipped_app.test_client()
    form = client.get("/en/join", base_url=TIKTOK).get_data(as_text=True)
    assert TIKTOK_COSTS["en"] in costs_block(form)
    assert progress_steps(form) == ["Your details", "Verify e-mail", "Sign", "Pay", "Done"]
    assert 'aria-current="step">Your details<' in form


def test_a_free_campaign_shows_every_step_without_a_payment(shipped_app: Flask) -> None:
    form = shipped_app.test_client().get("/en/join", base_url=FACEBOOK).get_data(as_text=True)
    assert progress_steps(form) == ["Your details", "Verify e-mail", "Companies", "Sign", "Done"]


def test_the_no_cure_no_pay_choice_is_summed_up_with_both_options(shipped_app: Flask) -> None:
    from core.money.fees import FeeModel, FeeOption, SuccessFeeTerms

    class Choice(FeeModel):
        name = "choice"

        def options(self, language: str) -> list[FeeOption]:
            return [FeeOption("flat", "flat"), FeeOption("share", "share")]

        def terms(self, option: str | None) -> FeeTerms:
            fee = SuccessFeeTerms(option=option or "flat", flat_cents=5000, share_percent=20)  # type: ignore[arg-type]
            return FeeTerms(model=self.name, success_fee=fee)

    with shipped_app.test_request_context(), force_locale("en"):
        assert Choice().cost_summary("en") == [
            "No cure, no pay: only if we win, €50.00 or 20% of your compensation (you choose)."
        ]
        assert summarize_costs(None, "en") == [FREE["en"]]
    with shipped_app.test_request_context(), force_locale("nl"):
        assert Choice().cost_summary("nl")[0].startswith("No cure, no pay: alleen als we winnen, €")


def test_the_amount_on_the_landing_page_is_the_amount_charged_at_checkout(db_app: Flask) -> None:
    client = db_app.test_client()
    landing = client.get("/en/", base_url=TIKTOK).get_data(as_text=True)
    stated = re.search(r"Joining costs €(\d+\.\d\d),", costs_block(landing))
    assert stated, costs_block(landing)
    signup = join_fully(db_app, client, "en")  # pays through the test-mode provider
    with db_app.app_context():
        from core.data.db import db_session

        [payment] = db_session().scalars(select(Payment).where(Payment.signup_id == signup.id))
        assert signup.paid_at is not None and str(euros(payment.amount_cents)) == stated.group(1)
