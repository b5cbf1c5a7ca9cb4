"""Fuzzing the campaign loader with hypothesis: whatever a campaign file, agreement text or page says, loading it
either works or ends in the loader's own error, whose every problem names the file, the line and what is wrong;
and every campaign that loads renders its pages without a server error.

The inputs are the shipped campaign files, mutated as text (lines deleted, doubled, swapped or re-indented, values
replaced by raw YAML such as ``2026-02-30``, ``*alias`` or ``!!binary``, random characters inserted) and as data
(a random value or key replaced by random text, numbers, dates, lists or mappings, then written back as YAML); and
the shipped agreement texts and pages, mutated as text and as bytes.

The examples are derandomized, so CI runs the same ones each time; ``CLAIMSITE_FUZZ_EXAMPLES=5000`` runs more,
with a new random seed each run (``CLAIMSITE_FUZZ_SEED`` repeats one).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from core.campaigns import CampaignConfigError, load_campaign_file
from core.plugins import PluginHost
from core.signup.agreements import agreement_text
from tests.conftest import SHIPPED_CAMPAIGNS, CampaignFolder

SCHEMAS = PluginHost().settings_schemas
SHIPPED = sorted(path.name for path in SHIPPED_CAMPAIGNS.glob("*.yaml"))
SHIPPED_TEXTS = sorted(str(p.relative_to(SHIPPED_CAMPAIGNS)) for p in SHIPPED_CAMPAIGNS.glob("*/*/*.md"))

LONGER = int(os.environ.get("CLAIMSITE_FUZZ_EXAMPLES", "0"))
LOAD_EXAMPLES = LONGER or 200
RENDER_EXAMPLES = LONGER // 4 or 80
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=not LONGER,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
SEED = os.environ.get("CLAIMSITE_FUZZ_SEED")
seeded = seed(int(SEED)) if SEED else (lambda test: test)

# -- what goes in ---------------------------------------------------------------------------------------------
# Raw YAML a person might type, or that breaks something: values that do not exist, tags, aliases, merge keys,
# special numbers, keys that are no names, placeholders.
RAW_YAML = [
    "2026-02-30",
    "2026-13-01",
    "2026-01-01 25:00:00",
    "2026-01-01 10:00:00 +25:00",
    "0001-01-01",
    "9999-12-31",
    "1900-01-01",
    "2026-06-01T10:00:00Z",
    "9" * 5000,
    "0x" + "f" * 500,
    "-1",
    "0",
    "1e400",
    ".nan",
    "-.inf",
    "~",
    "no",
    "yes",
    "on",
    "''",
    "[]",
    "{}",
    "[[[[[[[[]]]]]]]]",
    "&anchor [1, 2]",
    "*anchor",
    "*nowhere",
    "&self [*self]",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!python/object:os.system x",
    "!!int abc",
    "!!float abc",
    "!!bool maybe",
    "!!timestamp never",
    "!!str",
    "!!map",
    "!unknown x",
    "{<<: [1, 2]}",
    "{? [a] : b}",
    "{1: x}",
    "{null: x}",
    "{no: Nei}",
    "'{{ campain }}'",
    "'{{ campaign '",
    "'{campaign}'",
    "xx",
    "de",
    "'#12345g'",
    "a\tb",
]
RAW_LINES = [
    "<<: *anchor",
    "<<: {status: open}",
    "anchor: &anchor {nl: Tekst, en: Text}",
    "? [a, b]\n: c",
    "1: one",
    "null: nothing",
    "no: Nei",
    "--- second document",
    "...",
    "%YAML 1.1",
    "key: value: other",
    "\t- tab",
]
EDGE_NUMBERS = [0, -1, 1, 0.001, 10**9, 10**9 + 1, 10**30, 10**4000, -(10**4000), 1e300, float("inf")]
# Text that is valid where text goes but may trip a page up.
PLAUSIBLE_TEXTS = [
    "nl",
    "en",
    "de",
    "xx",
    "open",
    "closed",
    "{{ campain }}",
    "{{ campaign",
    "{%",
    "#",
    "*",
    "- a",
    "<b>",
]
text_chars = st.characters(blacklist_categories=("Cs",))
texts = st.text(text_chars, max_size=40)
dates = st.one_of(st.dates(), st.sampled_from([dt.date.min, dt.date.max, dt.date(1970, 1, 1)]))
leaf_values = st.one_of(
    texts,
    st.integers(),
    st.integers(min_value=-(10**4000), max_value=10**4000),
    st.floats(),
    st.booleans(),
    st.none(),
    dates,
    st.datetimes(),
    st.sampled_from(["", " ", "nl", "en", "xx", "open", "closed", "{{ campain }}", "{{ campaign", "x.example"]),
)
values = st.recursive(
    leaf_values,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``data`` a value sits (and every mapping key, marked by a trailing ``...``)."""
    out = [path]
    if isinstance(data, dict):
        for key, item in data.items():
            out.append((*path, key, ...))
            out += _paths(item, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            out += _paths(item, (*path, index))
    return out


def _replace(data: Any, path: tuple[Any, ...], new: Any) -> Any:
    """``data`` with the value at ``path`` replaced by ``new`` (or, for a key path, the key renamed to ``new``)."""
    if not path:
        return new
    if path[-1] is ...:
        parent = _get(data, path[:-2])
        items = list(parent.items())
        index = [k for k, _ in items].index(path[-2])
        items[index] = (new if isinstance(new, Hashable) else str(new), items[index][1])
        parent.clear()
        parent.update(items)
        return data
    _get(data, path[:-1])[path[-1]] = new
    return data


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def data_mutations(draw: st.DrawFn, text: str) -> str:
    """``text``'s data with one to three values or keys replaced, written back as YAML."""
    data = copy.deepcopy(yaml.safe_load(text))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        new = draw(texts if path and path[-1] is ... and draw(st.booleans()) else values)
        data = _replace(data, path, new)
    return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)


