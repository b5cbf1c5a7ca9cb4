"""Joining a campaign: form -> e-mail code (or link) -> agreements and signature -> done, and the page of the
participant's copy of their mandate (opened in the browser with the key in its link's fragment).

While the campaign takes pre-registrations the flow stops after the code: the done page says the interest is
noted and nothing is signed. Once it opens, the invitation link (or a new code, or the browser that proved the
address before) brings the person to the agreements with their earlier answers (core.signup.flow).

The browser's session (a cookie of this campaign only) remembers which sign-up it started and whether it proved
the e-mail address; a sign-up can only be continued from a browser that entered the code or pressed the button
of the link. It also holds a random id of the browser, so answers sent again for a known address count only when
that address is proven in the browser that sent them. It never holds a key (a cookie is signed, not encrypted).
No page after the form may be kept by a cache.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse

from core.breach import funnel
from core.breach.check import check_in_app
from core.breach.datasets import breach_settings_of
from core.breach.phones import shown
from core.campaigns import LoadedCampaign
from core.campaigns.schedule import moment_words
from core.data import identity_proofs, personal_data
from core.data.db import db_session, utcnow
from core.data.faults import when_database_away
from core.data.models import Signup, Stage, is_participant
from core.data_requests import choices
from core.data_requests.choosing import ChoiceForm, ChoiceProblem, read_choice
from core.data_requests.settings import data_request_of
from core.money.fees import FeeModel, fee_model_for, fee_summary, terms_of
from core.phones.verification import unlocked_number
from core.signup import flow
from core.signup.agreements import AgreementText, agreement_text
from core.signup.breach_evidence import carried_check, record_check
from core.signup.codes import CODE_VALID, MAX_ATTEMPTS, CodeCheck, seconds_until_resend
from core.signup.fields import build_address_form, build_form
from core.signup.links import (
    mandate_link_token,
    pay_link_token,
    read_invitation_link_token,
    read_mandate_link_token,
)
from core.signup.mandate_copy import with_key
from core.signup.signature import SignatureProblem
from core.signup.signing import SigningForm, SigningProblem, signing_problems
from core.site import current_campaign, site
from core.web.identity_upload import identity_page, take_upload
from core.web.join_closed import closed_page, refusal
from core.web.rendering import render_page
from core.web.request_campaign import campaign_status
from core.web.requests import csrf_ok, current_visit, limit_per_ip, phone_check
from core.web.views.localized import localized_blueprint, localized_route

bp = localized_blueprint("signup", __name__)


@bp.after_request
def _never_stored(response: Response) -> Response:
    # Every page after the form shows where a sign-up stands (the done page links the mandate): no browser or proxy
    # cache may keep them. The form itself may stay in the browser's history, so Back keeps what was typed.
    if request.endpoint != "signup.start" or request.method != "GET":
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _keys() -> flow.Keys:
    return flow.Keys(current_app.secret_key, site().hash_key)  # type: ignore[arg-type]


def _joinable() -> LoadedCampaign:
    loaded = current_campaign()
    if loaded.campaign.signup is None and campaign_status() != "closed":
        abort(404)
    return loaded


BROWSER_KEY = "browser"
# The keyed fingerprint of the answers this browser sent last (personal_data.answers_digest): the verify page shows
# the address of those answers only, never one that another browser sent for the same sign-up.
TYPED_KEY = "typed"


def _browser() -> str:
    """This browser's random id, kept in its session (made on first use)."""
    value = session.get(BROWSER_KEY)
    if not isinstance(value, str):
        value = session[BROWSER_KEY] = secrets.token_urlsafe(16)
    return value


def _tell_outcome(outcome: str | None) -> None:
    """After the address was proven: say when answers sent again from another browser were not used."""
    if outcome == "other-browser":
        flash(
            _(
                "Details sent again for this address from another browser were not used. To change your details, "
                "send the form again from this browser."
            )
        )


def _started() -> Signup | None:
    return flow.find(db_session(), current_campaign().slug, session.get("signup"))


