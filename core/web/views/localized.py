"""Blueprints whose pages exist in every language of the campaign: ``/page`` in the default language and
``/<lang>/page`` in the others. The URL alone says the language (see :func:`_choose_language`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, redirect, request, url_for

from core.site import current_campaign


def localized_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint whose routes (added with :func:`localized_route`) get the language handling."""
    bp = Blueprint(name, import_name, **options)
    bp.url_value_preprocessor(_pull_language)
    bp.url_defaults(_add_language)
    bp.before_request(_choose_language)
    return bp


def localized_route(bp: Blueprint, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view at ``rule`` (default language) and at ``/<lang>rule`` (other languages)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, view_func=view, defaults={"lang": None}, **options)
        bp.add_url_rule(f"/<lang:lang>{rule}", view_func=view, **options)
        return view

    return decorator


def _pull_language(endpoint: str | None, values: dict | None) -> None:
    g.lang_in_url = values.pop("lang", None) if values else None


def _is_localized(endpoint: str | None) -> bool:
    return endpoint is not None and current_app.url_map.is_endpoint_expecting(endpoint, "lang")


def _add_language(endpoint: str, values: dict) -> None:
    """Links to pages stay in the page's language unless another is asked for; the default has no prefix."""
    if not _is_localized(endpoint):
        return
    campaign = current_campaign().campaign
    language = values.get("lang", getattr(g, "lang", None))
    values["lang"] = None if language in (None, campaign.default_language) else language


def _choose_language() -> Response | None:
    """The page's language is the one its URL names, and nothing else: no cookie, no Accept-Language, so a public
    page depends on its URL alone and a shared cache may keep it (:mod:`core.web.caching`). The browser suggests
    the visitor's own language instead (``js/language_notice.js``)."""
    campaign = current_campaign().campaign
    in_url = g.lang_in_url
    if in_url is None:
        g.lang = campaign.default_language
        return None
    if in_url == campaign.default_language:
        values = dict(request.view_args or {})
        return redirect(url_for(request.endpoint or "pages.landing", **values, lang=None), 301)
    if in_url not in campaign.languages:
        abort(404)
    g.lang = in_url
    return None
