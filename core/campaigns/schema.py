"""The campaign file's schema: what staff may write in ``campaigns/<slug>.yaml``.

Unknown keys are errors (``extra="forbid"``) so a typo never passes silently. Section content that belongs to a
plugin (FAQ, news, timeline, ...) lives under ``plugins:`` and is validated by that plugin's own settings model.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.campaigns.localized import Localized, LocalizedMarkdown
from core.campaigns.schedule import (
    DEFAULT_TIMEZONE,
    Moment,
    WrittenStatus,
    ends,
    read_moment,
    read_zone,
    starts,
    written,
)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
Host = Annotated[str, StringConstraints(to_lower=True, max_length=253, pattern=rf"^({_LABEL})(\.{_LABEL})+$")]
HostAndPath = Annotated[
    str, StringConstraints(to_lower=True, max_length=300, pattern=rf"^({_LABEL})(\.{_LABEL})+(/[a-z0-9][a-z0-9._-]*)+$")
]
Url = Annotated[str, StringConstraints(pattern=r"^(https?://[^\s]+|mailto:[^\s@]+@[^\s@]+)$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^\s@]+@[^\s@]+\.[^\s@]+$")]
HexColour = Annotated[str, StringConstraints(pattern=r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
# opens/closes: a date, or a date and time, in the campaign's time zone (core/campaigns/schedule.py)
WrittenMoment = Annotated[Moment, PlainValidator(read_moment)]
# a file name relative to a static folder: no leading '/', no '..' (each part starts with a letter, digit, _ or -)
RelativeFile = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+|/[A-Za-z0-9_-]+)*$")]


# The colours a theme defines and a campaign may override; each becomes a CSS custom property (--primary-text).
ColourName = Literal["primary", "primary_text", "accent", "background", "surface", "text", "muted", "link"]


class Strict(BaseModel):
    """Every campaign model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Source(Strict):
    """Where a claim or a news item comes from."""

    name: str
    url: Url | None = None


class Link(Strict):
    """A labelled link to another site."""

    label: Localized
    url: Url


class SisterLink(Strict):
    """A link to a sister campaign: by slug (URL built for its host) or by plain URL."""

    label: Localized
    campaign: Slug | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def _one_target(self) -> SisterLink:
        if (self.campaign is None) == (self.url is None):
            raise ValueError("give either 'campaign' (a slug) or 'url', not both and not neither")
        return self


class Organisation(Strict):
    """The foundation that runs the campaign."""

    name: str
    website: Url
    email: Email
    chamber_of_commerce: str | None = None


class Hero(Strict):
    """The top of the landing page: what happened and what the visitor can get."""

    title: Localized
    subtitle: Localized | None = None
    claim_amount: Decimal | None = Field(
        default=None, ge=0, le=1_000_000_000, description="Expected claim per person, in euros"
    )
    bullets: list[Localized] = []
    source: Source | None = None
    call_to_action: Localized


class Item(Strict):
    """One entry in a list section (a reason, a step, a legal requirement)."""

    title: Localized
    text: LocalizedMarkdown


class ItemSection(Strict):
    """A titled section made of items, e.g. 'Why join?' or 'How it works'."""

    title: Localized
    intro: LocalizedMarkdown | None = None
    items: list[Item] = Field(min_length=1)
    hide_when_closed: bool = Field(
        default=False,
        description="leave the section out once the campaign is closed (e.g. steps that say how to sign up)",
    )


class Milestone(Strict):
    """A step planned for a date, held as a date so that no page ever promises it once the date has passed."""

    date: dt.date
    planned: LocalizedMarkdown = Field(description="what is planned for that date; shown until the day has passed")
    done: LocalizedMarkdown | None = Field(
        default=None,
        description="what happened, written once it has; shown instead of the plan once the day has passed",
    )


class Milestones(Strict):
    """Steps planned ahead, each with its date (core/campaigns/milestones.py)."""

    title: Localized
    items: list[Milestone] = Field(min_length=1)


class Article(Strict):
    """A free text section: the story behind the claim, how a data request works, ..."""

    title: Localized
    text: LocalizedMarkdown


class About(Strict):
    """Who runs the campaign."""

    title: Localized
    text: LocalizedMarkdown
    links: list[Link] = []


