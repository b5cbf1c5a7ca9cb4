"""What every YAML file staff edit shares on its way to a validated model: read as a mapping, the line of each
field, keys written twice, and pydantic's errors in words with file, line and field.

Campaign files (:mod:`core.campaigns.loader`) and the company catalogue (:mod:`core.campaigns.companies`) both go
through these, so a mistake in either is explained in the same words. Field names are read as the file writes them:
a model whose fields have aliases (the catalogue's ``relevant-countries``) is named by its aliases in every message.
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import UnionType
from typing import Any

import yaml
from pydantic import BaseModel, RootModel, ValidationError

from core.campaigns.errors import CampaignConfigError, ConfigProblem
from core.campaigns.text_files import read_utf8
from core.campaigns.yaml_nodes import YAMLContentError
from core.campaigns.yaml_parsing import parse_yaml

# What each pattern-constrained type means, in words for the person editing the file.
_PATTERN_WORDS = {
    "^[a-z][a-z0-9-]{1,39}$": "a slug: 2-40 lowercase letters, digits or '-', starting with a letter",
    "^[a-z]{2}$": "a two-letter lowercase language code such as 'nl' or 'en'",
    "^(https?://[^\\s]+|mailto:[^\\s@]+@[^\\s@]+)$": "a web address starting with https:// (or a mailto: address)",
    "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$": "an e-mail address",
    "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$": "a colour such as '#1a2b3c'",
    "^[a-z0-9][a-z0-9-]{0,99}$": "a slug: lowercase letters, digits or '-', starting with a letter or digit",
    "^https?://[^\\s]+$": "a web address starting with https://",
    "^[A-Z]{2}$": "a two-letter ISO 3166 country code in capitals, such as 'NL' or 'IE'",
    "^(all|[a-z]{2})$": "'all' or a two-letter lowercase country code such as 'nl'",
}


class YamlDocument:
    """The YAML node tree of one file, used to find the line of any field path."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """The line of the deepest node along ``loc`` that exists in the file (1-based)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if str(key_node.value) == str(part):
                        line = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    continue  # a pydantic union tag or a missing key: stay where we are
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                continue
        return line


def duplicate_keys(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Keys written twice in one mapping: YAML would silently keep the last one."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                yield (*path, key), key_node.start_mark.line + 1
            seen.add(key)
            yield from duplicate_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from duplicate_keys(item, (*path, index))


def duplicate_key_problems(file: str, root: yaml.Node | None) -> list[ConfigProblem]:
    """A problem for each key written twice in one mapping of the file."""
    return [
        ConfigProblem(file, line, path_of_field(loc), "this key is written twice; keep one")
        for loc, line in duplicate_keys(root)
    ]


def path_of_field(loc: tuple[Any, ...]) -> str:
    """A field path as a message names it: ``signup.agreements[0].version``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not any(c in part for c in "[(,"):
            out += f".{part}" if out else part
    return out


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union and validator tags from an error location."""
    return tuple(p for p in loc if isinstance(p, int) or not any(c in p for c in "[(,"))


def _written_names(model: type[BaseModel]) -> dict[str, str]:
    """Each field of ``model`` by the name a file writes it under (its alias, when it has one)."""
    return {info.alias or name: name for name, info in model.model_fields.items()}


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc``, to list its allowed keys."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, RootModel):
            current = _unwrap(current.model_fields["root"].annotation)
        if isinstance(current, type) and issubclass(current, BaseModel):
            names = _written_names(current)
            if part not in names:
                return None
            current = current.model_fields[names[part]].annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def explain(error: Mapping[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """One pydantic error, in words for the person editing the file."""
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        message = f"unknown key '{key}'"
        parent = _model_at(model, loc[:-1])
        if parent is not None:
            allowed = sorted(_written_names(parent))
            close = difflib.get_close_matches(str(key), allowed, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
            message += f" Allowed here: {', '.join(allowed)}"
        return message
    if kind == "missing":
        return "this field is required but missing"
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        words = _PATTERN_WORDS.get(pattern, f"text matching {pattern}")
        if "[a-z0-9]([a-z0-9-]" in pattern:
            words = "a host name such as 'example.org'" + (" followed by /path" if "(/[" in pattern else "")
        if pattern.startswith("^[A-Za-z0-9_-]+"):
            words = "a relative file name (no leading '/', no '..')"
        return f"expected {words}, got {_short_repr(given)}"
    if kind == "literal_error":
        return f"{error['msg'].replace('Input should be', 'expected')}, got {_short_repr(given)}"
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        return f"expected a date written as YYYY-MM-DD, got {_short_repr(given)}"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys to values (key: value), got {kind_of(given)}"
    if kind == "list_type":
        return f"expected a list (lines starting with '- '), got {kind_of(given)}"
    if kind in ("string_type",):
        return f"expected text, got {kind_of(given)}"
    if kind == "too_short":
        return "must not be empty"
    message = error["msg"]
    return f"{message[0].lower()}{message[1:]}, got {_short_repr(given)}" if "input" in error else message


def kind_of(value: Any) -> str:
    """What a value is, in words: 'a mapping', 'a list', 'nothing', or its type and value."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {_short_repr(value)}"


def _short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut short: a message quotes what was written, not a whole pasted page or a 4000-digit
    number."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for Python to write out (a hexadecimal one can be read in)
        return f"a number of about {int(value.bit_length() * math.log10(2))} digits"
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def validation_problems(
    exc: ValidationError, model: type[BaseModel], doc: YamlDocument, file: str, prefix: tuple[Any, ...] = ()
) -> list[ConfigProblem]:
    """Each error of ``exc`` (from validating ``model``) as a problem on the line where the file writes the field;
    ``prefix`` is the path of the validated data in the file."""
    problems = []
    for error in exc.errors():
        loc = _clean_loc(tuple(error["loc"]))
        full = (*prefix, *loc)
        problems.append(ConfigProblem(file, doc.line_of(full), path_of_field(full), explain(error, model, loc)))
    return problems


def read_yaml_mapping(path: Path, what: str) -> tuple[str, yaml.Node | None, dict[str, Any]]:
    """The file's text, its YAML node tree (for line numbers) and its data; raises :class:`CampaignConfigError`
    when it cannot be read, is no valid YAML, or holds anything but a mapping (of ``what``, in the message)."""
    file = str(path)
    text = read_utf8(path)
    try:
        root, data = parse_yaml(text)
    except YAMLContentError as exc:
        raise CampaignConfigError(
            [ConfigProblem(file, p.line, path_of_field(p.path), p.message) for p in exc.problems]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        raise CampaignConfigError(
            [ConfigProblem(file, line, "", f"is not valid YAML: {problem} (check indentation and quotes)")]
        ) from None
    except yaml.YAMLError as exc:
        raise CampaignConfigError([ConfigProblem(file, None, "", f"is not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        found = "an empty file" if data is None else kind_of(data)
        raise CampaignConfigError(
            [ConfigProblem(file, YamlDocument(root).line_of(()), "", f"expected a mapping of {what}, got {found}")]
        )
    return text, root, data
