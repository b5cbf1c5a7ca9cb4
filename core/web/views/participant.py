"""The participant's own page, ``/my`` on every campaign: log in with a link by e-mail, see every sign-up of that
address (on any campaign), withdraw, ask for erasure.

Logging in proves the address: the browser's session of this campaign (a cookie no other campaign accepts, see
:mod:`core.web.sessions`) then holds the address's keyed hash for an hour, and no key: the server cannot open the
participant's copy of a mandate, so this page does not offer it (the confirmation mail has it attached, and its
link opens that copy in the browser: :mod:`core.signup.mandate_copy`). Nothing on these pages shows whether an
address is known before that. Withdrawing and erasing each take a confirmation page and a POST with CSRF.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField
from wtforms.validators import Email, InputRequired, Length

from core.campaigns import LoadedCampaign
from core.campaigns.addresses import campaign_url
from core.campaigns.naming import name_in_sentence
from core.campaigns.schedule import Schedule
from core.data import identity_proofs, vault_files, vault_keys
from core.data.contacts import contact_address
from core.data.db import db_session, utcnow
from core.data.hashing import email_hash
from core.data.models import CompanyRequest, IdentityProof, Payment, PaymentState, RequestMember, Signup, Stage
from core.data_requests import choices, named_companies
from core.data_requests.request_log import RequestStatus, status_of, today_in_nl
from core.data_requests.settings import data_request_of
from core.money.fees import fee_model_for, fee_summary, terms_of
from core.signup import withdrawal
from core.signup.counters import OwnPlace, own_place, public_counter_for
from core.signup.fields import NotALookalike
from core.signup.links import invitation_link_token, pay_link_token
from core.signup.login import LOGIN_LINK_VALID, LoginCheck, check_login_link, queue_login_mail, use_login_link
from core.signup.payments import latest
from core.site import current_campaign, site
from core.web.identity_upload import identity_page, take_upload
from core.web.participant_session import LOGGED_IN_SECONDS, SESSION_KEY, logged_in
from core.web.rendering import render_page
from core.web.request_campaign import request_time
from core.web.requests import csrf_ok, current_visit, limit_per_ip
from core.web.views.localized import localized_blueprint, localized_route

bp = localized_blueprint("participant", __name__)


@bp.after_request
def _never_stored(response: Response) -> Response:
    # These pages show what someone joined: no browser or proxy cache may keep them.
    response.headers["Cache-Control"] = "private, no-store"
    return response


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        [
            InputRequired(message=_l("Please enter your e-mail address.")),
            Length(max=254),
            Email(message=_l("This is not a valid e-mail address; please check it."), check_deliverability=False),
            NotALookalike(),
        ],
        description=_l("The address you joined with. We send a login link to it."),
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )


@dataclass(frozen=True)
class Entry:
    """One sign-up as the participant's page shows it."""

    signup: Signup
    campaign_name: str
    campaign_in_sentence: str  # the name as a sentence says it (core.campaigns.naming)
    campaign_link: str | None  # None when that campaign is not served (its file is broken)
    fee_lines: list[str]
    payment: Payment | None
    pay_url: str | None
    join_url: str | None = None  # a pre-registration whose campaign opened: its invitation's page
    data_request: DataRequestEntry | None = None  # a data request's companies and ID copy


@dataclass(frozen=True)
class CompanyLine:
    """One company a participant chose, and where their request to it stands: made in a round (``status``), or
    waiting for the next round (``next_round``: its day, None when no day is set yet)."""

    name: str
    status: RequestStatus | None
    round_day: dt.date | None  # the day of the round a request was made in, or of the next round


@dataclass(frozen=True)
class DataRequestEntry:
    """What the participant's page shows of a data request: the companies chosen (by the names people know them by,
    and one they named themselves, whose name is sealed) with where each request stands, and their ID copy. A
    named company that staff matched to one of the catalogue is among ``companies``, like any other."""

    companies: list[CompanyLine]
    named_other: bool  # they named a company that waits for staff to review it
    asks_identity: bool
    proof: IdentityProof | None
    kept_days: int
    named_declined: str | None = None  # they named a company that gets no request: why, as mailed to them


