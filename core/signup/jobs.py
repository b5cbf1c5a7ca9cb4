"""The sign-up's background work, offered to the worker through the same hooks as any plugin's.

This module is the built-in plugin ``core_signup`` (an entry point in pyproject.toml): the worker knows these job
kinds and sweeps only because this module answers ``claimsite_job_handlers`` and ``claimsite_sweeps``, as a
third-party plugin answers them for its own.
"""

from __future__ import annotations

from core.jobs.queue import Handler, Sweep
from core.plugins import hookimpl
from core.signup.confirmation import CONFIRMATION_JOB, ConfirmationSweep, send_confirmation
from core.signup.invitations import INVITATION_JOB, InvitationSweep, send_invitation
from core.signup.login import LOGIN_JOB, send_login_link
from core.signup.mandate_job import MANDATE_JOB, make_mandate
from core.signup.new_code import NEW_CODE_JOB, send_new_code
from core.signup.payment_reminder import REMINDER_JOB, send_payment_reminder
from core.signup.refunds import REFUND_JOB, make_refund
from core.signup.withdrawal import WithdrawnCopySweep


@hookimpl
def claimsite_job_handlers() -> dict[str, Handler]:
    return {
        MANDATE_JOB: make_mandate,
        CONFIRMATION_JOB: send_confirmation,
        REMINDER_JOB: send_payment_reminder,
        LOGIN_JOB: send_login_link,
        NEW_CODE_JOB: send_new_code,
        REFUND_JOB: make_refund,
        INVITATION_JOB: send_invitation,
    }


@hookimpl
def claimsite_sweeps() -> list[Sweep]:
    # In this order in `flask jobs`: a sign-up still waiting for its confirmation, withdrawn copies, then the
    # pre-registrations of a campaign that opened (which is how invitations are sent: core.signup.invitations).
    return [ConfirmationSweep(), WithdrawnCopySweep(), InvitationSweep()]
