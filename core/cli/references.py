"""Commands that take a sign-up's reference as an argument.

A reference is the first 12 characters of the sign-up's token (:func:`secrets.token_urlsafe`), so one in 64 begins
with '-', and click would read ``flask requests match -hAnnaDeVrie meta`` as the options ``-h -A -n ...``. A
command of class :class:`TakesReferences` takes such a word as the reference it is, without asking staff to type
``--`` first. Any other word that starts with '-' and is not one of the command's options is refused as before
("No such option"), so a mistyped option never passes for an argument.
"""

from __future__ import annotations

import re
from typing import Any

import click

from core.staff.lookup import REFERENCE_LENGTH

# What a reference looks like when it begins with '-': the token alphabet of secrets.token_urlsafe.
_DASHED_REFERENCE = re.compile(rf"-[A-Za-z0-9_-]{{{REFERENCE_LENGTH - 1}}}")


class TakesReferences(click.Command):
    """A click command whose arguments may be references that begin with '-' (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {**(kwargs.get("context_settings") or {}), "ignore_unknown_options": True}
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options: dict[str, click.Option] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                options.update(dict.fromkeys((*param.opts, *param.secondary_opts), param))
        words = iter(args)
        for word in words:
            if word == "--":
                break
            name = word.split("=", 1)[0]
            option = options.get(name)
            if option is not None:
                if not option.is_flag and not option.count and "=" not in word:
                    next(words, None)  # its value, which may begin with '-' too
            elif word.startswith("-") and len(word) > 1 and not _DASHED_REFERENCE.fullmatch(word):
                raise click.NoSuchOption(name, possibilities=sorted(options), ctx=ctx)
        return super().parse_args(ctx, args)