def _company_lines(loaded: LoadedCampaign, signup: Signup, chosen: set[str]) -> list[CompanyLine]:
    settings = data_request_of(loaded)
    assert settings is not None
    db = db_session()
    today = today_in_nl()
    requests = {
        request.company: request
        for request in db.scalars(
            select(CompanyRequest)
            .join(RequestMember, RequestMember.company_request_id == CompanyRequest.id)
            .where(RequestMember.signup_id == signup.id)
        )
    }
    rounds = {round_.id: round_.submit_on for round_ in settings.rounds}
    next_round = next((round_.submit_on for round_ in settings.rounds if round_.submit_on >= today), None)
    lines = []
    catalogue = named_companies.catalogue_of(loaded)  # a named company matched to one the campaign does not offer
    for slug in [*settings.companies, *sorted(chosen - set(settings.companies) - {choices.OTHER})]:
        if slug not in chosen:
            continue
        company = loaded.companies.get(slug) or catalogue.get(slug)
        request = requests.get(slug)
        status = status_of(request, company.country if company else None, today) if request else None
        day = rounds.get(request.round_id) if request else next_round
        lines.append(CompanyLine(company.shown_name if company else slug, status, day))
    return lines


def _data_request_entry(loaded: LoadedCampaign, signup: Signup) -> DataRequestEntry | None:
    settings = data_request_of(loaded)
    if settings is None or signup.stage != Stage.SIGNED:
        return None
    db = db_session()
    chosen = set(choices.chosen_slugs(db, signup))
    if not chosen and len(settings.companies) == 1:  # signed before the campaign asked (core.data_requests.rounds)
        chosen = set(settings.companies)
    named = named_companies.review_of(db, signup)
    return DataRequestEntry(
        _company_lines(loaded, signup, chosen),
        named is not None and named.review is None,
        settings.identity_proof,
        identity_proofs.latest(db, signup) if settings.identity_proof else None,
        settings.proof_kept_days,
        named.review_reason if named is not None and named.review == named_companies.Review.DECLINED else None,
    )


def _entry(signup: Signup, language: str) -> Entry:
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    if loaded is None:
        return Entry(signup, signup.campaign, _("the ‘%(name)s’ campaign", name=signup.campaign), None, [], None, None)
    c = loaded.campaign
    shown = language if language in c.languages else None
    terms = terms_of(signup)
    # What was chosen; whether it was paid has a line of its own on the page.
    fee_lines = fee_summary(fee_model_for(loaded), terms, None, language) if terms else []
    payment = latest(db_session(), signup) if signup.payment_required else None
    pay_url = None
    may_pay = Schedule.of(c).may_finish(signup.verified_at, request_time())  # core.web.join_closed says why not
    if signup.payment_required and signup.paid_at is None and withdrawal.can_withdraw(signup) and may_pay:
        pay_url = campaign_url(loaded, "payments.pay", language=shown, token=pay_link_token(loaded.slug, signup.token))
    join_url = None
    if signup.stage == Stage.INVITED and Schedule.of(c).may_finish(signup.verified_at, request_time()):
        join_url = campaign_url(
            loaded, "signup.invitation", language=shown, token=invitation_link_token(loaded.slug, signup.token)
        )
    return Entry(
        signup,
        c.name.get_text(language, c.default_language),
        name_in_sentence(c, language, _),
        campaign_url(loaded, language=shown),
        fee_lines,
        payment,
        pay_url,
        join_url,
        _data_request_entry(loaded, signup),
    )


def _own_place(signups: Sequence[Signup]) -> OwnPlace | None:
    """Where the logged-in participant stands in this campaign's public count (core.signup.counters.own_place), or
    None: not a participant here, or the campaign has no counter. The footer then says it to her, honestly."""
    loaded = current_campaign()
    counter = public_counter_for(site().plugins, loaded)
    here = [s for s in signups if s.campaign == loaded.slug]
    if counter is None or not here:
        return None
    return own_place(counter, here[0])


