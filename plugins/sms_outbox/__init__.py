"""SMS provider ``outbox``: each SMS is written to ``instance/outbox/<UTC time>-<job id>.sms`` (the number and the
text) instead of being sent, and its text, which holds the code, is printed on the console, as mail without a
mail server is (core.jobs.mail). The default outside production (``CLAIMSITE_SMS_PROVIDER``); production refuses
it: nobody would get their code."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from core.data.db import utcnow
from core.jobs.queue import current_job
from core.phones.sms_providers import SmsProvider
from core.plugins import hookimpl
from core.site import site


class OutboxSms(SmsProvider):
    identifier = "outbox"
    test_mode = True

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder  # None: the app's instance/outbox

    def send(self, to_e164: str, text: str) -> str:
        folder = self.folder or site().settings.instance_dir / "outbox"
        folder.mkdir(parents=True, exist_ok=True)
        job = current_job()
        name = f"{utcnow():%Y%m%dT%H%M%S%fZ}-{job.id if job else secrets.token_hex(4)}"
        path = folder / f"{name}.sms"
        path.write_text(f"To: {to_e164}\n\n{text}\n", encoding="utf-8")
        # The text (with the code) for the developer; never the number.
        print(f'outbox: SMS "{text}" written to {path}', file=sys.stderr, flush=True)
        return name


@hookimpl
def claimsite_sms_providers() -> list[SmsProvider]:
    return [OutboxSms()]
