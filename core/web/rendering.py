"""Rendering campaign pages: the template context, Jinja filters, and the short-lived page cache."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import get_global
from flask import Flask, Response, current_app, g, render_template, request, url_for
from flask_babel import force_locale, gettext
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from core import i18n
from core.campaigns import Campaign, Localized
from core.campaigns.addresses import campaign_url
from core.campaigns.markdown import render_inline, render_markdown
from core.campaigns.milestones import ShownMilestone, shown_milestones
from core.campaigns.naming import name_in_sentence
from core.campaigns.schedule import TAKING_SIGNUPS, Moment, moment_words, status_at, wall_clock
from core.campaigns.schema import Milestones, SisterLink
from core.campaigns.sections import Section, core_sections
from core.data_requests.settings import data_request_of
from core.money.fees import cost_summary, fee_model_for
from core.site import current_campaign, site
from core.web.request_campaign import campaign_schedule, campaign_status, request_time


def _text(ctx: Context, value: Localized | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Localized):
        return value.get_text(ctx["lang"], ctx["campaign"].default_language)
    return value


@pass_context
def text_filter(ctx: Context, value: Localized | str | None) -> str:
    """``{{ campaign.hero.title | t }}``: the text in the page's language, else the campaign's default."""
    return _text(ctx, value)


@pass_context
def markdown_filter(ctx: Context, value: Localized | str | None) -> Markup:
    """``{{ item.text | md }}``: localized Markdown rendered safely."""
    return render_markdown(_text(ctx, value))


@pass_context
def inline_markdown_filter(ctx: Context, value: Localized | str | None) -> Markup:
    return render_inline(_text(ctx, value))


@pass_context
def in_sentence_filter(ctx: Context, campaign: Campaign) -> str:
    """``{{ campaign | in_sentence }}``: the campaign as named inside a sentence, in the page's (or mail's)
    language (:func:`core.campaigns.naming.name_in_sentence`)."""
    return name_in_sentence(campaign, ctx["lang"], gettext)


@pass_context
def money_filter(ctx: Context, amount: Any) -> str:
    return i18n.money(amount, ctx["lang"])


@pass_context
def date_filter(ctx: Context, value: Any) -> str:
    return i18n.long_date(value, ctx["lang"])


def moment_text(value: Moment, language: str | None = None) -> str:
    """An ``opens``/``closes`` (or an instant of the schedule) in the page's language: the date alone ('30 November
    2026'), or the date and the time on the current campaign's clock ('30 November 2026 at 18:00')."""
    return moment_words(value, current_campaign().campaign.timezone, language or g.lang)


@pass_context
def moment_filter(ctx: Context, value: Moment) -> str:
    """``{{ campaign.closes | moment }}``: :func:`moment_text`."""
    return moment_text(value, ctx["lang"])


@pass_context
def number_filter(ctx: Context, value: int) -> str:
    return i18n.number(value, ctx["lang"])


@pass_context
def tpl(ctx: Context, name: str) -> str:
    """The template ``name`` looked up through the current campaign's chain (for include/extends)."""
    return f"campaign:{ctx['campaign'].slug}/{name}"


@pass_context
def asset_url(ctx: Context, filename: str, external: bool = False) -> str:
    """The fingerprinted URL of a static file of the current campaign's chain (absolute with ``external``, e.g. for
    a share image another site fetches)."""
    loaded = ctx["loaded"]
    path = site().assets.find(loaded, filename)
    if path is None:
        raise LookupError(f"no static file '{filename}' for campaign {loaded.slug}")
    return url_for("assets.static_file", digest=site().assets.digest(path), filename=filename, _external=external)


def language_url(language: str, external: bool = False) -> str:
    """This page in another language (absolute with ``external``, e.g. for hreflang)."""
    values = dict(request.view_args or {})
    values["lang"] = language
    return url_for(request.endpoint or "pages.landing", **values, _external=external)


@dataclass(frozen=True)
class LanguageNotice:
    """The hidden suggestion, written in ``code``, to read this page in ``code`` (shown by
    ``js/language_notice.js`` when the browser prefers that language over the page's)."""

    code: str
    url: str
    text: str
    close: str
    label: str