def _like(draw: st.DrawFn, old: Any) -> Any:
    """A value of the same kind as ``old``, to keep a file valid-looking: any text for text, any date for a date,
    any number for a number, a list with items dropped or doubled for a list."""
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return draw(st.one_of(st.integers(), st.sampled_from(EDGE_NUMBERS)))
    if isinstance(old, float):
        return draw(st.one_of(st.floats(), st.sampled_from(EDGE_NUMBERS)))
    if isinstance(old, dt.date):
        return draw(dates)
    if isinstance(old, str) and len(old) == 2:  # a language code, mostly
        return draw(st.sampled_from(["nl", "en", "de", "fr", "xx", "zz", "no"]))
    if isinstance(old, str):
        return draw(st.one_of(st.text(text_chars, min_size=1, max_size=200), st.sampled_from(PLAUSIBLE_TEXTS)))
    if isinstance(old, list) and old and draw(st.booleans()):  # one item changed
        changed = copy.deepcopy(old)
        at = draw(st.integers(0, len(old) - 1))
        changed[at] = _like(draw, old[at])
        return changed
    if isinstance(old, list):  # items dropped, doubled or reordered
        return copy.deepcopy(draw(st.lists(st.sampled_from(old), max_size=len(old) + 1)) if old else [])
    return old


@st.composite
def plausible_mutations(draw: st.DrawFn, text: str) -> str:
    """``text``'s data with one to three values replaced by values of the same kind, written back as YAML: files
    that mostly still load, to see their pages render."""
    data = copy.deepcopy(yaml.safe_load(text))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p and p[-1] is not ...]
        # Numbers, dates and lists are few among the texts, and trip pages up more often: half the draws take one.
        rare = [p for p in paths if not isinstance(_get(data, p), str | dict)]
        path = draw(st.sampled_from(rare) if rare and draw(st.booleans()) else st.sampled_from(paths))
        data = _replace(data, path, _like(draw, _get(data, path)))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _set_value(line: str, raw: str) -> str:
    key, colon, _ = line.partition(": ")
    return f"{key}: {raw}" if colon else f"{line} {raw}"