class ThemeOverrides(Strict):
    """Per-campaign changes to its theme's look without a template."""

    colours: dict[ColourName, HexColour] = {}
    logo: RelativeFile | None = Field(default=None, description="file under campaigns/<slug>/static/")


FieldName = Literal["name", "email", "phone", "address", "country", "birth_date", "account"]


class FormField(Strict):
    """One question of the sign-up form, from the built-in catalogue (core/signup/fields.py)."""

    field: FieldName
    required: bool = True
    label: Localized | None = Field(default=None, description="replaces the built-in label, e.g. 'TikTok username'")
    help: Localized | None = None


class Eligibility(Strict):
    """Who may join; checked on the server, with a translated reason when someone may not."""

    residence: Literal["eu-eea", "anywhere"] = Field(
        default="eu-eea", description="eu-eea: living in the EU, the EEA or Switzerland"
    )
    minimum_age: int = Field(default=18, ge=0, le=120)
    minors: Literal["no", "parent"] = Field(
        default="no", description="parent: a parent or guardian may join for a child under minimum_age"
    )


class Agreement(Strict):
    """A text the participant must read and accept: campaigns/<slug>/agreements/<id>.<version>.<lang>.md
    (or campaigns/_shared/agreements/). A new version is a new file; old versions stay as evidence."""

    id: Slug
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]
    title: Localized