def language_notices(other_languages: list[str]) -> list[LanguageNotice]:
    """One :class:`LanguageNotice` per other language of the page: each in its own language, so a visitor who does
    not read the page's language can read the suggestion."""
    notices = []
    for code in other_languages:
        with force_locale(code):
            notices.append(
                LanguageNotice(
                    code,
                    language_url(code),
                    gettext("This page is also in %(language)s", language=language_name(code)),
                    gettext("Close"),
                    gettext("Language"),
                )
            )
    return notices


def og_locale(code: str) -> str:
    """A language as Open Graph writes it, language_TERRITORY ('nl' -> 'nl_NL', 'en' -> 'en_US'): the territory
    is the one CLDR thinks most likely."""
    likely = Locale.parse(get_global("likely_subtags").get(code, code))
    return f"{likely.language}_{likely.territory}" if likely.territory else likely.language


def language_name(code: str) -> str:
    """A language's name in that language: 'Nederlands', 'English'."""
    return Locale.parse(code).get_display_name(code).capitalize()


def signup_url() -> str | None:
    """Where the call to action leads: the sign-up form, once a sign-up blueprint is registered."""
    if "signup.start" not in current_app.view_functions or current_campaign().campaign.signup is None:
        return None
    return url_for("signup.start")


@pass_context
def sister_url(ctx: Context, sister: SisterLink) -> str:
    """A sister campaign's address: built for its host when given by slug, else the URL as written; empty when
    that campaign is not served (its file is broken, or it is a draft), so the link is left out."""
    if sister.campaign:
        loaded = site().registry.snapshot.campaigns.get(sister.campaign)
        if loaded is None or loaded.campaign.status == "draft":
            return ""
        return campaign_url(loaded, language=ctx["lang"] if ctx["lang"] in loaded.campaign.languages else None)
    return sister.url or ""