@st.composite
def text_mutations(draw: st.DrawFn, text: str, raw: list[str] | None = None) -> str:
    """``text`` with one to four lines deleted, doubled, swapped, re-indented, given a raw YAML value or line, or
    with random characters inserted."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            lines = [""]
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(
            st.sampled_from(["delete", "double", "swap", "indent", "value", "line", "chars"] if raw else ["chars"] * 3)
        )
        if kind == "delete":
            del lines[at]
        elif kind == "double":
            lines.insert(at, lines[at])
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "indent":
            shift = draw(st.integers(-4, 4))
            lines[at] = " " * max(0, shift) + (lines[at][-shift:] if shift < 0 else lines[at])
        elif kind == "value":
            lines[at] = _set_value(lines[at], draw(st.sampled_from(raw or [""])))
        elif kind == "line":
            indent = len(lines[at]) - len(lines[at].lstrip(" "))
            lines.insert(at, " " * indent + draw(st.sampled_from(RAW_LINES)))
        else:
            column = draw(st.integers(0, len(lines[at])))
            noise = draw(st.one_of(texts, st.sampled_from(["{{", "}}", "{{ x }}", "{%", "\x00", "\x1b", "\ufeff"])))
            lines[at] = lines[at][:column] + noise + lines[at][column:]
    return "\n".join(lines)


def campaign_texts(name: str) -> st.SearchStrategy[str]:
    original = (SHIPPED_CAMPAIGNS / name).read_text(encoding="utf-8")
    return st.one_of(text_mutations(original, RAW_YAML), data_mutations(original))


campaign_files = st.sampled_from(SHIPPED).flatmap(lambda name: st.tuples(st.just(name), campaign_texts(name)))


def plausible_texts(name: str) -> st.SearchStrategy[str]:
    return plausible_mutations((SHIPPED_CAMPAIGNS / name).read_text(encoding="utf-8"))


# For the pages: mostly files that still load after the mutation, some that may not.
rendered_files = st.sampled_from(SHIPPED).flatmap(
    lambda name: st.tuples(st.just(name), st.one_of(plausible_texts(name), plausible_texts(name), campaign_texts(name)))
)


@st.composite
def document_bytes(draw: st.DrawFn, relative: str) -> bytes:
    """A shipped agreement text or page, mutated as text, or with bytes that are not UTF-8."""
    text = (SHIPPED_CAMPAIGNS / relative).read_text(encoding="utf-8")
    if draw(st.booleans()):
        return draw(text_mutations(text)).encode("utf-8", "surrogatepass")
    data = text.encode("utf-8")
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\x80abc", b"\xfe\xff"])) + data[at:]


documents = st.one_of(
    st.none(), st.sampled_from(SHIPPED_TEXTS).flatmap(lambda r: st.tuples(st.just(r), document_bytes(r)))
)


# -- what must come out --------------------------------------------------------------------------------------
def assert_loads_or_explains(path: Path, folder: Path) -> bool:
    """Load ``path``: True when it loads; False when it raises the loader's error, every problem of which names a
    file of the campaigns folder, says what is wrong, and gives a line when the file has one."""
    try:
        load_campaign_file(path, SCHEMAS)
    except CampaignConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert Path(problem.file).is_relative_to(folder), problem
            assert problem.message.strip(), problem
            assert problem.line is not None or "empty file" in problem.message, problem
            assert "Traceback" not in str(problem)
        return False
    return True


class Files:
    """The campaigns folder of one test: writes a mutated file and puts every mutated file back afterwards; each
    write gets a newer modification time, so the registry sees it whatever the file system's clock resolution."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.originals: dict[Path, bytes] = {}
        self.clock = itertools.count(2_000_000_000 * 10**9, 10**9)

    def write(self, relative: str, data: bytes) -> Path:
        path = self.folder / relative
        self.originals.setdefault(path, path.read_bytes())
        path.write_bytes(data)
        stamp = next(self.clock)
        os.utime(path, ns=(stamp, stamp))
        return path

    def restore(self) -> None:
        for path, data in self.originals.items():
            path.write_bytes(data)
            stamp = next(self.clock)
            os.utime(path, ns=(stamp, stamp))
        self.originals.clear()


@pytest.fixture
def files(campaign_folder: CampaignFolder) -> Files:
    campaign_folder.copy_shipped()
    return Files(campaign_folder.path)


