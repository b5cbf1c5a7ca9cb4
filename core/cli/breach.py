"""``flask breach import`` and ``flask breach list``: the phone-number indexes of the leaks campaigns check against
(:mod:`core.breach`).

``import`` turns a dump into a dataset's index (:mod:`core.breach.importer`) and replaces the old one in one rename,
so a running site answers from the old index until the new one is whole. It prints counts and line numbers, never
a number or a value from the dump. Set ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) to date the index
with it instead of now: the same dump then gives a byte-identical file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
import phonenumbers
from flask import Flask
from flask.cli import with_appcontext

from core.breach.datasets import all_datasets
from core.breach.importer import DEFAULT_MEMORY, BreachImportError, import_dump
from core.breach.index_file import IndexFileError, index_path, open_index
from core.breach.numbers import key_check
from core.site import site


class ByteSize(click.ParamType):
    """An amount of memory as staff write it: ``256M``, ``1G``, ``512K`` or bytes (binary units)."""

    name = "size"
    _SIZE = re.compile(r"([0-9]+)\s*([KMG]?)i?B?", re.IGNORECASE)
    _UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        found = self._SIZE.fullmatch(str(value).strip())
        if found is None:
            self.fail(f"{value!r} is no size: write it like 256M, 1G or 512K", param, ctx)
        return int(found.group(1)) * self._UNITS[found.group(2).upper()]


@click.group("breach")
def breach_cli() -> None:
    """The phone-number indexes of the data breaches campaigns check against."""


@breach_cli.command("import")
@click.argument("dataset")
@click.argument("dump", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--default-region", help="How a number without country code is read (ISO 3166, e.g. NL); default: the dataset's."
)
@click.option(
    "--memory",
    type=ByteSize(),
    default=DEFAULT_MEMORY,
    show_default="256M",
    help="Memory for sorting; a larger dump is sorted in runs on disk.",
)
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Processes parsing the dump [default: CPUs].")
@click.option("--ignore-column", "ignore_columns", multiple=True, help="A column to leave out (repeat for more).")
@with_appcontext
def import_command(
    dataset: str, dump: Path, default_region: str | None, memory: int, jobs: int | None, ignore_columns: tuple[str, ...]
) -> None:
    """Import the leaked DUMP (CSV with a header row, a 'phone' column and one column per category) as the index of
    DATASET, replacing its index when done."""
    declared = all_datasets()
    if dataset not in declared:
        known = ", ".join(sorted(declared)) or "none (enable the breach_check plugin in a campaign file)"
        raise click.BadParameter(f"no campaign declares dataset '{dataset}'; known: {known}", param_hint="'DATASET'")
    settings = site().settings
    region = (default_region or declared[dataset].default_region).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise click.BadParameter(
            f"'{region}' is no country phonenumbers knows: e.g. NL, BE, DE", param_hint="'--default-region'"
        )
    folder = settings.resolved_breach_dir()
    started = time.monotonic()
    with click.progressbar(
        length=dump.stat().st_size,
        label=f"importing {dataset}",
        file=sys.stderr,
        item_show_func=lambda rows: f"{rows / max(time.monotonic() - started, 1e-9):,.0f} records/s" if rows else None,
    ) as bar:
        done = 0

        def progress(read: int, rows: int) -> None:
            nonlocal done
            bar.update(read - done, rows)
            done = read

        try:
            result = import_dump(
                dump,
                dataset_id=dataset,
                folder=folder,
                key=site().breach_key,
                default_region=region,
                memory_bytes=memory,
                ignore_columns=ignore_columns,
                jobs=jobs or os.cpu_count() or 1,
                imported_at=_source_date(),
                progress=progress,
            )
        except BreachImportError as exc:
            raise click.ClickException(str(exc)) from None
    rate = result.rows / result.seconds if result.seconds else 0.0
    click.echo(
        f"{dataset}: {result.records:,} numbers from {result.rows:,} rows in {result.seconds:.1f} s "
        f"({rate:,.0f} rows/s, {result.runs} sorted run(s)); version {result.version}; index {result.path}"
    )
    click.echo(f"categories: {', '.join(result.categories) or 'none'}")
    if result.ignored_columns:
        click.echo(f"columns left out: {', '.join(result.ignored_columns)}")
    if result.unreadable:
        lines = ", ".join(str(line) for line in result.first_unreadable_lines)
        more = ", ..." if result.unreadable > len(result.first_unreadable_lines) else ""
        click.echo(
            f"{result.unreadable:,} row(s) could not be read (no valid phone number, or a wrong number of "
            f"cells): line {lines}{more}"
        )


@breach_cli.command("list")
@with_appcontext
def list_command() -> None:
    """Each dataset a campaign declares, with its index: records, size, import date and version."""
    settings = site().settings
    folder = settings.resolved_breach_dir()
    ours = key_check(site().breach_key)
    declared = all_datasets()
    if not declared:
        click.echo("no campaign declares a dataset (enable the breach_check plugin in a campaign file)")
    for dataset_id, dataset in sorted(declared.items()):
        path = index_path(folder, dataset_id)
        try:
            index = open_index(path)
        except FileNotFoundError:
            click.echo(f"{dataset_id}: not imported yet (flask breach import {dataset_id} DUMP.csv)")
            continue
        except IndexFileError as exc:
            click.echo(f"{dataset_id}: {exc}")
            continue
        warning = "" if index.header.key_check == ours else "  MADE WITH ANOTHER CLAIMSITE_BREACH_KEY: import it again"
        click.echo(
            f"{dataset_id}: {index.records:,} numbers ({dataset.records:,} announced), {index.size_bytes / 2**20:,.1f} "
            f"MiB, imported {index.imported_at:%Y-%m-%d %H:%M} UTC, version {index.version}{warning}"
        )


def _source_date() -> dt.datetime | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    if not epoch.isdigit():
        raise click.ClickException("SOURCE_DATE_EPOCH must be a number of seconds since 1970")
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC)


def init_app(app: Flask) -> None:
    """Add ``flask breach`` to the app's command line."""
    app.cli.add_command(breach_cli)