@pass_context
def joinable_sisters(ctx: Context) -> list[tuple[str, str]]:
    """``{{ joinable_sisters() }}``: the sister campaigns (given by slug) that take sign-ups now, as (label, address):
    what a closed campaign offers its visitors instead. Only those the clock says are open or pre-registering, so the
    list never sends anyone to another closed door."""
    found = []
    now = request_time()
    for sister in ctx["campaign"].sisters:
        loaded = site().registry.snapshot.campaigns.get(sister.campaign) if sister.campaign else None
        if loaded is None or loaded.campaign.signup is None or status_at(loaded.campaign, now) not in TAKING_SIGNUPS:
            continue
        found.append((_text(ctx, sister.label), sister_url(ctx, sister)))
    return [(label, url) for label, url in found if url]


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        t=text_filter,
        md=markdown_filter,
        mdi=inline_markdown_filter,
        in_sentence=in_sentence_filter,
        money=money_filter,
        date=date_filter,
        moment=moment_filter,
        number=number_filter,
    )
    app.jinja_env.globals.update(
        tpl=tpl,
        asset_url=asset_url,
        language_url=language_url,
        language_name=language_name,
        og_locale=og_locale,
        signup_url=signup_url,
        sister_url=sister_url,
        joinable_sisters=joinable_sisters,
        campaign_url=campaign_url,
        page_sections=page_sections,
        joining_costs=joining_costs,
        milestones_now=milestones_now,
        signup_steps=signup_steps,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def milestones_now(milestones: Milestones) -> list[ShownMilestone]:
    """``{{ milestones_now(section) }}``: the milestones to show today on the current campaign's clock."""
    c = current_campaign().campaign
    return shown_milestones(milestones, wall_clock(request_time(), ZoneInfo(c.timezone)).date())


def joining_costs() -> list[str]:
    """``{{ joining_costs() }}``: what joining the current campaign costs, in the page's language, from its fee
    model, so the landing page and the join form state the cost before anyone commits (issue 17)."""
    return cost_summary(current_campaign(), g.lang)


def signup_steps() -> list[tuple[str, str]]:
    """``{{ signup_steps() }}``: every step of joining, as (key, label), from the first: so the progress indicator
    shows the payment from the start when the fee model asks one before the sign-up counts, and a pre-registration
    only the steps it has."""
    steps = [("details", gettext("Your details")), ("verify", gettext("Verify e-mail"))]
    if campaign_status() == "pre-registration":  # nothing is signed or paid now (core.signup.flow)
        return [*steps, ("done", gettext("Done"))]
    model = fee_model_for(current_campaign())
    if data_request_of(current_campaign()) is not None:
        steps.append(("companies", gettext("Companies")))
    steps.append(("sign", gettext("Sign")))
    if model is not None and model.asks_payment():
        steps.append(("pay", gettext("Pay")))
    steps.append(("done", gettext("Done")))
    return steps


def page_sections() -> list[Section]:
    """The landing page's sections, the core ones and the enabled plugins', in order."""
    loaded = current_campaign()
    sections = core_sections(loaded, campaign_status())
    for found in site().plugins.call(
        "claimsite_page_sections", loaded.enabled_plugins, campaign=loaded, language=g.lang
    ):
        sections.extend(found)
    return sorted(sections, key=lambda s: s.order)


def page_context() -> dict[str, Any]:
    """Variables every campaign template gets."""
    loaded = current_campaign()
    c = loaded.campaign
    assets = site().assets
    colours = assets.colours_css(loaded)
    schedule, now = campaign_schedule(), request_time()
    finish_until = schedule.finish_until
    other_languages = [code for code in c.languages if code != g.lang]
    context: dict[str, Any] = {
        "loaded": loaded,
        "campaign": c,
        # what the campaign is now (core.campaigns.schedule): templates follow this, never campaign.status
        "status": campaign_status(),
        # the written closes, when that is why the campaign is closed now: the pages say since when
        "closed_on": c.closes if schedule.closed_by_clock(now) else None,
        # until when a sign-up confirmed before closes may still finish, while it may (core.web.join_closed)
        "finish_until": finish_until if finish_until and schedule.closed_by_clock(now) and now < finish_until else None,
        "lang": g.lang,
        "other_languages": other_languages,
        "language_notices": language_notices(other_languages),
        "colours_url": url_for("assets.colours", digest=assets.text_digest(colours)),
    }
    for extra in site().plugins.call(
        "claimsite_template_context", loaded.enabled_plugins, campaign=loaded, language=g.lang
    ):
        context.update(extra)
    return context


def _page_key(template: str) -> tuple[Hashable, ...]:
    """What a rendered page depends on besides what its view passes in: the address, the language, the campaign
    as published and its status now, the template."""
    environ = request.environ
    return (
        environ.get("HTTP_HOST"),
        environ.get("SCRIPT_NAME"),
        environ.get("PATH_INFO"),
        environ.get("wsgi.url_scheme"),
        g.lang,
        site().registry.snapshot.generation,
        campaign_status(),  # the clock opens and closes a campaign between two reloads
        template,
    )


def render_page(template: str, status: int = 200, cache: bool = True, **extra: Any) -> Response:
    """Render ``template`` through the campaign's chain; identical requests within a few seconds reuse it."""
    services = site()
    key = _page_key(template)
    page = services.page_cache.get(key) if cache else None
    if page is None:
        html = render_template(f"campaign:{current_campaign().slug}/{template}", **page_context(), **extra)
        if not cache:
            return Response(html.encode(), status=status, mimetype="text/html")
        page = services.page_cache.put(key, html.encode())
    response = Response(page.body, status=status, mimetype="text/html")
    response.set_etag(page.etag)  # used by public pages (core.web.caching.public_page); no cost to the others
    return response


HOLE = "\ue000{}\ue001"  # Unicode private-use characters: never in a template, never escaped by Jinja


def render_with_holes(template: str, shape: Hashable, fill: Mapping[str, str], **extra: Any) -> Response:
    """A page that differs per request only in a few values (``fill``: a number the visitor typed, a CSRF token):
    ``template`` is rendered with a placeholder for each of them once per ``shape`` (what else the view decided,
    e.g. which answers it shows) within the page cache's few seconds, and each request puts its values, escaped,
    in the placeholders. The template gets ``fill``'s names as variables, so it must use them for those values
    (``{{ csrf }}``, not ``csrf_token()``). For pages that are asked for often, such as the breach check's answer:
    rendering the whole page each time cost several times what the answer itself does."""
    services = site()
    key = (*_page_key(template), "holes", shape)
    page = services.page_cache.get(key)
    if page is None:
        holes = {name: HOLE.format(name) for name in fill}  # plain text: autoescaping leaves these characters be
        html = render_template(f"campaign:{current_campaign().slug}/{template}", **page_context(), **extra, **holes)
        page = services.page_cache.put(key, html.encode())
    text = page.body.decode()
    for name, value in fill.items():
        text = text.replace(HOLE.format(name), str(escape(value)))
    return Response(text, mimetype="text/html")