def _proven() -> Signup | None:
    """The sign-up whose e-mail address this browser proved, if any."""
    signup = _started()
    if signup is None or session.get("verified") != signup.token:
        return None
    return signup


def _next_step(signup: Signup) -> BaseResponse:
    if signup.stage == Stage.SIGNED or signup.stage in flow.PRE_REGISTERED:
        return redirect(url_for("signup.done"))
    return redirect(url_for("signup.sign"))


def _after_proof(signup: Signup, how: str) -> None:
    """This browser proved ``signup``'s address (``how``): during pre-registration the interest is noted (and its
    mail queued); after opening, a pre-registration goes on to sign (:func:`core.signup.flow.after_proof`)."""
    loaded = current_campaign()
    opens = moment_words(loaded.campaign.opens, loaded.campaign.timezone, signup.language)
    pre_registration = campaign_status() == "pre-registration"
    flow.after_proof(db_session(), loaded, signup, pre_registration, current_visit(), how, opens)


@localized_route(bp, "/join", methods=["GET", "POST"])
def start() -> BaseResponse:
    loaded = _joinable()
    if loaded.campaign.signup is None:
        return closed_page()
    refused = refusal(None)  # checked before the form is read: a form sent after closing gets the closed page
    if refused is not None:
        return refused
    # (read only to show the form: a sent form must reach flow.start with no transaction open)
    form = build_form(loaded, g.lang, data=_checked_number() if request.method == "GET" else None)
    if form.validate_on_submit():
        when_database_away(
            lambda: render_page(
                "signup/form.html",
                cache=False,
                status=503,
                form=form,
                notice=_(
                    "We could not save your details just now because of a fault on our side. Everything you "
                    "typed is still here: please press Continue again in a minute."
                ),
            )
        )
        limit_per_ip("signup-form-ip")
        db = db_session()
        answers = form.answers()
        started = flow.start(db, loaded, g.lang, answers, _keys(), site().limits, current_visit(), _browser())
        _carry_breach_check(loaded, started, answers)
        _now_waiting_for(started, answers)
        return redirect(url_for("signup.verify"))
    return render_page("signup/form.html", cache=False, form=form)


def _checked_number() -> dict[str, str]:
    """The join form's answers filled in beforehand: the phone number this browser checked on the campaign's data
    breach check (core.web.views.breach_check), written as people write it."""
    check = phone_check()
    number = unlocked_number(check) if check is not None else None
    if number is None:
        return {}
    return {"phone": shown(number)}


def _carry_breach_check(loaded: LoadedCampaign, started: flow.Started, answers: dict[str, str]) -> None:
    """A form sent with the number this browser proved on the data breach check: the check joins the sign-up's
    evidence (core.signup.breach_evidence) and counts as a sign-up in the check's funnel."""
    check = phone_check()
    settings = breach_settings_of(loaded)
    if settings is None or check is None or not carried_check(check, answers):
        return
    db = db_session()
    signup = flow.find(db, loaded.slug, started.token)
    if signup is None:
        return
    found = check_in_app(settings.datasets, answers["phone"])
    record_check(db, signup, check, found, current_visit())
    funnel.count(site().limits, loaded.slug, utcnow(), joined=1)
    db.commit()


def _now_waiting_for(started: flow.Started, answers: dict[str, str]) -> None:
    """This browser now waits for the code of ``started``, sent with ``answers``."""
    session["signup"] = started.token
    session[TYPED_KEY] = personal_data.answers_digest(answers)
    session.pop("verified", None)
    session["sending"] = started.sending.value


