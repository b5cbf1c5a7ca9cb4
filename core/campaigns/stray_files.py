"""Files in the campaigns folder that look like campaign files but are never read.

The registry reads ``<slug>.yaml`` only (:func:`core.campaigns.registry.campaign_files`). A ``metaclaim.yml`` or
``metaclaim.YAML`` would be skipped in silence, and the person who wrote it would wonder why their campaign is not
served; ``flask campaigns check`` names each such file and says how to have it read.
"""

from __future__ import annotations

from pathlib import Path

from core.campaigns.errors import ConfigProblem
from core.campaigns.registry import campaign_files

YAML_SUFFIXES = (".yaml", ".yml")
NOT_A_CAMPAIGN = ("_", ".")  # names the registry leaves out on purpose (shared files, editors' and hidden files)


def stray_campaign_files(folder: Path) -> list[ConfigProblem]:
    """A warning for each YAML file in ``folder`` that the registry does not read, saying what to rename it to."""
    read = set(campaign_files(folder))
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path in read or path.name.startswith(NOT_A_CAMPAIGN) or path.suffix.lower() not in YAML_SUFFIXES:
            continue
        if not path.is_file():
            continue
        target = path.with_suffix(".yaml")
        advice = f"rename it to {target.name}"
        if target.exists():
            advice += f" (but {target.name} exists already: keep one of the two)"
        found.append(ConfigProblem(str(path), None, "", f"is not read: campaign files end in '.yaml'; {advice}"))
    return found
