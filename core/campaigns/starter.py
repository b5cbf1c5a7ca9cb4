"""A new campaign from the starter (``flask campaigns new``): a commented campaign file that is valid from the start,
and the texts of its agreement in both of its languages.

The starter lives in ``starter_files/`` laid out as it is written: ``campaign.yaml`` becomes
``campaigns/<slug>.yaml`` (with the slug and hosts filled in) and ``agreements/*`` go, as they are, to
``campaigns/<slug>/agreements/``. What is written is checked with the real loader; if it does not load (a slug or
host that is not valid), everything written is taken away again, so a failed ``new`` leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, TypeAdapter, ValidationError

from core.campaigns.errors import CampaignConfigError
from core.campaigns.loader import LoadedCampaign, load_campaign_file
from core.campaigns.schema import Slug

STARTER = Path(__file__).resolve().parent / "starter_files"
SLUG = "__SLUG__"
HOST_LINE = "  - __HOST__"


class StarterError(Exception):
    """Nothing was written; the message says why."""


def starter_files(campaigns_dir: Path, slug: str, hosts: Sequence[str]) -> dict[Path, str]:
    """What :func:`write_starter` writes: each target path and its text."""
    text = (STARTER / "campaign.yaml").read_text(encoding="utf-8").replace(SLUG, slug)
    host_lines = "\n".join(f"  - {host}" for host in (hosts or (f"{slug}.example.org",)))
    files = {campaigns_dir / f"{slug}.yaml": text.replace(HOST_LINE, host_lines)}
    for source in sorted((STARTER / "agreements").iterdir()):
        files[campaigns_dir / slug / "agreements" / source.name] = source.read_text(encoding="utf-8")
    return files


def write_starter(
    campaigns_dir: Path, slug: str, hosts: Sequence[str], plugin_schemas: Mapping[str, type[BaseModel]]
) -> LoadedCampaign:
    """Write a new campaign ``slug`` into ``campaigns_dir`` and return it loaded. Never overwrites a file: raises
    :class:`StarterError` when one exists already, or when the result does not load."""
    try:
        TypeAdapter(Slug).validate_python(slug)  # before it makes any path: a slug is never '../x'
    except ValidationError:
        raise StarterError(
            f"'{slug}' is not a slug (2-40 lowercase letters, digits or '-', starting with a letter); nothing written"
        ) from None
    files = starter_files(campaigns_dir, slug, hosts)
    taken = [path for path in files if path.exists()]
    if taken:
        raise StarterError(
            f"{', '.join(map(str, taken))} already exist{'s' if len(taken) == 1 else ''}; "
            "edit what is there, or choose another slug"
        )
    made: list[Path] = []  # files and folders, in the order they were made
    try:
        for path, text in files.items():
            made += _make_folders(path.parent)
            path.write_text(text, encoding="utf-8")
            made.append(path)
        return load_campaign_file(next(iter(files)), plugin_schemas)
    except CampaignConfigError as exc:
        _take_away(made)
        raise StarterError(
            f"the new campaign does not load (a host that is not valid?), nothing written:\n{exc}"
        ) from None
    except OSError as exc:
        _take_away(made)
        raise StarterError(f"cannot write the campaign, nothing written: {exc}") from None


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; return the ones made, outermost first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    for path in missing:
        path.mkdir()
    return missing


def _take_away(made: list[Path]) -> None:
    for path in reversed(made):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
