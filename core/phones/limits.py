"""SMS pumping limits and the daily budget: what stops anyone from making us send (and pay for) SMS at will.

SMS pumping fraud sends codes to numbers whose operator pays the fraudster a share per message, usually in bulk to
ranges of premium numbers in a few countries. Each code we send is therefore counted, before it is queued, against
four limits, all in the shared rate-limit storage (:mod:`core.ratelimits`: Redis in production, counted atomically
by every worker), in this order, so that a refused request never uses up a wider limit:

1. per network (an IPv4 address, or an IPv6 /64: :func:`core.data.hashing.network_of`): what one requester may ask;
2. per number (its keyed digest): what one phone gets, whoever asks;
3. per country calling code: what one country's numbers get together (pumping targets a few countries);
4. per campaign, a day's budget: the most one campaign can cost in a day, whatever the rest lets through.

Before any of these a number must belong to an allowed country (:attr:`SmsLimits.allowed_countries`; by default
the EU and EEA, whose residents the campaigns are for, with the EU's outermost regions that dial their own
codes). A number elsewhere is refused without counting anything: no SMS can be sent to it at all.

A campaign sets these under its plugin's ``sms:`` (:class:`SmsLimits`, with the defaults below).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

import phonenumbers
from limits import parse
from pydantic import BaseModel, ConfigDict, field_validator

from core.ratelimits import RateLimits

# EU members, the EEA's Iceland, Liechtenstein and Norway, and the EU regions with their own region codes in the
# numbering plan (Åland; French Guiana, Guadeloupe, Martinique, Réunion, Mayotte, Saint-Martin). ISO 3166-1 codes,
# as phonenumbers reads a number's region.
EU_EEA_REGIONS: tuple[str, ...] = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "IS", "LI", "NO",
    "AX", "GF", "GP", "MQ", "RE", "YT", "MF",
)  # fmt: skip


class LimitKind(StrEnum):
    """Which limit refused an SMS (stored with each trip, :class:`core.data.models.SmsLimitTrip`)."""

    COUNTRY_NOT_ALLOWED = "country-not-allowed"
    NETWORK = "network"
    NUMBER = "number"
    COUNTRY = "country"
    BUDGET = "budget"


# Kinds that tell staff something may be under attack: an alert is mailed the first time each trips in a day. A
# number of a country not allowed is counted only: a visitor abroad who types their own number is no attack.
ALERTED = frozenset({LimitKind.NETWORK, LimitKind.NUMBER, LimitKind.COUNTRY, LimitKind.BUDGET})


class SmsLimits(BaseModel):
    """How many verification SMS a campaign sends: per network, per number, per country calling code, and in all
    per day (the budget); and to which countries. Limits are written as ``<count>/<period>`` (``5/hour``,
    ``3/day``, ``100/10 minutes``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_network: str = "5/hour"
    per_number: str = "3/day"
    per_country: str = "100/hour"
    per_campaign: str = "500/day"
    #: ISO 3166-1 region codes whose numbers may get an SMS, or ``all``
    allowed_countries: Literal["all"] | tuple[str, ...] = EU_EEA_REGIONS

    @field_validator("per_network", "per_number", "per_country", "per_campaign")
    @classmethod
    def _is_a_limit(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            problem = f"'{value}' is not a limit: write it as a count and a period, e.g. 5/hour or 500/day"
            raise ValueError(problem) from None
        return value

    @field_validator("allowed_countries")
    @classmethod
    def _known_regions(cls, value: Literal["all"] | tuple[str, ...]) -> Literal["all"] | tuple[str, ...]:
        if value == "all":
            return value
        upper = tuple(code.upper() for code in value)
        unknown = sorted(set(upper) - phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"unknown country codes {', '.join(unknown)}: use ISO 3166-1 codes such as NL or BE")
        return upper


E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def country_of(e164: str) -> tuple[int, str | None]:
    """The calling code (31) and region (``NL``; None when the number fits no region) of an E.164 number
    (``+31612345678``: no spaces or other signs, so each number has one form, and one keyed digest). Raises
    ``ValueError`` for text that is not one; the message does not repeat it."""
    if not E164.fullmatch(e164):
        raise ValueError("not a phone number in E.164 form")
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in E.164 form") from None
    return number.country_code, phonenumbers.region_code_for_number(number)


def take_sms(
    rate_limits: RateLimits,
    limits: SmsLimits,
    *,
    campaign: str,
    number_digest: str,
    e164: str,
    network: str | None,
) -> LimitKind | None:
    """Count one SMS against every limit, in the order of the module's docstring; the first that refuses is
    returned (and the limits after it are not counted), None when the SMS may be sent. ``network`` is the keyed
    hash of the requester's network (:func:`core.data.hashing.network_hash`)."""
    calling_code, region = country_of(e164)
    if limits.allowed_countries != "all" and region not in limits.allowed_countries:
        return LimitKind.COUNTRY_NOT_ALLOWED
    checks = (
        (LimitKind.NETWORK, limits.per_network, network or "-"),
        (LimitKind.NUMBER, limits.per_number, number_digest),
        (LimitKind.COUNTRY, limits.per_country, str(calling_code)),
        (LimitKind.BUDGET, limits.per_campaign, "all"),
    )
    for kind, amount, key in checks:
        if not rate_limits.hit_amount(f"sms-{kind}", amount, f"{campaign}:{key}"):
            return kind
    return None
