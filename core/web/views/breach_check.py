"""The data breach check (``/check``) of a campaign that enables it: is this phone number in a leak?

Unproved, the answer is only found or not found, for a number typed in a form (POST, never in a URL), limited per
network (an IPv4 address or an IPv6 /64) whatever it finds, so that nobody can try a country's numbers. Whoever
proves the number with a code by SMS (:mod:`core.phones.verification`) sees which kinds of their data leaked:
never values, as the index holds none (:mod:`core.breach`). Either way the visitor can join the campaign with the
number filled in; a proved check joins the sign-up's evidence.

The number is not kept for a check. It is kept (sealed with the contact key, erased after a day by retention) only
when the visitor asks for a code or carries the number to the join form; the browser's session then holds the
random id of that verification, never the number.
"""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse

from core.breach import funnel
from core.breach.check import available, check_in_app
from core.breach.datasets import BreachDatasets, breach_settings_of
from core.breach.phones import NotAPhoneNumber, normalise, shown
from core.data.db import db_session, utcnow
from core.data.hashing import phone_hash
from core.data.models import PhoneVerification
from core.data.one_time_codes import CODE_VALID, MAX_ATTEMPTS, CodeCheck, seconds_until_resend
from core.phones import verification as phones
from core.site import current_campaign, site
from core.web.rendering import render_page, render_with_holes
from core.web.requests import PHONE_CHECK_KEY, csrf_ok, current_visit, limit_per_ip, phone_check
from core.web.views.localized import localized_blueprint, localized_route

bp = localized_blueprint("breach", __name__)

PURPOSE = "breach-check"


@bp.after_request
def _never_stored(response: Response) -> Response:
    # An answer about a number, or a page of a verification: no browser or proxy cache may keep it. Nor the empty
    # form: its CSRF token lives in the visitor's session (a cookie), so it is no public page (core.web.caching);
    # the landing page only links to it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _settings() -> BreachDatasets:
    settings = breach_settings_of(current_campaign())
    if settings is None:
        abort(404)
    return settings


def _check_page(settings: BreachDatasets, status: int = 200, **extra: object) -> Response:
    return render_page(
        "breach/check.html",
        cache=False,
        status=status,
        datasets=settings.datasets,
        available=available(settings.datasets, site().settings.resolved_breach_dir()),
        **extra,
    )


def _read_number(settings: BreachDatasets, typed: str) -> str | None:
    """The typed number in E.164, or None when it cannot be read as one."""
    try:
        return normalise(typed, settings.datasets[0].default_region)
    except NotAPhoneNumber:
        return None


