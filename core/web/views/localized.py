"""Blueprints whose pages exist in every language of the campaign: ``/page`` in the default language and
``/<lang>/page`` in the others, with the language remembered in a cookie and Accept-Language followed once."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, redirect, request, url_for
from werkzeug.http import dump_cookie

from core.i18n import LANGUAGE_COOKIE
from core.site import current_campaign
from core.web.assets import ONE_YEAR


def localized_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint whose routes (added with :func:`localized_route`) get the language handling."""
    bp = Blueprint(name, import_name, **options)
    bp.url_value_preprocessor(_pull_language)
    bp.url_defaults(_add_language)
    bp.before_request(_choose_language)
    bp.after_request(_remember_language)
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
    campaign = current_campaign().campaign
    in_url = g.lang_in_url
    if in_url is None:
        g.lang = campaign.default_language
        if (
            request.method == "GET"
            and "HTTP_ACCEPT_LANGUAGE" in request.environ
            and LANGUAGE_COOKIE not in request.cookies
            and _is_localized(request.endpoint)
        ):
            # First visit to an unprefixed page: follow the browser's preference once.
            preferred = request.accept_languages.best_match(campaign.languages)
            if preferred and preferred != campaign.default_language:
                response = redirect(
                    url_for(request.endpoint or "pages.landing", **(request.view_args or {}), lang=preferred)
                )
                response.vary.update(("Accept-Language", "Cookie"))
                return response
        return None
    if in_url == campaign.default_language:
        values = dict(request.view_args or {})
        return redirect(url_for(request.endpoint or "pages.landing", **values, lang=None), 301)
    if in_url not in campaign.languages:
        abort(404)
    g.lang = in_url
    return None


@lru_cache(maxsize=64)
def _language_cookie(language: str, path: str, secure: bool, hour: int) -> str:
    """The Set-Cookie value remembering a language; made once an hour per variant, as it is sent very often.
    (Its Expires date is at most an hour early; browsers go by Max-Age.)"""
    return dump_cookie(
        LANGUAGE_COOKIE, language, max_age=ONE_YEAR, path=path, secure=secure, httponly=True, samesite="Lax"
    )


def _remember_language(response: Response) -> Response:
    language = getattr(g, "lang", None)
    if language and response.status_code == 200 and request.cookies.get(LANGUAGE_COOKIE) != language:
        cookie = _language_cookie(language, request.script_root or "/", request.is_secure, int(time.time()) // 3600)
        response.headers.add("Set-Cookie", cookie)
    if g.lang_in_url is None:  # an unprefixed page may redirect on Accept-Language unless the cookie is set
        if "Vary" in response.headers:
            response.vary.update(("Accept-Language", "Cookie", "Host"))
        else:
            response.headers["Vary"] = "Accept-Language, Cookie, Host"
    return response
