"""datenanfragen.de's company records (JSON) into company files (``campaigns/_shared/companies/<slug>.yaml``).

A record is read as it is: one record per file (their repository's ``companies/<slug>.json``), or a JSON list of
records (their full database dump, some 4,000). Each record is validated by the catalogue's own model before it is
written, so what is written loads; a record the model refuses is reported and skipped, and the others are written.
The country is filled from the address's last line when it names one (:mod:`core.campaigns.countries`).

An existing file is never overwritten, unless asked (``update``): then the record's fields replace the file's
datenanfragen.de fields (a field the record no longer has goes too) and our own fields (``OUR_FIELDS``) are kept.
Each record costs one validation and one write (and, to update, one read of its own file): the import never reads
the rest of the catalogue again, so the whole dump takes seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from core.campaigns.companies import OUR_FIELDS, Company, companies_folder, missing_facts
from core.campaigns.config_files import YamlDocument, read_yaml_mapping, validation_problems
from core.campaigns.countries import country_of_address
from core.campaigns.errors import CampaignConfigError, ConfigProblem

HEADER = (
    "# {name}: a company that data requests go to (campaigns/_shared/README.md).\n"
    "# Its fields are datenanfragen.de's record (CC0 1.0), which 'flask companies import --update' replaces,\n"
    "# except our own: {ours}, written last.\n"
)


@dataclass(frozen=True)
class RecordOutcome:
    """What became of one record: ``written`` (a new file), ``updated``, ``refused`` (the file exists and no update
    was asked) or ``invalid`` (not written; ``problems`` say why). ``warnings`` are what the written file lacks."""

    source: str
    outcome: Literal["written", "updated", "refused", "invalid"]
    path: Path | None = None
    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome in ("refused", "invalid")


def import_records(files: Sequence[Path], campaigns_dir: Path, *, update: bool = False) -> Iterator[RecordOutcome]:
    """Each record of each JSON file in ``files``, written as a company file under ``campaigns_dir``; yields the
    outcome of each as it is done (and one ``invalid`` outcome for a file that is no JSON record or list of them)."""
    folder = companies_folder(campaigns_dir)
    folder.mkdir(parents=True, exist_ok=True)
    existing = {path.stem for path in folder.glob("*.yaml")}
    for path in files:
        try:
            records = read_records(path)
        except CampaignConfigError as exc:
            yield RecordOutcome(str(path), "invalid", problems=exc.problems)
            continue
        for index, record in enumerate(records):
            source = str(path) if len(records) == 1 and index == 0 else f"{path}, record {index + 1}"
            outcome = _import_one(record, source, folder, existing, update)
            if outcome.path is not None and not outcome.failed:
                existing.add(outcome.path.stem)
            yield outcome


def read_records(path: Path) -> list[Any]:
    """The records in a JSON file: the one record it holds, or its list; raises :class:`CampaignConfigError`
    (with the line) when it is no JSON, or neither."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise CampaignConfigError([ConfigProblem(str(path), None, "", f"cannot be read: {exc}")]) from None
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(str(path), None, "", f"is not UTF-8 text ({exc.reason}); save the file as UTF-8")
        raise CampaignConfigError([problem]) from None
    except json.JSONDecodeError as exc:
        problem = ConfigProblem(str(path), exc.lineno, "", f"is not valid JSON: {exc.msg} (column {exc.colno})")
        raise CampaignConfigError([problem]) from None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    message = "expected a datenanfragen.de company record ({...}) or a list of them ([{...}, ...])"
    raise CampaignConfigError([ConfigProblem(str(path), None, "", message)])


def _import_one(record: Any, source: str, folder: Path, existing: set[str], update: bool) -> RecordOutcome:
    if not isinstance(record, dict):
        message = f"expected a company record ({{...}}), got {type(record).__name__}"
        return RecordOutcome(source, "invalid", problems=[ConfigProblem(source, None, "", message)])
    try:
        company = Company.model_validate(record)  # the record alone first: its own mistakes, named as its own
    except ValidationError as exc:
        return RecordOutcome(source, "invalid", problems=validation_problems(exc, Company, YamlDocument(None), source))
    slug = company.slug
    target = folder / f"{slug}.yaml"
    ours: dict[str, Any] = {}
    if slug in existing:
        if not update:
            message = (
                f"{target} exists already: pass --update to replace its datenanfragen.de fields (its own fields "
                f"{', '.join(OUR_FIELDS)} are kept)"
            )
            return RecordOutcome(source, "refused", target, [ConfigProblem(source, None, "slug", message)])
        try:
            ours = _our_fields(target)
        except CampaignConfigError as exc:
            note = ConfigProblem(
                source, None, "", f"not imported: {target} cannot be read, so its own fields cannot be kept"
            )
            return RecordOutcome(source, "invalid", target, [note, *exc.problems])
    data = {key: value for key, value in record.items() if key not in OUR_FIELDS}
    data.update({key: record[key] for key in OUR_FIELDS if key in record and key not in ours})
    data.update(ours)
    if "country" not in data and (country := country_of_address(company.address)):
        data["country"] = country
    try:
        company = Company.model_validate(data)
    except ValidationError as exc:  # the file's own fields (kept) do not validate
        return RecordOutcome(source, "invalid", target, validation_problems(exc, Company, YamlDocument(None), source))
    _write(target, company_yaml(data))
    return RecordOutcome(
        source, "updated" if slug in existing else "written", target, warnings=missing_facts(company, str(target))
    )


def _our_fields(path: Path) -> dict[str, Any]:
    """Our own fields of an existing company file, in the order they are written."""
    _, _, data = read_yaml_mapping(path, "company fields")
    return {key: data[key] for key in OUR_FIELDS if key in data}


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block style, and a text of several lines (an address) as a literal block: one address line a line."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def company_yaml(data: dict[str, Any]) -> str:
    """A company file: a comment that says where the fields come from, then the record's fields in its order, ours
    last."""
    theirs = {key: value for key, value in data.items() if key not in OUR_FIELDS}
    ours = {key: data[key] for key in OUR_FIELDS if key in data}
    name = str(data.get("name", data.get("slug", ""))).replace("\n", " ")
    header = HEADER.format(name=name, ours=", ".join(OUR_FIELDS))
    return header + _dump(theirs) + (_dump(ours) if ours else "")


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)


def _write(path: Path, text: str) -> None:
    """Write the file whole or not at all: a reader (the site, a check) never sees half a company."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