@localized_route(bp, "/check", methods=["GET", "POST"])
def check() -> BaseResponse:
    settings = _settings()
    if request.method == "GET":
        return _check_page(settings)
    typed = request.form.get("phone", "")[:40]
    if not csrf_ok():
        return _check_page(settings, 400, typed=typed, message=_("The page was open too long; please try again."))
    # Counted before anything is read, so that a found and a not-found number cost the same, and so does garbage.
    network = current_visit().network
    if not site().limits.hit("breach-check-ip", network):
        wait = site().limits.retry_after("breach-check-ip", network)
        response = _check_page(
            settings,
            429,
            typed=typed,
            message=ngettext(
                "You have checked many numbers from this connection. Please try again in %(num)s minute.",
                "You have checked many numbers from this connection. Please try again in %(num)s minutes.",
                max(1, (wait + 59) // 60),
            ),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not typed.strip():
        return _check_page(settings, 422, typed=typed, field_error=_("Please enter your phone number."))
    e164 = _read_number(settings, typed)
    if e164 is None:
        return _check_page(
            settings,
            422,
            typed=typed,
            field_error=_("We cannot read this as a phone number. Type it with its country code, e.g. +31 6 12345678."),
        )
    answers = check_in_app(settings.datasets, e164)
    if not any(answer.available for answer in answers):
        return _check_page(settings, 503, typed=typed)
    funnel.count_check(site().limits, current_campaign().slug, utcnow(), any(answer.found for answer in answers))
    # Found or not, the same page with the same holes; what differs is which answer each leak gives.
    shape = tuple((answer.dataset.id, answer.available, answer.found) for answer in answers)
    return render_with_holes(
        "breach/answer.html",
        shape,
        # the token this form came with, checked above: still good for the answer's two buttons, and not signed again
        {"number": e164, "csrf": request.form["csrf_token"]},
        answers=answers,
    )


def _verification_for(e164: str) -> PhoneVerification:
    """This browser's verification of ``e164`` on this campaign, or a new one (then remembered in the session)."""
    db = db_session()
    slug = current_campaign().slug
    known = phone_check()
    if known is not None and known.number_digest == phone_hash(site().hash_key, e164):
        return known
    verification = phones.start(db, slug, e164, PURPOSE, utcnow())
    session[PHONE_CHECK_KEY] = verification.id
    return verification


def _posted_number(settings: BreachDatasets) -> str | None:
    """The number a result page's button sends back (the one just checked), read as a check reads it."""
    return _read_number(settings, request.form.get("phone", "")[:40])


def _send_code(settings: BreachDatasets, verification: PhoneVerification) -> None:
    db = db_session()
    now = utcnow()
    sending = phones.send_code(db, verification, settings.sms, current_visit().network, now, g.lang)
    if sending.sent:
        funnel.count(site().limits, current_campaign().slug, now, codes_sent=1)
    db.commit()
    session["sms_sending"] = sending.status.value
    if not sending.sent and sending.status is not phones.SendStatus.WAIT:
        flash(str(sending.message))


@localized_route(bp, "/check/code/send", methods=["POST"])
def send_code() -> BaseResponse:
    """The answer page's "prove it is your number" button: a code by SMS to the number just checked."""
    settings = _settings()
    e164 = _posted_number(settings)
    if e164 is None or not csrf_ok():
        flash(_("The page was open too long; please check the number again."))
        return redirect(url_for("breach.check"))
    verification = _verification_for(e164)
    if verification.verified_at is not None:
        db_session().commit()
        return redirect(url_for("breach.result"))
    _send_code(settings, verification)
    return redirect(url_for("breach.code"))


def _code_page(verification: PhoneVerification, message: str | None = None, status: int = 200) -> Response:
    number = phones.unlocked_number(verification)
    return render_page(
        "breach/code.html",
        cache=False,
        status=status,
        message=message,
        sent=verification.code_sent_at is not None,
        sending=session.pop("sms_sending", None),
        wait_seconds=seconds_until_resend(verification.code_sent_at, utcnow()),
        shown_number=shown(number) if number else None,
        minutes_valid=int(CODE_VALID.total_seconds() // 60),
    )


@localized_route(bp, "/check/code", methods=["GET", "POST"])
def code() -> BaseResponse:
    _settings()
    verification = phone_check()
    if verification is None:
        return redirect(url_for("breach.check"))
    if verification.verified_at is not None:
        return redirect(url_for("breach.result"))
    if request.method == "GET":
        return _code_page(verification)
    if not csrf_ok():
        return _code_page(verification, _("The page was open too long; please try again."), 400)
    limit_per_ip("breach-code-ip")
    db = db_session()
    now = utcnow()
    result = phones.check_code(db, verification, request.form.get("code", "").replace(" ", ""), now)
    if result is CodeCheck.OK:
        funnel.count(site().limits, current_campaign().slug, now, verified=1)
    db.commit()
    if result is CodeCheck.OK:
        return redirect(url_for("breach.result"))
    messages = {
        CodeCheck.WRONG: ngettext(
            "That code is not right. You have %(num)s try left.",
            "That code is not right. You have %(num)s tries left.",
            MAX_ATTEMPTS - verification.code_attempts,
        ),
        CodeCheck.EXPIRED: _("This code has expired. Ask for a new code below."),
        CodeCheck.TOO_MANY: _("Too many wrong tries for this code. Ask for a new code below."),
        CodeCheck.NO_CODE: _("This code is no longer valid. Ask for a new code below."),
    }
    return _code_page(verification, messages[result], 422)


@localized_route(bp, "/check/code/resend", methods=["POST"])
def resend() -> BaseResponse:
    settings = _settings()
    verification = phone_check()
    if verification is None:
        return redirect(url_for("breach.check"))
    if not csrf_ok():
        return _code_page(verification, _("The page was open too long; please try again."), 400)
    _send_code(settings, verification)
    return redirect(url_for("breach.code"))


@localized_route(bp, "/check/result")
def result() -> BaseResponse:
    """What a proved number's records hold: the kinds of data per leak, what they expose one to, and how to join."""
    settings = _settings()
    verification = phone_check()
    number = phones.unlocked_number(verification) if verification is not None else None
    if verification is None or verification.verified_at is None or number is None:
        return redirect(url_for("breach.check"))
    return render_page(
        "breach/result.html",
        cache=False,
        answers=check_in_app(settings.datasets, number),
        number=number,
        shown_number=shown(number),
    )


@localized_route(bp, "/check/join", methods=["POST"])
def join() -> BaseResponse:
    """The "join with this number" button: the join form opens with the number filled in."""
    settings = _settings()
    e164 = _posted_number(settings)
    if e164 is None or not csrf_ok():
        flash(_("The page was open too long, so your number was not filled in: please type it in the form."))
        return redirect(url_for("signup.start"))
    _verification_for(e164)
    db_session().commit()
    return redirect(url_for("signup.start"))
