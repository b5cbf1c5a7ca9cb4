"""Every hook a claimsite plugin can implement, documented where it is declared.

Built-in plugins (``plugins/``) and third-party packages register the same way: an entry point in the
``claimsite.plugins`` group naming a module. A campaign enables plugins by name under ``plugins:`` in its YAML;
the per-campaign hooks (marked *per campaign*) only ever run for plugins that campaign enables. A plugin reads its
own validated settings with ``campaign.settings_for("<its entry-point name>")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from flask import Blueprint
    from pydantic import BaseModel

    from core.campaigns import LoadedCampaign
    from core.campaigns.sections import Section
    from core.jobs.queue import Handler, Sweep
    from core.money.fees import FeeModel
    from core.money.payment_providers import PaymentProvider
    from core.phones.sms_providers import SmsProvider
    from core.signup.counters import PublicCounter

PROJECT = "claimsite"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- start-up: called once for every installed plugin --------------------------------------------------------


@hookspec
def claimsite_settings_schema() -> type[BaseModel]:  # type: ignore[empty-body]
    """Return the pydantic model of this plugin's settings (what a campaign writes under ``plugins: <name>:``).

    Called once per installed plugin when the app starts. The model should forbid unknown keys so a typo in a
    campaign file is reported with its line. A campaign that enables the plugin with no settings gets the model
    validated from ``{}``. A model whose texts are history by nature (updates, news) says so with a class attribute
    ``historical_texts: ClassVar[bool] = True``: ``flask campaigns check`` then never warns that a date in them has
    passed (:mod:`core.campaigns.stale_dates`). Returns: a ``BaseModel`` subclass.
    """


@hookspec
def claimsite_template_dirs() -> list[Path]:  # type: ignore[empty-body]
    """Return folders holding this plugin's templates (e.g. ``sections/faq.html``).

    They are searched after the campaign folder and the themes, so a theme or a campaign can override any plugin
    template by putting one with the same name in its own ``templates/``. Returns: a list of paths.
    """


@hookspec
def claimsite_register_commands(cli: click.Group) -> None:
    """Add commands to the ``flask`` command line by calling ``cli.command()`` / ``cli.add_command()``.

    Called once when the app is created, for every installed plugin. Returns: nothing.
    """


@hookspec
def claimsite_blueprints() -> list[Blueprint]:  # type: ignore[empty-body]
    """Return Flask blueprints with this plugin's own pages (e.g. a payment provider's return page).

    Called once when the app is created, for every installed plugin. The routes are served on every campaign's
    address (``flask.g.campaign`` is the campaign of the request), so check in the view that the campaign enables
    you, or that your provider serves it. Forms must carry a CSRF token (``{{ csrf_token() }}``), which the app
    checks. Returns: a list of blueprints (may be empty).
    """


@hookspec
def claimsite_payment_providers() -> list[PaymentProvider]:  # type: ignore[empty-body]
    """Return the payment providers this plugin offers, as
    :class:`core.money.payment_providers.PaymentProvider` objects.

    Called once when the app is created, for every installed plugin; a provider reads its keys from the
    environment then. A campaign whose fee model asks a payment uses the first provider (in the plugin manager's
    call order: ``tryfirst``/``trylast`` to move) whose ``is_allowed(campaign)`` says yes; production leaves out the
    providers marked ``test_mode``. ``flask campaigns check`` calls this too, without an app: a provider is made from
    the environment alone. Returns: a list.
    """


@hookspec
def claimsite_sms_providers() -> list[SmsProvider]:  # type: ignore[empty-body]
    """Return the SMS providers this plugin offers, as :class:`core.phones.sms_providers.SmsProvider` objects.

    Called once when the app is created, for every installed plugin; a provider reads its credentials from the
    environment then. The one that sends every SMS (phone verification codes) is the provider whose ``identifier``
    is ``CLAIMSITE_SMS_PROVIDER`` (default outside production: ``outbox``); the app refuses to start when no
    installed provider has that identifier, or when the chosen one says its settings are incomplete
    (``SmsProvider.setup_problem``). Two providers with one identifier stop the app too. Returns: a list (may be
    empty).
    """


@hookspec
def claimsite_job_handlers() -> dict[str, Handler]:  # type: ignore[empty-body]
    """Return the kinds of background job this plugin runs, as ``{kind: handler}``.

    Called once per installed plugin when a worker starts (``flask worker``; ``flask jobs`` too). A job is queued
    with :func:`core.jobs.queue.enqueue` in the transaction of its cause, and the worker runs it with
    ``handler(app, payload)`` in an app context. Define each kind once, as a constant next to its handler, and
    queue with that constant; prefix it with your plugin's name. Raising means "retry later" (with backoff);
    :class:`core.jobs.queue.PermanentJobError` gives up at once. A job runs again if a worker dies during it, so a
    handler must tolerate running twice. Two plugins offering the same kind stop the worker from starting; a queued
    kind that no plugin offers fails at once. Returns: a dict of kind -> handler (may be empty).
    """


@hookspec
def claimsite_sweeps() -> list[Sweep]:  # type: ignore[empty-body]
    """Return this plugin's :class:`core.jobs.queue.Sweep` objects: each finds work a fault left half done (a
    step whose job was never queued) and finishes it.

    Called once per installed plugin when a worker starts, and by ``flask jobs`` (which lists what each sweep
    would finish; ``flask jobs --sweep`` runs them). The worker runs every sweep when it starts and every few
    minutes (:data:`core.jobs.queue.SWEEP_EVERY`), possibly in several processes at once. Returns: a list (may
    be empty).
    """


# -- rendering: per campaign ------------------------------------------------------------------------------------


@hookspec
def claimsite_page_sections(campaign: LoadedCampaign, language: str) -> list[Section]:  # type: ignore[empty-body]
    """Return the landing-page sections this plugin adds for ``campaign`` in ``language``. *Per campaign.*

    Each :class:`core.campaigns.sections.Section` names a template and an ``order``; the page shows every section
    (the core ones and all plugins') sorted by order. Return an empty list to add nothing. Results are cached with the
    rendered page, so keep this free of per-visitor data. Returns: a list of sections.
    """


@hookspec
def claimsite_signup_fields(campaign: LoadedCampaign, language: str) -> dict[str, Any]:  # type: ignore[empty-body]
    """Return extra questions for ``campaign``'s sign-up form in ``language``. *Per campaign.*

    Called once per campaign version and language (the form class is reused until the campaign file changes), in
    a request of that language. Return a dict of field name -> unbound WTForms field
    (``RadioField(...)``); the answers are stored with the participant's other answers under those names, so pick
    names that cannot clash (prefix them with your plugin's name). Returns: a dict (may be empty).
    """


@hookspec(firstresult=True)
def claimsite_fee_model(campaign: LoadedCampaign) -> FeeModel | None:
    """Return ``campaign``'s :class:`core.money.fees.FeeModel` (how it charges). *Per campaign*, stops at the first
    non-None result.

    Only fee-model plugins implement this, and their settings model subclasses
    :class:`core.campaigns.schema.FeeModelSettings`, so the loader allows one of them per campaign. The model offers the
    choice asked when signing, turns it into the terms saved with the sign-up, words the fee part of the mandate,
    says whether a payment is needed before the sign-up counts, and computes the fee for an award. Called when a
    sign-up page, the mandate or a settlement needs it (cheap: build it from the campaign's settings).
    Returns: a ``FeeModel``, or None.
    """


@hookspec(firstresult=True)
def claimsite_public_counter(campaign: LoadedCampaign) -> PublicCounter | None:
    """Return where ``campaign``'s public participant count starts: a
    :class:`core.signup.counters.PublicCounter` with the sign-ups gathered before this site and the date counting
    began. *Per campaign*, stops at the first non-None result.

    The shown count is that baseline plus the live count of confirmed participants; the counter's ``hide_below``
    says from which count on the pages state it (below it, and at 0 always, they state no number). Called for the
    scoreboard (every open campaign's count), the participant's page and the staff console's campaign page; a
    campaign for which no plugin answers shows no counter there, and counts from zero on the scoreboard. Returns: a
    ``PublicCounter``, or None.
    """


@hookspec
def claimsite_template_context(campaign: LoadedCampaign, language: str) -> dict[str, Any]:  # type: ignore[empty-body]
    """Return extra variables for every template rendered for ``campaign``. *Per campaign.*

    The dicts of all enabled plugins are merged (a later plugin wins on a clash, so use names prefixed with your
    plugin's). Called for every page render; pages are cached for a few seconds, so values may be that old.
    Returns: a dict (may be empty).
    """