def _own(hashed: str, reference: str) -> Signup:
    """The sign-up ``reference`` if it belongs to the address that logged in, else 404 (someone else's or erased)."""
    signup = db_session().scalar(
        select(Signup).where(Signup.token == reference, Signup.email_hash == hashed, Signup.erased_at.is_(None))
    )
    if signup is None:
        abort(404)
    return signup


@localized_route(bp, "/my", methods=["GET", "POST"])
def page() -> BaseResponse:
    """Logged in: the list of sign-ups. Otherwise: the form that mails a login link."""
    hashed = logged_in()
    if hashed is not None and request.method == "GET":
        signups = (
            db_session()
            .scalars(select(Signup).where(Signup.email_hash == hashed).order_by(Signup.created_at, Signup.id))
            .all()
        )
        return render_page(
            "participant/page.html",
            cache=False,
            entries=[_entry(s, g.lang) for s in signups],
            states=PaymentState,
            own_place=_own_place(signups),
        )
    form = LoginForm()
    if form.validate_on_submit():
        limit_per_ip("login-form-ip")
        address = form.email.data or ""
        # Counted for every address, known or not, so the limit tells nothing either; over it, nothing is sent.
        # Per address and network, and per address alone in a short window: see core.ratelimits.RULES.
        if site().limits.hit_mail("login-mail", email_hash(site().hash_key, address), current_visit().network):
            db = db_session()
            queue_login_mail(db, current_campaign(), address, g.lang)
            db.commit()
        return redirect(url_for("participant.sent"))
    return render_page("participant/ask.html", cache=False, status=200, form=form)


