"""The worker's job that sends a verification code by SMS, and the text of that SMS.

A request never waits on the SMS provider: :func:`core.phones.verification.send_code` queues
:data:`~core.phones.verification.SMS_JOB` with the verification's id, the code and the language, and the worker
sends it through the deployment's provider (:mod:`core.phones.sms_providers`). A provider that is away
(:class:`~core.phones.sms_providers.SmsTemporaryError`) is retried with the queue's backoff; a refusal for good (an
invalid number) fails the job at once. The job sends nothing when its code is no longer the current one (a newer
code was issued, it expired, the number was proved meanwhile, or retention erased it), so a late retry never sends
a code that cannot work. A sent job keeps no payload (:class:`core.jobs.queue.Worker`): the code rests in the job
only until it is sent.

The text is in the visitor's language, holds the code, the site's name, how long the code is valid, and that
nobody from the organisation will ever ask for it; it fits one SMS (160 GSM-7 characters), which the tests check
for every shipped campaign in both languages.

The worker learns this job from this module, registered as the built-in plugin ``core_phones``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_babel import force_locale, gettext

from core.campaigns import LoadedCampaign
from core.data.db import db_session, utcnow
from core.data.one_time_codes import CODE_VALID
from core.jobs.queue import Handler, PermanentJobError
from core.phones.sms_providers import SmsPermanentError
from core.phones.verification import SMS_JOB, code_is_current, find, unlocked_number
from core.plugins import hookimpl
from core.site import site

log = logging.getLogger(__name__)

# GSM 03.38: the basic set (one septet each) and its extension table (two septets each, after an escape).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
ONE_SMS_SEPTETS = 160


def gsm7_septets(text: str) -> int | None:
    """How many GSM-7 septets ``text`` takes, or None when a character is not in GSM-7 (the SMS would then be
    sent as UCS-2, at most 70 characters in one part)."""
    total = 0
    for ch in text:
        if ch in GSM7_BASIC:
            total += 1
        elif ch in GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def sms_text(loaded: LoadedCampaign, language: str, code: str) -> str:
    """The SMS that carries ``code``, in ``language``. Needs an app context (the catalogs)."""
    c = loaded.campaign
    with force_locale(language):
        return gettext(
            "%(code)s is your code for %(site)s, valid for %(minutes)s minutes. Nobody from %(organisation)s will "
            "ever ask you for it.",
            code=code,
            site=c.name.get_text(language, c.default_language),
            minutes=int(CODE_VALID.total_seconds() // 60),
            organisation=c.organisation.name,
        )


def send_sms_code(app: Flask, payload: dict[str, Any]) -> None:
    """The :data:`~core.phones.verification.SMS_JOB`: send the code of ``payload`` if it is still current."""
    db = db_session()
    verification = find(db, payload["verification"])
    if verification is None or verification.verified_at is not None:
        return
    if not code_is_current(verification, payload["code"], utcnow()):
        return  # a newer code went out, or this one expired: it could no longer prove anything
    number = unlocked_number(verification)
    if number is None:
        return
    provider = site().sms_provider
    if provider is None:
        raise PermanentJobError("no SMS provider is set (CLAIMSITE_SMS_PROVIDER)")
    loaded = site().registry.snapshot.campaigns.get(verification.campaign)
    if loaded is None:
        raise RuntimeError("the campaign of this verification is not loaded")
    text = sms_text(loaded, payload.get("language", loaded.campaign.default_language), payload["code"])
    try:
        message_id = provider.send(number, text)
    except SmsPermanentError as exc:
        raise PermanentJobError(f"{provider.identifier}: {exc}") from None
    log.info("verification SMS sent by %s (message %s)", provider.identifier, message_id)


@hookimpl
def claimsite_job_handlers() -> dict[str, Handler]:
    # This module is the built-in plugin ``core_phones`` (pyproject.toml).
    return {SMS_JOB: send_sms_code}