def _verify_page(signup: Signup, message: str | None = None, status: int = 200, address_form: Any = None) -> Response:
    wait = seconds_until_resend(signup, utcnow())
    typed = personal_data.typed_answers(db_session(), signup, session.get(TYPED_KEY))
    address = typed.get("email") if typed else None
    if address is not None and address_form is None:
        address_form = build_address_form(current_campaign(), g.lang, formdata=None, data={"email": address})
    return render_page(
        "signup/verify.html",
        cache=False,
        status=status,
        message=message,
        wait_seconds=wait,
        sending=session.pop("sending", None),
        minutes_valid=int(CODE_VALID.total_seconds() // 60),
        address=address,
        address_form=address_form,
    )


def _waiting_for_code() -> Signup | BaseResponse:
    """The sign-up this browser waits to verify, or where to go instead: the form (none started), the next step
    (proven already) or the closed page."""
    signup = _started()
    if signup is None:
        return redirect(url_for("signup.start"))
    if _proven() is not None:
        return _next_step(signup)
    refused = refusal(signup)
    return signup if refused is None else refused


@localized_route(bp, "/join/verify", methods=["GET", "POST"])
def verify() -> BaseResponse:
    _joinable()
    signup = _waiting_for_code()
    if not isinstance(signup, Signup):
        return signup
    if request.method == "GET":
        return _verify_page(signup)
    if not csrf_ok():
        return _verify_page(signup, _("The page was open too long; please try again."), 400)
    limit_per_ip("code-check-ip")
    db = db_session()
    result, outcome = flow.try_code(db, signup, request.form.get("code", ""), _keys(), current_visit(), _browser())
    if result is CodeCheck.OK:
        _after_proof(signup, "code")
    db.commit()
    if result is CodeCheck.OK:
        session["verified"] = signup.token
        _tell_outcome(outcome)
        return _next_step(signup)
    messages = {
        CodeCheck.WRONG: ngettext(
            "That code is not right. You have %(num)s try left.",
            "That code is not right. You have %(num)s tries left.",
            MAX_ATTEMPTS - signup.code_attempts,
        ),
        CodeCheck.EXPIRED: _("This code has expired. Ask for a new code below."),
        CodeCheck.TOO_MANY: _("Too many wrong tries for this code. Ask for a new code below."),
        CodeCheck.NO_CODE: _("This code is no longer valid. Ask for a new code below."),
    }
    return _verify_page(signup, messages[result], 422)


@localized_route(bp, "/join/verify/resend", methods=["POST"])
def resend() -> BaseResponse:
    loaded = _joinable()
    signup = _started()
    if signup is None:
        return redirect(url_for("signup.start"))
    refused = refusal(signup)
    if refused is not None:
        return refused
    if not csrf_ok():
        return _verify_page(signup, _("The page was open too long; please try again."), 400)
    limit_per_ip("resend-ip")
    db = db_session()
    sending = flow.resend(db, loaded, signup, _keys(), site().limits, current_visit())
    db.commit()
    session["sending"] = sending.value
    return redirect(url_for("signup.verify"))


@localized_route(bp, "/join/verify/address", methods=["POST"])
def correct_address() -> BaseResponse:
    """The verify page's "wrong address?" form: the answers this browser sent go out again with the corrected
    address (:func:`core.signup.flow.correct_address`), and the code sent to the old one stops working."""
    loaded = _joinable()
    signup = _waiting_for_code()
    if not isinstance(signup, Signup):
        return signup
    db = db_session()
    typed = personal_data.typed_answers(db, signup, session.get(TYPED_KEY))
    if typed is None:  # another form was sent for that address since: this browser's answers are not there any more
        flash(
            _(
                "The form was sent again for this address, so the address cannot be corrected here. Please fill in "
                "the form again."
            )
        )
        return redirect(url_for("signup.start"))
    form = build_address_form(loaded, g.lang)
    if not form.validate_on_submit():
        return _verify_page(signup, status=422, address_form=form)
    limit_per_ip("signup-form-ip")
    address = form.email.data.strip()
    started = flow.correct_address(
        db, loaded, signup, typed, address, g.lang, _keys(), site().limits, current_visit(), _browser()
    )
    _now_waiting_for(started, {**typed, "email": address})
    return redirect(url_for("signup.verify"))


@localized_route(bp, "/join/verify/<token>", methods=["GET", "POST"])
def verify_link(token: str) -> BaseResponse:
    """The link from the code mail: a page with a button. A GET changes nothing (no code spent, no evidence), so a
    mail scanner that opens every link spends nothing; the button (a POST with CSRF) verifies."""
    loaded = _joinable()
    limit_per_ip("code-check-ip")
    db = db_session()
    signup, fingerprint = flow.find_by_link(db, loaded.slug, token, _keys())
    if signup is not None and session.get("verified") == signup.token:  # opened (or pressed) twice: go on
        return _next_step(signup)
    if signup is None or not flow.link_is_current(signup, fingerprint, utcnow()):
        return _link_refused()
    refused = refusal(signup)
    if refused is not None:
        return refused
    if request.method == "GET":
        return render_page("signup/confirm_link.html", cache=False, token=token)
    if not csrf_ok():
        return render_page(
            "signup/confirm_link.html",
            cache=False,
            status=400,
            token=token,
            message=_("The page was open too long; please try again."),
        )
    verified, outcome = flow.verify_by_link(db, signup, fingerprint, current_visit(), _browser(), _keys())
    if not verified:
        db.rollback()
        return _link_refused()
    _after_proof(signup, "link")
    db.commit()
    session["signup"], session["verified"] = signup.token, signup.token
    _tell_outcome(outcome)
    return _next_step(signup)


@localized_route(bp, "/join/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str) -> BaseResponse:
    """The link of a pre-registration's invitation mail (core.signup.invitations): a page with what joining costs
    now and a button. A GET changes nothing, so a mail scanner that opens every link signs and proves nothing; the
    button (a POST with CSRF) proves the address, as the invitation went to it, and goes on to the agreements,
    where nothing is signed until the person signs."""
    loaded = _joinable()
    limit_per_ip("code-check-ip")
    db = db_session()
    found = read_invitation_link_token(loaded.slug, token)
    signup = flow.find(db, loaded.slug, found)
    if signup is None or signup.erased_at is not None or signup.withdrawn_at is not None:
        flash(
            _(
                "This invitation link has expired or is no longer valid. Fill in the form to join: we will send a "
                "code to your e-mail address, and you continue with the details you gave before."
            )
        )
        return redirect(url_for("signup.start"))
    if signup.stage == Stage.SIGNED:
        if session.get("verified") == signup.token:
            return redirect(url_for("signup.done"))
        return render_page("signup/invitation.html", cache=False, joined=True)
    refused = refusal(signup)
    if refused is not None:
        return refused
    assert loaded.campaign.signup is not None
    kept = loaded.campaign.signup.erase_pre_registrations_after_opening_days
    if request.method == "GET":
        return render_page("signup/invitation.html", cache=False, token=token, erase_after_days=kept)
    if not csrf_ok():
        return render_page(
            "signup/invitation.html",
            cache=False,
            status=400,
            token=token,
            erase_after_days=kept,
            message=_("The page was open too long; please try again."),
        )
    _after_proof(signup, "invitation-link")
    db.commit()
    session["signup"], session["verified"] = signup.token, signup.token
    return _next_step(signup)


def _link_refused() -> BaseResponse:
    flash(_("This link has expired or was already used. Enter the code from the newest e-mail, or ask for a new one."))
    return redirect(url_for("signup.verify") if _started() else url_for("signup.start"))


def _agreement_texts(loaded: LoadedCampaign, answers: dict[str, Any]) -> list[AgreementText]:
    assert loaded.campaign.signup is not None
    chosen = choices.chosen_from_answers(answers)
    companies = choices.companies_in_words(chosen, loaded.companies, g.lang) if chosen else ""
    return [
        agreement_text(
            site().settings.campaigns_dir,
            loaded,
            agreement,
            g.lang,
            participant=answers.get("name", ""),
            child=answers.get("child_name", ""),
            companies=companies,
        )
        for agreement in loaded.campaign.signup.agreements
    ]


def _signing_messages() -> dict[SigningProblem | SignatureProblem, str]:
    """How the signing page words each problem of the signing form."""
    return {
        SigningProblem.NOT_ACCEPTED: _("Please read and accept this agreement."),
        SigningProblem.TEXT_UPDATED: _(
            "This text was updated while you were reading. Please read it again and accept it."
        ),
        SigningProblem.NO_FEE_OPTION: _("Please choose what you will pay if the claim succeeds."),
        SigningProblem.NO_SIGNATURE: _("Please sign: draw your signature in the box, or type your full name."),
        SignatureProblem.UNREADABLE: _(
            "Your drawn signature could not be read. Please clear the box and draw "
            "it again, or type your full name instead."
        ),
        SignatureProblem.TOO_LARGE: _(
            "Your drawn signature is too large. Please clear the box and draw it again, or type your full name instead."
        ),
        SignatureProblem.BLANK: _(
            "Your drawn signature is empty or too small. Please draw your signature in "
            "the box, or type your full name instead."
        ),
    }


def _fee_choice(model: FeeModel | None) -> dict[str, Any] | None:
    """What the signing page shows of the campaign's fee model: its options, notes, and whether it asks a payment."""
    if model is None:
        return None
    return {"options": model.options(g.lang), "notes": model.notes(g.lang), "pays_now": model.asks_payment()}


def _signing_errors(form: SigningForm, texts: list[AgreementText], fee: dict[str, Any] | None) -> dict[str, str]:
    """The signing page's messages for what is wrong with ``form``, by field; empty when it can be signed."""
    errors: dict[str, str] = {}
    if not csrf_ok():
        errors["form"] = _("The page was open too long; please try again.")
    messages = _signing_messages()
    options = {option.id for option in fee["options"]} if fee else set()
    for field, problem in signing_problems(form, texts, options).items():
        errors[field] = messages[problem]
    return errors


def _record_signature(
    loaded: LoadedCampaign,
    signup: Signup,
    texts: list[AgreementText],
    form: SigningForm,
    model: FeeModel | None,
    fee: dict[str, Any] | None,
) -> BaseResponse:
    """Sign (:func:`core.signup.flow.sign`) and go on: to the payment when the fee model asks one first, else done."""
    db = db_session()
    flow.sign(
        db,
        loaded,
        signup,
        texts,
        form.drawing,
        None if form.drawing else form.typed,
        current_visit(),
        fee_model=model,
        fee_option=form.fee_option if fee and fee["options"] else None,
    )
    db.commit()
    site().counters.forget(loaded.slug)
    if signup.payment_required:
        return redirect(url_for("payments.pay", token=pay_link_token(loaded.slug, signup.token)))
    return redirect(url_for("signup.done"))


@localized_route(bp, "/join/sign", methods=["GET", "POST"])
def sign() -> BaseResponse:
    loaded = _joinable()
    signup = _proven()
    if signup is None:
        return redirect(url_for("signup.verify") if _started() else url_for("signup.start"))
    if signup.stage == Stage.SIGNED:
        return redirect(url_for("signup.done"))
    refused = refusal(signup)
    if refused is not None:
        return refused
    if campaign_status() == "pre-registration" or signup.stage in flow.PRE_REGISTERED:
        # Nothing is signed during pre-registration; after opening, this browser proved the address before.
        _after_proof(signup, "browser")
        db_session().commit()
        if signup.stage != Stage.VERIFIED:
            return redirect(url_for("signup.done"))
    answers = personal_data.load(db_session(), signup)
    if data_request_of(loaded) is not None and choices.chosen_from_answers(answers) is None:
        return redirect(url_for("signup.companies"))  # the mandate names the companies chosen
    texts = _agreement_texts(loaded, answers)
    model = fee_model_for(loaded)
    fee = _fee_choice(model)
    errors: dict[str, str] = {}
    drawn = ""
    if request.method == "POST":
        form = SigningForm.read(request.form)
        errors = _signing_errors(form, texts, fee)
        if not errors:
            return _record_signature(loaded, signup, texts, form, model, fee)
        # A drawing is sent back to be shown again only when it was read (never the refused one).
        drawn = request.form.get("signature_png", "") if form.drawing is not None else ""
    return render_page(
        "signup/sign.html",
        cache=False,
        status=422 if errors else 200,
        texts=texts,
        errors=errors,
        answers=answers,
        typed=request.form.get("signature_typed", ""),
        drawn=drawn,
        fee=fee,
        fee_chosen=request.form.get("fee_option"),
        accepted={t.agreement.id for t in texts if request.form.get(f"agree-{t.agreement.id}")},
    )


def _choice_messages() -> dict[ChoiceProblem, str]:
    return {
        ChoiceProblem.NOTHING_CHOSEN: _("Please choose at least one company."),
        ChoiceProblem.OTHER_TOO_LONG: _("Please shorten the company's name to 200 characters at most."),
        ChoiceProblem.DETAIL_MISSING: _("Please fill this in: the company needs it to find your data."),
        ChoiceProblem.DETAIL_TOO_LONG: _("Please shorten this to 200 characters at most."),
        ChoiceProblem.NOT_AN_EMAIL: _("Please enter an e-mail address, like name@example.com."),
        ChoiceProblem.NOT_A_PHONE: _("Please enter a phone number, with its country code if it is not Dutch."),
        ChoiceProblem.NOT_A_DATE: _("Please enter a date."),
    }


@localized_route(bp, "/join/companies", methods=["GET", "POST"])
def companies() -> BaseResponse:
    """A data request's step before signing: which companies to ask, and what each needs to find the participant."""
    loaded = _joinable()
    settings = data_request_of(loaded)
    if settings is None:
        abort(404)
    signup = _proven()
    if signup is None:
        return redirect(url_for("signup.verify") if _started() else url_for("signup.start"))
    if signup.stage != Stage.VERIFIED:
        return _next_step(signup)
    refused = refusal(signup)
    if refused is not None:
        return refused
    db = db_session()
    answers = personal_data.load(db, signup)
    catalogue = loaded.companies
    offered = [catalogue[slug] for slug in settings.companies if slug in catalogue]
    earlier = choices.chosen_from_answers(answers)
    # Nothing chosen yet: a campaign that offers one company (and no other) has it ticked already.
    ticked = [company.slug for company in offered] if len(offered) == 1 and not settings.other_company else []
    form = ChoiceForm(
        frozenset(earlier.companies) if earlier else frozenset(ticked),
        False,
        (earlier.other or "") if earlier else "",
        {
            f"detail-{slug}-{key}": value
            for slug, values in (earlier.details if earlier else {}).items()
            for key, value in values.items()
        },
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = ChoiceForm.read(request.form, settings.companies, settings.all_of_them)
        chosen, problems = read_choice(form, settings, catalogue)
        if not csrf_ok():
            errors["form"] = _("The page was open too long; please try again.")
        messages = _choice_messages()
        errors.update({name: messages[problem] for name, problem in problems.items()})
        if chosen is not None and not errors:
            choices.record(db, signup, chosen, utcnow())
            slugs = [*chosen.companies, *([choices.OTHER] if chosen.other else [])]
            flow.record(db, signup, "companies-chosen", current_visit(), ",".join(slugs))
            db.commit()
            return redirect(url_for("signup.sign"))
    labels = {"company": _("Companies"), "other": _("Another company")}
    for company in offered:
        for identifier in company.identifiers:
            label = loaded.campaign.text(identifier.label, g.lang)
            labels[f"detail-{company.slug}-{identifier.id}"] = f"{company.shown_name}: {label}"
    prefill = {"email": answers.get("email", ""), "phone": answers.get("phone", "")}
    return render_page(
        "signup/companies.html",
        cache=False,
        status=422 if errors else 200,
        settings=settings,
        offered=offered,
        form=form,
        errors=errors,
        labels=labels,
        prefill=prefill,
    )


@localized_route(bp, "/join/identity", methods=["GET", "POST"])
def identity() -> BaseResponse:
    """A data request's identity step, after signing: a copy of an ID document, blacked out in the browser."""
    loaded = _joinable()
    settings = data_request_of(loaded)
    if settings is None or not settings.identity_proof:
        abort(404)
    signup = _proven()
    if signup is None or signup.stage != Stage.SIGNED or signup.withdrawn_at is not None:
        return redirect(url_for("signup.done") if signup is not None else url_for("signup.start"))
    db = db_session()
    error = None
    if request.method == "POST":
        limit_per_ip("identity-upload-ip")
        error = take_upload(db, signup)
        if error is None:
            return redirect(url_for("signup.done"))
    return identity_page(db, signup, error, url_for("signup.identity"), settings.proof_kept_days)


@localized_route(bp, "/join/done")
def done() -> BaseResponse:
    loaded = _joinable()
    signup = _proven()
    if signup is not None and signup.stage in flow.PRE_REGISTERED:
        if campaign_status() != "pre-registration":
            return redirect(url_for("signup.sign"))
        return render_page(
            "signup/pre_registered.html",
            cache=False,
            opens=moment_words(loaded.campaign.opens, loaded.campaign.timezone, g.lang),
        )
    if signup is None or signup.stage != Stage.SIGNED:
        return redirect(url_for("signup.start"))
    if not is_participant(signup):  # signed, but the payment it needs is not reported yet
        return redirect(url_for("payments.pay", token=pay_link_token(loaded.slug, signup.token)))
    db = db_session()
    answers = personal_data.load(db, signup)
    # The link to the participant's copy carries its key (in the fragment) while the working copy holds it: until
    # the confirmation mail, which carries it from then on, is composed.
    one_off_key = personal_data.mandate_copy_key(db, signup) if signup.mandate_sha256 else None
    mandate_url = None
    if one_off_key is not None:
        mandate_url = with_key(
            url_for("signup.mandate", token=mandate_link_token(loaded.slug, signup.token)), one_off_key
        )
    terms = terms_of(signup)
    fee_lines = fee_summary(fee_model_for(loaded), terms, signup.paid_at, g.lang) if terms else []
    settings = data_request_of(loaded)
    asks_identity = settings is not None and settings.identity_proof and signup.withdrawn_at is None
    return render_page(
        "signup/done.html",
        cache=False,
        signup=signup,
        mandate_url=mandate_url,
        name=answers.get("name", ""),
        fee_lines=fee_lines,
        proof=identity_proofs.latest(db, signup) if asks_identity else None,
        asks_identity=asks_identity,
    )


def _mandate_copy_of(token: str) -> tuple[Signup | None, str | None]:
    """The sign-up of a mandate link whose participant's copy is still there, or None and why not (``expired``: the
    link is too old, tampered with or from before revision 0020a; ``gone``: withdrawn, erased or dropped)."""
    found = read_mandate_link_token(current_campaign().slug, token)
    if found is None:
        return None, "expired"
    db = db_session()
    signup = flow.find(db, current_campaign().slug, found)
    if signup is None or signup.withdrawn_at is not None or personal_data.participant_copy(db, signup) is None:
        return None, "gone"
    return signup, None


@localized_route(bp, "/mandate/<token>")
def mandate(token: str) -> BaseResponse:
    """The page of the link to a participant's copy of their mandate (confirmation mail, done page; valid for 90
    days). The server cannot open the copy: the page's script (js/mandate_copy.js) takes the key from the link's
    fragment, fetches the ciphertext (:func:`mandate_copy`), decrypts it in the browser and offers to save it."""
    signup, problem = _mandate_copy_of(token)
    return render_page(
        "signup/mandate.html",
        cache=False,
        status=200 if signup is not None else 404,
        problem=problem,
        copy_url=url_for("signup.mandate_copy", token=token) if signup is not None else None,
    )


@bp.get("/mandate/<token>/copy")
def mandate_copy(token: str) -> BaseResponse:
    """The participant's copy of the mandate, as stored: a vault file only the key in their link opens."""
    limit_per_ip("mandate-download-ip")
    signup, _problem = _mandate_copy_of(token)
    copy = personal_data.participant_copy(db_session(), signup) if signup is not None else None
    if copy is None:
        abort(404)
    response = Response(copy, mimetype="application/octet-stream")
    response.headers["Cache-Control"] = "private, no-store"
    return response