@localized_route(bp, "/my/sent")
def sent() -> BaseResponse:
    """The same answer for every address."""
    return render_page("participant/sent.html", cache=False, minutes_valid=int(LOGIN_LINK_VALID.total_seconds() // 60))


def _refused(result: LoginCheck) -> BaseResponse:
    flash(
        {
            LoginCheck.USED: _("This login link was already used. Each link works once: ask for a new one below."),
            LoginCheck.EXPIRED: _("This login link has expired. Ask for a new one below."),
            LoginCheck.INVALID: _("This login link is not valid here. Ask for a new one below."),
        }[result],
        "error",
    )
    return redirect(url_for("participant.page"))


@localized_route(bp, "/my/login/<token>", methods=["GET", "POST"])
def login(token: str) -> BaseResponse:
    """The link from the mail: a page with a button (a GET never uses the link up, so a mail program that opens
    links to check them does not spend it); the button logs in."""
    loaded = current_campaign()
    limit_per_ip("login-link-ip")
    db = db_session()
    secret_key: str = current_app.secret_key  # type: ignore[assignment]
    if request.method == "GET":
        result, _link = check_login_link(db, secret_key, loaded.slug, token, utcnow())
        if result is not LoginCheck.OK:
            return _refused(result)
        return render_page("participant/login.html", cache=False, token=token)
    if not csrf_ok():
        return render_page(
            "participant/login.html",
            cache=False,
            status=400,
            token=token,
            message=_("The page was open too long; please try again."),
        )
    result, proven = use_login_link(db, secret_key, loaded.slug, token, utcnow())
    db.commit()
    if result is not LoginCheck.OK or proven is None:
        return _refused(result)
    session.pop("signup", None)  # a sign-up in progress in this browser may be someone else's
    session.pop("verified", None)
    session[SESSION_KEY] = [proven.email_hash, int(time.time()) + LOGGED_IN_SECONDS]
    return redirect(url_for("participant.page"))


@localized_route(bp, "/my/logout", methods=["POST"])
def logout() -> BaseResponse:
    if csrf_ok():
        session.pop(SESSION_KEY, None)
    return redirect(url_for("participant.page"))


def _confirm(action: str, reference: str) -> BaseResponse:
    hashed = logged_in()
    if hashed is None:
        flash(_("Please log in again: a login lasts an hour."), "error")
        return redirect(url_for("participant.page"))
    signup = _own(hashed, reference)
    if action == "withdraw" and not withdrawal.can_withdraw(signup):
        return redirect(url_for("participant.page"))
    entry = _entry(signup, g.lang)

    def confirmation_page(status: int = 200, message: str | None = None) -> BaseResponse:
        # What withdrawing now would mean for the fee, said before the participant confirms (an erasure withdraws
        # too), and whether a confirmation will be mailed.
        signed = signup.stage == Stage.SIGNED
        fee_lines = withdrawal.fee_on_withdrawal(signup, request_time(), g.lang).lines if signed else []
        mails = action == "withdraw" and contact_address(db_session(), signup) is not None
        return render_page(
            "participant/confirm.html",
            cache=False,
            status=status,
            action=action,
            entry=entry,
            fee_lines=fee_lines,
            mails=mails,
            vault_files=vault_files.count_of_signup(db_session(), signup.id),  # they go too: said before, to save them
            vault_goes=action == "erase" and _erasing_removes_the_vault(signup),
            message=message,
        )

    if request.method == "GET":
        return confirmation_page()
    if not csrf_ok():
        return confirmation_page(400, _("The page was open too long; please try again."))
    db = db_session()
    if action == "withdraw":
        done = withdrawal.withdraw(db, signup, current_visit())
        flash(
            _(
                "You have withdrawn from %(campaign)s. We no longer act for you in it.",
                campaign=entry.campaign_in_sentence,
            ),
            "ok",
        )
    else:
        done = withdrawal.erase(db, signup, current_visit())
        flash(_("Your personal data for %(campaign)s has been erased.", campaign=entry.campaign_in_sentence), "ok")
    for line in done.fee.lines if done else []:
        flash(line, "ok")
    if done and done.files_removed:
        flash(
            ngettext(
                "The file that came into your vault for this campaign has been removed from it.",
                "The %(num)s files that came into your vault for this campaign have been removed from it.",
                done.files_removed,
            ),
            "ok",
        )
    if done and done.mailed:
        flash(_("We have sent a confirmation to your e-mail address."), "ok")
    db.commit()
    site().counters.forget(signup.campaign)
    return redirect(url_for("participant.page"))


def _erasing_removes_the_vault(signup: Signup) -> bool:
    """Whether erasing ``signup`` removes its address's vault: it has one, and no other sign-up."""
    db = db_session()
    others = db.scalar(select(Signup.id).where(Signup.email_hash == signup.email_hash, Signup.id != signup.id).limit(1))
    return others is None and vault_keys.vault_key_of(db, signup.email_hash) is not None


@localized_route(bp, "/my/identity/<reference>", methods=["GET", "POST"])
def identity(reference: str) -> BaseResponse:
    """Upload a (new) copy of an ID document for one sign-up of a data request: after a rejection, or one not sent
    in the join flow."""
    hashed = logged_in()
    if hashed is None:
        flash(_("Please log in again: a login lasts an hour."), "error")
        return redirect(url_for("participant.page"))
    signup = _own(hashed, reference)
    loaded = site().registry.snapshot.campaigns.get(signup.campaign)
    settings = data_request_of(loaded) if loaded is not None else None
    if settings is None or not settings.identity_proof or signup.stage != Stage.SIGNED or signup.withdrawn_at:
        abort(404)
    db = db_session()
    error = None
    if request.method == "POST":
        limit_per_ip("identity-upload-ip")
        error = take_upload(db, signup)
        if error is None:
            return redirect(url_for("participant.page"))
    action = url_for("participant.identity", reference=reference)
    return identity_page(db, signup, error, action, settings.proof_kept_days)


@localized_route(bp, "/my/withdraw/<reference>", methods=["GET", "POST"])
def withdraw(reference: str) -> BaseResponse:
    """Withdraw the mandate of one sign-up (GDPR Art. 7(3)): a confirmation page, then the POST."""
    return _confirm("withdraw", reference)


@localized_route(bp, "/my/erase/<reference>", methods=["GET", "POST"])
def erase(reference: str) -> BaseResponse:
    """Erase the personal data of one sign-up (GDPR Art. 17): a confirmation page, then the POST."""
    return _confirm("erase", reference)