class Signup(Strict):
    """How people join: the form, who may join, what they sign, and what the success page says."""

    fields: list[FormField] = Field(
        default=[
            FormField(field="name"),
            FormField(field="email"),
            FormField(field="country"),
            FormField(field="birth_date"),
        ],
        min_length=1,
    )
    eligibility: Eligibility = Eligibility()
    agreements: list[Agreement] = Field(min_length=1)
    next_steps: LocalizedMarkdown | None = Field(default=None, description="what happens after joining")
    erase_unfinished_after_days: int = Field(
        default=60,
        ge=1,
        le=3650,
        description="sign-ups that never became participants are erased this many days after they started "
        "(`flask retention run`)",
    )
    erase_pre_registrations_after_opening_days: int = Field(
        default=60,
        ge=1,
        le=3650,
        description="pre-registrations (the address verified before the campaign opened) that never became "
        "participants are kept while the campaign has not opened, and erased this many days after it opened "
        "(`flask retention run`)",
    )

    @model_validator(mode="after")
    def _needed_fields(self) -> Signup:
        names = [f.field for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("a field is listed twice in signup.fields")
        if "email" not in names:
            raise ValueError("signup.fields must include 'email': it is how a participant is verified")
        if self.eligibility.residence != "anywhere" and "country" not in names:
            raise ValueError("the residence rule needs the 'country' field in signup.fields")
        if self.eligibility.minimum_age and "birth_date" not in names:
            raise ValueError("the minimum_age rule needs the 'birth_date' field in signup.fields")
        if len({a.id for a in self.agreements}) != len(self.agreements):
            raise ValueError("two agreements have the same id")
        return self


class Vault(Strict):
    """How long the participants' vaults keep the files that came for this campaign (``flask retention run``:
    core/data/vault_retention.py)."""

    files_kept_days: int = Field(
        default=365,
        ge=30,
        le=3650,
        description="files in the participants' vaults are removed this many days after the campaign ends (ends, "
        "else closes), or after they arrived when that was later; the participant is mailed 30 days before",
    )


class Campaign(Strict):
    """One campaign microsite."""

    slug: Slug
    name: Localized
    name_in_sentence: Localized | None = Field(
        default=None,
        description="the campaign as named inside a sentence, with its article: {nl: de TikTok Claim, en: the TikTok "
        "Claim}; without it, sentences say 'de actie ‘<name>’' / 'the ‘<name>’ campaign' (core/campaigns/naming.py)",
    )
    hosts: list[Host] = Field(default=[], description="the first one is canonical; the others redirect to it")
    paths: list[HostAndPath] = Field(default=[], description="'host/prefix' under a shared host")
    status: WrittenStatus
    timezone: str = Field(
        default=DEFAULT_TIMEZONE, description="IANA time zone of opens and closes, e.g. 'Europe/Amsterdam'"
    )
    opens: WrittenMoment | None = Field(default=None, description="a date (from its start) or a date and time")
    closes: WrittenMoment | None = Field(default=None, description="a date (to its end) or a date and time")
    ends: WrittenMoment | None = Field(
        default=None,
        description="when the campaign's work is over (the last answers in, the case settled), not before closes: a "
        "date (to its end) or a date and time; it changes nothing on the site, but the vault's files are kept "
        "vault.files_kept_days after it. Without it, closes counts as the end",
    )
    closed_message: Localized | None = None
    instead: Link | None = Field(default=None, description="where to go instead when closed")
    organisation: Organisation
    target_company: str
    languages: list[LanguageCode] = Field(default=["nl", "en"], min_length=1)
    default_language: LanguageCode = "nl"
    address_form: Literal["je", "u"] = Field(
        default="je",
        description="how the Dutch pages, mails and mandate address the visitor: 'je' (informal) or 'u' (formal); "
        "the campaign's own Dutch texts should say the same (flask campaigns check warns)",
    )
    hero: Hero
    reasons: ItemSection | None = None
    articles: list[Article] = []
    steps: ItemSection | None = None
    milestones: Milestones | None = Field(
        default=None,
        description="steps planned for a date: each plan is shown until its day has passed, then what happened "
        "(done), or nothing, and `check` asks for it",
    )
    legal: ItemSection | None = None
    about: About | None = None
    sisters: list[SisterLink] = []
    signup: Signup | None = Field(default=None, description="how people join; without it there is no join form")
    theme: Slug = "default"
    theme_overrides: ThemeOverrides = ThemeOverrides()
    share_image: RelativeFile | None = Field(
        default=None,
        description="file under campaigns/<slug>/static/ (PNG or JPEG, 1200x630): the picture a shared link shows; "
        "without it the theme's share.png",
    )
    vault: Vault = Vault()
    plugins: dict[str, dict[str, Any] | None] = Field(
        default={}, description="plugin name -> its settings (checked by the plugin)"
    )

    # Fields are validated in the order they are declared: timezone and opens are there when closes is checked.
    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        read_zone(name)
        return name

    @field_validator("closes")
    @classmethod
    def _closes_after_opens(cls, closes: Moment | None, info: ValidationInfo) -> Moment | None:
        opens, name = info.data.get("opens"), info.data.get("timezone")
        if closes is None or opens is None or name is None:  # a wrong opens or timezone has its own message
            return closes
        zone = read_zone(name)
        if ends(closes, zone) <= starts(opens, zone):
            raise ValueError(
                f"closes ({written(closes)}) is not after opens ({written(opens)}): the campaign would never be open"
            )
        return closes

    @field_validator("ends")
    @classmethod
    def _ends_after_closes(cls, end: Moment | None, info: ValidationInfo) -> Moment | None:
        closes, name = info.data.get("closes"), info.data.get("timezone")
        if end is None or closes is None or name is None:  # a wrong closes or timezone has its own message
            return end
        zone = read_zone(name)
        if ends(end, zone) < ends(closes, zone):
            raise ValueError(
                f"ends ({written(end)}) is before closes ({written(closes)}): the campaign's work cannot be over "
                "while it still takes sign-ups"
            )
        return end

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("'languages' lists a language twice")
        if self.default_language not in self.languages:
            raise ValueError(f"default_language '{self.default_language}' is not one of languages {self.languages}")
        if not self.hosts and not self.paths:
            raise ValueError("give 'hosts' or 'paths' (or both): where is this campaign served?")
        if self.status == "closed" and self.closed_message is None:
            raise ValueError("a closed campaign needs a 'closed_message' telling visitors what now")
        return self

    def text(self, value: Localized | None, language: str) -> str:
        """``value`` in ``language``, falling back to this campaign's default language."""
        if value is None:
            return ""
        return value.get_text(language, self.default_language)


class FeeModelSettings(BaseModel):
    """Base of every fee-model plugin's settings. The campaign loader allows one enabled plugin with settings of
    this kind per campaign: one fee model per campaign."""

    model_config = ConfigDict(extra="forbid", frozen=True)