def test_mutated_campaign_files_load_or_are_explained(files: Files) -> None:
    outcomes: set[bool] = set()

    @settings(FUZZ, max_examples=LOAD_EXAMPLES)
    @seeded
    @given(campaign_files, documents)
    def load(campaign: tuple[str, str], document: tuple[str, bytes] | None) -> None:
        try:
            name, text = campaign
            path = files.write(name, text.encode("utf-8", "surrogatepass"))
            if document is not None:
                files.write(*document)
            outcomes.add(assert_loads_or_explains(path, files.folder))
        finally:
            files.restore()

    load()
    assert outcomes == {True, False}  # both loading and refused files were tried


def _edited(name: str, old: str, new: str) -> tuple[str, str]:
    text = (SHIPPED_CAMPAIGNS / name).read_text(encoding="utf-8")
    assert old in text, (name, old)
    return name, text.replace(old, new, 1)


# Valid-looking values that once made a page fail: each is tried on every run, before the random examples.
ONCE_BROKE_A_PAGE = [
    _edited("zoomclaim.yaml", "baseline: 566", f"baseline: {10**30}"),  # the counter's number format
    _edited("tiktokclaim.yaml", "claim_amount: 500", f"claim_amount: {10**30}"),  # the amount's money format
    _edited("tiktokclaim.yaml", "claim_amount: 500", "claim_amount: 1e300"),
    _edited("tiktokclaim.yaml", "languages: [nl, en]", "languages: [nl, en, xx]"),  # no locale for dates
    _edited("tiktokclaim.yaml", "opens: 2020-07-28", "opens: 0001-01-01"),
    _edited("palantirclaim.yaml", "status: pre-registration", "status: pre-registration\nopens: 9999-12-31"),
    _edited("tiktokclaim.yaml", "since: 2020-07-28", "since: 9999-12-31"),
]


def _regressions(test: Callable[..., None]) -> Callable[..., None]:
    for campaign in reversed(ONCE_BROKE_A_PAGE):
        test = example(campaign, None)(test)
    return test


RENDERED = ("", "join", "privacy", "terms")


def render_everything(app: Flask, slug: str) -> None:
    """Every page of ``slug`` in each of its languages, and its agreement texts: none may be a server error."""
    services = app.extensions["claimsite"]
    loaded = services.registry.snapshot.campaigns[slug]
    c = loaded.campaign
    client = app.test_client()
    for language in c.languages:
        prefix = "" if language == c.default_language else f"/{language}"
        for page in RENDERED:
            response = client.get(f"{prefix}/{page}", base_url=f"http://{slug}.localhost:5000")
            assert response.status_code < 500, (language, page)
        for agreement in c.signup.agreements if c.signup else []:
            for names in (("", ""), ("Ann O'Neil", "Kid **Bold**")):
                with app.app_context():
                    str(agreement_text(services.settings.campaigns_dir, loaded, agreement, language, *names).html)


def test_campaigns_that_load_render_every_page(files: Files, make_app: Callable[..., Flask]) -> None:
    app = make_app(env="development", campaigns_dir=files.folder)
    registry = app.extensions["claimsite"].registry
    rendered: list[str] = []

    @settings(FUZZ, max_examples=RENDER_EXAMPLES)
    @seeded
    @given(rendered_files, documents)
    @_regressions
    def render(campaign: tuple[str, str], document: tuple[str, bytes] | None) -> None:
        try:
            name, text = campaign
            path = files.write(name, text.encode("utf-8", "surrogatepass"))
            if document is not None:
                files.write(*document)
            if not assert_loads_or_explains(path, files.folder):
                return
            registry.load()  # what a request in development does after an edit
            if any(problem.file == str(path) for problem in registry.snapshot.errors):
                return  # refused for what it shares with another campaign (an address, a theme, a sister)
            assert registry.snapshot.campaigns[path.stem].path == path
            render_everything(app, path.stem)
            rendered.append(path.stem)
        finally:
            files.restore()

    render()
    assert len(rendered) >= RENDER_EXAMPLES // 10, rendered  # a fair share of the examples was rendered
