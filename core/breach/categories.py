"""The catalogue of kinds of data a leak can hold, each with a fixed bit in an index record's 2-byte mask.

A bit is never renumbered and a key never renamed: index files made before a change must still read the same. A
new category is appended with the next free bit (at most 16). The key is also the column name a dump's CSV uses
for it (``flask breach import``), and a campaign names categories by key (:mod:`core.breach.datasets`).

The facebookleak catalogue follows what the April 2021 Facebook scrape held per account, as reported when it was
published (Have I Been Pwned lists the same): phone number, account id, name, gender, date of birth, current
location, hometown, relationship status, employer, e-mail address for some, and for some the account's creation
date and the "about" text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

MASK_BITS = 16  # an index record keeps the mask in 2 bytes


@dataclass(frozen=True)
class Category:
    """One kind of leaked data: its CSV column ``key``, its ``bit`` in the mask, a ``label`` and a line on what
    its leak ``exposes`` a person to (both lazy, translated when shown)."""

    key: str
    bit: int
    label: LazyString
    exposes: LazyString

    @property
    def flag(self) -> int:
        """The mask with only this category's bit set."""
        return 1 << self.bit


CATALOGUE: tuple[Category, ...] = (
    Category(
        "name",
        0,
        _l("Name"),
        _l("Scammers can address you by name, which makes a phishing message look real."),
    ),
    Category(
        "gender",
        1,
        _l("Gender"),
        _l("Together with the rest, it helps others pose as you or pick you out for a scam."),
    ),
    Category(
        "date_of_birth",
        2,
        _l("Date of birth"),
        _l("Often asked to confirm who you are: with it, someone else can pass such a check as you (identity fraud)."),
    ),
    Category(
        "location",
        3,
        _l("Place of residence"),
        _l("It tells roughly where you live, for scams aimed at your area and for finding you."),
    ),
    Category(
        "hometown",
        4,
        _l("Hometown"),
        _l("A common answer to security questions, and material for a convincing story about you."),
    ),
    Category(
        "relationship_status",
        5,
        _l("Relationship status"),
        _l("Used in romance scams and in messages that pretend to come from your partner or family."),
    ),
    Category(
        "employer",
        6,
        _l("Employer"),
        _l("Used in phishing that pretends to come from your work or your manager (CEO fraud)."),
    ),
    Category(
        "email",
        7,
        _l("E-mail address"),
        _l("Phishing mail and spam; with your phone number it helps others take over your accounts."),
    ),
    Category(
        "account_id",
        8,
        _l("Facebook account ID"),
        _l("It links the leak to your profile, so everything public there can be added to it."),
    ),
    Category(
        "phone",
        9,
        _l("Phone number"),
        _l(
            'Scam texts and WhatsApp messages ("Hi Mum" fraud), spam calls, and SIM swapping: taking over accounts '
            "that send their login codes by SMS."
        ),
    ),
    Category(
        "account_created",
        10,
        _l("Date the account was made"),
        _l("It lets a scammer posing as Facebook's support sound as if they know your account."),
    ),
    Category(
        "bio",
        11,
        _l("Profile text"),
        _l("What you wrote about yourself: material for a personal, convincing phishing message."),
    ),
)

BY_KEY: dict[str, Category] = {category.key: category for category in CATALOGUE}
KEYS: tuple[str, ...] = tuple(category.key for category in CATALOGUE)
PHONE = BY_KEY["phone"]  # every record has it: a record is a leaked phone number


def unknown_keys(keys: Iterable[str]) -> list[str]:
    """The keys (in the order given) that name no category of the catalogue."""
    return [key for key in keys if key not in BY_KEY]


def mask_of(keys: Iterable[str]) -> int:
    """The mask with the bits of the categories ``keys`` (each must be in the catalogue)."""
    mask = 0
    for key in keys:
        mask |= BY_KEY[key].flag
    return mask


def categories_in(mask: int) -> list[Category]:
    """The categories whose bits ``mask`` sets, in catalogue order (bits no category has are ignored)."""
    return [category for category in CATALOGUE if mask & category.flag]


def _check_catalogue() -> None:
    bits = [category.bit for category in CATALOGUE]
    if len(set(bits)) != len(bits) or not all(0 <= bit < MASK_BITS for bit in bits) or len(BY_KEY) != len(bits):
        raise RuntimeError("core.breach.categories: every category needs its own key and a bit from 0 to 15")


_check_catalogue()
