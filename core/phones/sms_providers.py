"""SMS providers: the interface a provider plugin implements, and the one provider this deployment sends with.

Like payment providers (:mod:`core.money.payment_providers`), providers are plugins (hook
``claimsite_sms_providers``) made once when the app starts, each reading its own credentials from the environment.
Unlike payments, one deployment sends every SMS through one provider, named by ``CLAIMSITE_SMS_PROVIDER``: built in
are ``outbox`` (a file per message in ``instance/outbox/``, outside production only) and ``twilio``. A provider
only sends; the code, its text, the limits and the retries are the core's (:mod:`core.phones.sms_job`).

A provider tells a permanent failure (the number cannot receive SMS: retrying cannot help) from a temporary one
(the provider is away or busy: the worker retries with backoff). Neither error's message may hold the number or the
text, since the worker keeps it in the jobs table and the log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from core.settings import SettingsError

if TYPE_CHECKING:
    from core.plugins import PluginHost
    from core.settings import Settings


class SmsProviderError(Exception):
    """The provider did not send the message. The message of the error never holds the number or the text."""


class SmsPermanentError(SmsProviderError):
    """The provider refused the message for good (an invalid number, one that cannot take SMS): do not retry."""


class SmsTemporaryError(SmsProviderError):
    """The provider could not be reached or was not able to take the message now: retry later."""


class SmsProvider(ABC):
    """One way to send an SMS. Instances are made once when the app starts (reading their credentials)."""

    #: the value of ``CLAIMSITE_SMS_PROVIDER`` that chooses this provider
    identifier: ClassVar[str]
    #: True for a provider that reaches no phone (the outbox); production refuses it
    test_mode: ClassVar[bool] = False

    def setup_problem(self) -> str | None:
        """What is missing for this provider to send (its credentials' environment variables, say), in a sentence
        for the operator; None when it can send. Asked when the app starts with this provider chosen."""
        return None

    @abstractmethod
    def send(self, to_e164: str, text: str) -> str:
        """Send ``text`` to the number ``to_e164`` (``+31612345678``) and return the provider's id of the message.

        Called by the worker, never in a request. Raises :class:`SmsPermanentError` when the provider refuses the
        number or message for good, :class:`SmsTemporaryError` when it could not take it now."""


def installed_sms_providers(plugins: PluginHost) -> dict[str, SmsProvider]:
    """Every installed plugin's SMS providers, by identifier. Raises ``SettingsError`` when two share one."""
    found: dict[str, SmsProvider] = {}
    for answer in plugins.pm.hook.claimsite_sms_providers():
        for provider in answer:
            if provider.identifier in found:
                raise SettingsError(f"two installed SMS providers are called '{provider.identifier}'")
            found[provider.identifier] = provider
    return found


def chosen_sms_provider(plugins: PluginHost, settings: Settings) -> SmsProvider | None:
    """The provider every SMS goes through (``CLAIMSITE_SMS_PROVIDER``), or None in production when none is set
    (then no phone number can be verified). Raises ``SettingsError`` for a provider that is not installed, a test
    provider in production, or one whose ``setup_problem`` says what is missing."""
    wanted = settings.resolved_sms_provider()
    if not wanted:
        return None
    providers = installed_sms_providers(plugins)
    provider = providers.get(wanted)
    if provider is None:
        known = ", ".join(sorted(providers)) or "none"
        raise SettingsError(f"CLAIMSITE_SMS_PROVIDER: no SMS provider '{wanted}' is installed (installed: {known})")
    if provider.test_mode and settings.env == "production":
        raise SettingsError(
            f"CLAIMSITE_SMS_PROVIDER={wanted} reaches no phone, which production refuses: choose a real provider"
        )
    problem = provider.setup_problem()
    if problem:
        raise SettingsError(f"CLAIMSITE_SMS_PROVIDER={wanted}: {problem}")
    return provider
