"""How a campaign is named inside a sentence ("Je doet mee aan de TikTok Claim", "You have joined the TikTok Claim").

A campaign's ``name`` is a title ("Facebook-datalek", "All your data"): right on a page's banner, wrong in the
middle of a sentence, where Dutch needs de or het and the name may not be something one joins at all ("Je bent lid
geworden van de Facebook-datalek"). So a campaign file may say how it is named in a sentence, with its article, in
each language (``name_in_sentence``); without it (or without that language) a phrase that reads right for any name
is used: "de actie ‘Facebook-datalek’" / "the ‘Facebook data leak’ campaign", a UI string like any other.

Every UI string that names a campaign is listed in :data:`NAME_SENTENCES`, so ``flask campaigns check`` can show
each one as a visitor reads it, per campaign and language, for staff to review (a test keeps the list and the
catalog in step). Sentences use ``%(campaign)s`` for the name in a sentence and ``%(campaign_name)s`` for the title
as a label ("Facebook-datalek: een actie van SOMI").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

from core import i18n
from core.campaigns.schema import Campaign

Gettext = Callable[[str], str]

# Every UI string (msgid) that names a campaign, as the templates and views write it.
NAME_SENTENCES: tuple[str, ...] = (
    "%(campaign_name)s: a campaign by %(organisation)s.",
    "Back to %(campaign)s",
    "%(code)s is your verification code for %(campaign)s",
    "Your verification code for %(campaign)s is:",
    "You have joined %(campaign)s",
    "You have joined %(campaign)s: thank you! Your sign-up is complete.",
    "You have successfully joined %(campaign)s.",
    "Payment received: you have joined %(campaign)s.",
    "One step left to join %(campaign)s: the payment",
    "Your mandate for %(campaign)s is signed. Your participation counts once the payment of %(amount)s "
    "(%(description)s) has been made.",
    "Your login link for %(campaign)s",
    "Withdraw from %(campaign)s?",
    "Erase your personal data for %(campaign)s?",
    "You have withdrawn from %(campaign)s. We no longer act for you in it.",
    "Your personal data for %(campaign)s has been erased.",
    "Signed power of attorney for %(campaign)s, reference %(reference)s",
    "With this document the participant named below authorises %(organisation)s to act on their behalf against "
    "%(company)s in %(campaign)s, on the terms of the agreements reproduced in full below.",
    "You have pre-registered for %(campaign)s",
    "You have pre-registered for %(campaign)s.",
    "We have noted your interest in %(campaign)s and confirmed your e-mail address. Nothing has been signed: you "
    "have not joined yet and have given no mandate.",
    "Now open: %(campaign_name)s",
    "Now open: %(campaign_name)s. You can decide whether to join",
    "You pre-registered for %(campaign)s. The campaign has now opened, so you can decide whether to join. Nothing "
    "has been signed yet: you join only when you sign the agreements.",
    "You joined %(campaign)s with this invitation already. Your own page shows your sign-up and your signed mandate.",
    "Your withdrawal from %(campaign)s is confirmed",
    "On %(date)s you withdrew your mandate for %(campaign)s (reference %(reference)s). From that moment we no longer "
    "act for you in this campaign, and you no longer count as a participant. What we did for you before stays valid.",
    "We could not accept your ID copy for %(campaign)s",
    "Thank you for the copy of your ID document for %(campaign)s (reference %(reference)s).",
    "We will not send a request to the company you named for %(campaign)s",
    "For %(campaign)s (reference %(reference)s) you also named a company yourself. We checked it, and we will not "
    "send a request to it: %(reason)s",
    "Something new is in your vault for %(campaign)s",
    "Something new is in your vault on the site of %(campaign)s. Log in to your page to open it with your passphrase:",
    "Something has arrived for you from %(campaign)s: set up your vault to receive it",
    "Something has arrived for you on the site of %(campaign)s. It is kept encrypted for you until you set up your "
    "vault: a place only you can open, with a passphrase you choose.",
)


def name_in_sentence(campaign: Campaign, language: str, gettext: Gettext) -> str:
    """The campaign as named inside a sentence in ``language``: its ``name_in_sentence`` in that language, else the
    generic phrase around its name. Never another language's phrase: its article would be wrong in this one.
    ``gettext`` translates into ``language`` (flask-babel's in a request or a mail, a catalog's in the check)."""
    written = campaign.name_in_sentence
    if written is not None and language in written:
        return written[language]
    name = campaign.text(campaign.name, language)
    return gettext("the ‘%(name)s’ campaign").replace("%(name)s", name)


def example_sentences(campaign: Campaign, language: str, gettext: Gettext) -> Iterator[str]:
    """Each sentence of :data:`NAME_SENTENCES` as a visitor of ``campaign`` reads it in ``language``, with example
    values for the other placeholders (a code, an amount, a reference)."""
    values = {
        "campaign": name_in_sentence(campaign, language, gettext),
        "campaign_name": campaign.text(campaign.name, language),
        "organisation": campaign.organisation.name,
        "company": campaign.target_company,
        "code": "123456",
        "amount": i18n.money(Decimal(50), language),
        "description": "…",
        "reference": "ABCD-1234",
        "date": i18n.long_date(dt.date(2026, 12, 3), language),
        "reason": "…",
    }
    for msgid in NAME_SENTENCES:
        yield gettext(msgid) % values
