"""The sign-up form: built per campaign and language from ``signup.fields``, the eligibility rules and plugins.

Each form field's name is also the key of the answer in the participant's personal data.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache
from typing import Any

import phonenumbers
from babel import Locale, support
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from markupsafe import Markup, escape
from wtforms import DateField, EmailField, Field, RadioField, SelectChoice, StringField, TelField
from wtforms.i18n import messages_path
from wtforms.validators import Email, InputRequired, Length, Optional, StopValidation, ValidationError
from wtforms.widgets import html_params

from core.campaigns import LoadedCampaign
from core.campaigns.schema import FormField
from core.data.lookalikes import Lookalike, lookalike
from core.signup.eligibility import EU_EEA_CH, age_problem, child_problem, residence_problem
from core.site import site

NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ", "AQ"}


@lru_cache(maxsize=16)
def country_choices(language: str) -> tuple[tuple[str, str], ...]:
    """Every country, named in ``language`` and sorted the way a reader of that language expects."""
    names = Locale.parse(language).territories
    countries = [
        (code, name) for code, name in names.items() if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    ]

    def sort_key(item: tuple[str, str]) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", item[1]) if not unicodedata.combining(c)).casefold()

    return tuple(sorted(countries, key=sort_key))


def _label(spec: FormField, default: str, language: str, loaded: LoadedCampaign) -> str:
    return loaded.campaign.text(spec.label, language) if spec.label else default


class Filled(InputRequired):
    """WTForms' ``InputRequired`` (the ``required`` attribute, the message), that also takes an answer of spaces
    alone for what it is: nothing. Without it, a name of one space would pass, and be kept as no name at all."""

    def __call__(self, form: Any, field: Field) -> None:
        if field.raw_data and isinstance(field.raw_data[0], str) and not field.raw_data[0].strip():
            field.errors[:] = []
            raise StopValidation(self.message)
        super().__call__(form, field)


def _presence(spec: FormField, message: str) -> Any:
    return Filled(message=message) if spec.required else Optional()


def _description(spec: FormField, language: str, loaded: LoadedCampaign) -> str:
    return loaded.campaign.text(spec.help, language) if spec.help else ""


def catalogue(spec: FormField, language: str, loaded: LoadedCampaign) -> dict[str, Any]:
    """The WTForms field(s) for one entry of ``signup.fields``."""
    help_text = _description(spec, language, loaded)
    kind = spec.field
    if kind == "name":
        return {
            "name": StringField(
                _label(spec, _("Full name"), language, loaded),
                [_presence(spec, _("Please enter your full name.")), Length(max=200)],
                description=help_text,
                render_kw={"autocomplete": "name"},
            )
        }
    if kind == "email":
        return {
            "email": EmailField(
                _label(spec, _("E-mail address"), language, loaded),
                [
                    Filled(message=_("Please enter your e-mail address.")),
                    Length(max=254),
                    Email(
                        message=_("This is not a valid e-mail address; please check it."), check_deliverability=False
                    ),
                    NotALookalike(),
                ],
                description=help_text or _("We send a verification code to this address."),
                render_kw={"autocomplete": "email", "inputmode": "email"},
            )
        }
    if kind == "phone":
        return {
            "phone": TelField(
                _label(spec, _("Phone number"), language, loaded),
                [_presence(spec, _("Please enter your phone number.")), Length(max=40)],
                description=help_text,
                render_kw={"autocomplete": "tel"},
            )
        }
    if kind == "address":
        # Each part names what is missing; an address left out whole gets one message (SignupForm.validate).
        return {
            "street": StringField(
                _("Street and house number"),
                [_presence(spec, _("Please enter your street and house number.")), Length(max=200)],
                render_kw={"autocomplete": "address-line1"},
            ),
            "postcode": StringField(
                _("Postcode"),
                [_presence(spec, _("Please enter your postcode.")), Length(max=20)],
                render_kw={"autocomplete": "postal-code"},
            ),
            "city": StringField(
                _("Town or city"),
                [_presence(spec, _("Please enter your town or city.")), Length(max=100)],
                render_kw={"autocomplete": "address-level2"},
            ),
        }
    if kind == "country":
        return {
            "country": CountryField(
                _label(spec, _("Country where you live"), language, loaded),
                [_presence(spec, _("Please choose the country where you live."))],
                language=language,
                placeholder=_("Choose a country"),
                default="NL",
                description=help_text,
                render_kw={"autocomplete": "country"},
            )
        }
    if kind == "birth_date":
        return {
            "birth_date": IsoDateField(
                _label(spec, _("Date of birth"), language, loaded),
                [_presence(spec, _("Please enter your date of birth."))],
                description=help_text,
                render_kw={"autocomplete": "bday"},
            )
        }
    if kind == "account":
        return {
            "account": StringField(
                _label(spec, _("Your user name or account"), language, loaded),
                [_presence(spec, _("Please fill this in.")), Length(max=200)],
                description=help_text,
            )
        }
    raise AssertionError(f"no form field for {kind}")


class NotALookalike:
    """Refuses an e-mail address that could pass for another one (:mod:`core.data.lookalikes`), saying why, in the
    page's language. Runs after WTForms' ``Email`` (an invalid address has its message already)."""

    def __call__(self, form: Any, field: Field) -> None:
        if field.errors or not field.data:
            return
        found = lookalike(field.data)
        if found is Lookalike.MIXED_SCRIPTS:
            raise ValidationError(
                _(
                    "This address mixes letters of different alphabets (for example Latin and "
                    "Cyrillic), so it can look like another address. Please check it and type "
                    "each part in one alphabet."
                )
            )
        if found is Lookalike.COMPATIBILITY_FORMS:
            raise ValidationError(
                _(
                    "This address contains special forms of letters or digits (such as "
                    "full-width or superscript characters). Please type it with ordinary letters "
                    "and digits."
                )
            )


@lru_cache(maxsize=16)
def _wtforms_translations(language: str) -> support.Translations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


class _CachedWTFormsTranslations:
    """WTForms' own messages (e.g. for a malformed date) in the page's language, loaded once per language
    (Flask-WTF's default reads the catalogue again on every request)."""

    def gettext(self, string: str) -> str:
        return _wtforms_translations(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_translations(str(get_locale())).ungettext(singular, plural, n)


class CountrySelect:
    """A <select> of every country, its options made once per language (a few hundred of them)."""

    def __call__(self, field: CountryField, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        options = _country_options(field.language, str(field.placeholder))
        chosen = field.data or ""
        if chosen:
            value = f'<option value="{escape(chosen)}"'
            options = options.replace(f"{value}>", f"{value} selected>", 1)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")  # noqa: S704


@lru_cache(maxsize=16)
def _country_options(language: str, placeholder: str) -> str:
    rows = [f'<option value="">{escape(placeholder)}</option>']
    rows += [f'<option value="{code}">{escape(name)}</option>' for code, name in country_choices(language)]
    return "".join(rows)


@lru_cache(maxsize=16)
def _country_codes(language: str) -> frozenset[str]:
    return frozenset(code for code, _ in country_choices(language))


class CountryField(Field):
    """The country someone lives in: an ISO code from the list (a cheap stand-in for a 250-choice SelectField)."""

    widget = CountrySelect()

    def __init__(self, label: str, validators: Any, *, language: str, placeholder: str, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.language, self.placeholder = language, placeholder

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = valuelist[0].strip().upper() if valuelist else None

    def _value(self) -> str:
        return self.data or ""

    def pre_validate(self, form: Any) -> None:
        if self.data and self.data not in _country_codes(self.language):
            raise ValidationError(_("Please choose a country from the list."))


WTFORMS_NOT_A_DATE = "Not a valid date value."  # DateField's message, translated by WTForms' own catalogue


class IsoDateField(DateField):
    """A date as ``<input type="date">`` sends it (YYYY-MM-DD), read without ``strptime``, which costs ten times as
    much on every sign-up form; anything else is read as DateField reads it."""

    def process_formdata(self, valuelist: list[str]) -> None:
        text = " ".join(valuelist).strip() if valuelist else None
        if text and len(text) == 10 and text[4] == text[7] == "-":
            try:
                self.data = dt.date.fromisoformat(text)
                return
            except ValueError:
                pass
        if text == "":
            self.data = None
            raise ValueError(self.gettext(WTFORMS_NOT_A_DATE))
        super().process_formdata(valuelist)


class _TokenWhenShown:
    """The form's CSRF token, signed only if the form is shown (again): a valid post is redirected and needs none."""

    def __init__(self, csrf: _FlaskFormCSRF, field: Field) -> None:
        self._csrf, self._field = csrf, field
        self._token: str | None = None

    def __str__(self) -> str:
        if self._token is None:
            self._token = _FlaskFormCSRF.generate_csrf_token(self._csrf, self._field)
        return self._token

    def __html__(self) -> str:
        return str(escape(str(self)))


class _CSRFWhenShown(_FlaskFormCSRF):
    def generate_csrf_token(self, csrf_token_field: Field) -> Any:
        return _TokenWhenShown(self, csrf_token_field)


class SignupForm(FlaskForm):
    """Base of every campaign's sign-up form: adds the eligibility rules to WTForms' own validation."""

    class Meta(FlaskForm.Meta):
        csrf_class = _CSRFWhenShown

        def get_translations(self, form: Any) -> Any:
            return _CachedWTFormsTranslations()

    loaded: LoadedCampaign
    language: str

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        rules = self.loaded.campaign.signup.eligibility  # type: ignore[union-attr]
        today = dt.date.today()
        for_child = getattr(self, "for_whom", None) is not None and self.for_whom.data == "child"
        checks = [
            (
                "country",
                residence_problem(rules, self.country.data) if hasattr(self, "country") and self.country.data else None,
            ),
            (
                "birth_date",
                age_problem(rules, self.birth_date.data, today, for_child) if hasattr(self, "birth_date") else None,
            ),
        ]
        if for_child:  # the child's fields are optional in the form, but needed when joining for a child
            if not (self.child_name.data or "").strip():
                checks.append(("child_name", _("Please enter your child's full name.")))
            if self.child_birth_date.data is None and not self.child_birth_date.errors:
                checks.append(("child_birth_date", _("Please enter your child's date of birth.")))
            checks.append(("child_birth_date", child_problem(rules, self.child_birth_date.data, today)))
        for name, problem in checks:
            if problem:
                self[name].errors.append(problem)
                valid = False
        self._one_message_for_a_missing_address()
        return valid

    def _one_message_for_a_missing_address(self) -> None:
        """An address left out whole is one mistake, not three: one message, on its first line."""
        parts = [self._fields.get(name) for name in ("street", "postcode", "city")]
        if not all(part is not None and part.errors and not (part.data or "").strip() for part in parts):
            return
        street, *others = parts
        street.errors[:] = [_("Please fill in your address.")]  # type: ignore[union-attr]
        for part in others:
            part.errors[:] = []  # type: ignore[union-attr]

    def validate_phone(self, field: Field) -> None:
        if not field.data:
            return
        region = self.country.data if hasattr(self, "country") and self.country.data else "NL"
        try:
            number = phonenumbers.parse(field.data, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationError(
                _(
                    "This is not a valid phone number; include the country code if it is not "
                    "from the country you live in, e.g. +32 470 12 34 56."
                )
            )
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def answers(self) -> dict[str, str]:
        """The answers to keep, as text (dates in ISO form); CSRF token and empty child fields left out."""
        out: dict[str, str] = {}
        for field in self:
            if field.name == "csrf_token" or field.data in (None, ""):
                continue
            if (
                field.name.startswith("child_")
                and getattr(self, "for_whom", None) is not None
                and self.for_whom.data != "child"
            ):
                continue
            value = field.data.isoformat() if isinstance(field.data, dt.date) else str(field.data).strip()
            out[field.name] = value
        return out


def build_address_form(loaded: LoadedCampaign, language: str, **kwargs: Any) -> FlaskForm:
    """The verify page's form to correct the e-mail address: the join form's own e-mail question (same label, same
    checks, same messages), alone."""
    config = loaded.campaign.signup
    assert config is not None
    spec = next(spec for spec in config.fields if spec.field == "email")  # the schema makes every form ask it
    form_class = type("AddressForm", (FlaskForm,), {"Meta": SignupForm.Meta, **catalogue(spec, language, loaded)})
    return form_class(**kwargs)


# Form classes by (campaign, language), kept while that version of the campaign is served: building one (a few
# hundred countries, translated labels, plugin questions) costs more than validating a whole sign-up.
_form_classes: dict[tuple[str, str], tuple[LoadedCampaign, type[SignupForm]]] = {}


def build_form(loaded: LoadedCampaign, language: str, **kwargs: Any) -> SignupForm:
    """The sign-up form of ``loaded`` in ``language`` (kwargs go to the form, e.g. ``formdata``)."""
    cached = _form_classes.get((loaded.slug, language))
    if cached is not None and cached[0] is loaded:
        form_class = cached[1]
    else:
        form_class = _form_class(loaded, language)
        if len(_form_classes) > 256:
            _form_classes.clear()
        _form_classes[(loaded.slug, language)] = (loaded, form_class)
    form = form_class(**kwargs)
    form.loaded, form.language = loaded, language
    return form


def _form_class(loaded: LoadedCampaign, language: str) -> type[SignupForm]:
    config = loaded.campaign.signup
    assert config is not None
    fields: dict[str, Any] = {}
    for spec in config.fields:
        fields.update(catalogue(spec, language, loaded))
    if config.eligibility.minors == "parent":
        fields["for_whom"] = RadioField(
            _("I am joining for"),
            choices=[
                SelectChoice("self", _("myself")),
                SelectChoice("child", _("my child (I am the parent or guardian)")),
            ],
            default="self",
            validators=[InputRequired(message=_("Please choose who you are joining for."))],
        )
        fields["child_name"] = StringField(_("Your child's full name"), [Optional(), Length(max=200)])
        fields["child_birth_date"] = IsoDateField(_("Your child's date of birth"), [Optional()])
    for extra in site().plugins.call(
        "claimsite_signup_fields", loaded.enabled_plugins, campaign=loaded, language=language
    ):
        fields.update(extra)
    return type("CampaignSignupForm", (SignupForm,), fields)


__all__ = ["EU_EEA_CH", "SignupForm", "build_address_form", "build_form", "country_choices"]
