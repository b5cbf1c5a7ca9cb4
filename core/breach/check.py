"""One check of a phone number against a campaign's datasets: the answer for each, found or not, with the kinds of
data its record holds (shown only once the number is proved) and the index version it came from (for evidence).

Every number costs the same: it is normalised once, digested once, and looked up in every dataset with a search of
fixed depth (:meth:`core.breach.index_file.BreachIndex.lookup`), whatever it finds; the page and its counts are
written the same way for both answers. An answer can only be "unavailable" for a dataset whose index was never
imported, which says nothing about the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.breach.categories import Category, categories_in
from core.breach.datasets import Dataset
from core.breach.index_file import current_index
from core.breach.numbers import number_digest
from core.site import site


@dataclass(frozen=True)
class DatasetAnswer:
    dataset: Dataset
    available: bool  # its index exists (imported); when False, ``found`` is False and means nothing
    found: bool
    mask: int  # the categories of the number's record (0 when not found)
    index_version: str | None  # the import the answer came from

    @property
    def categories(self) -> list[Category]:
        return categories_in(self.mask)


def available(datasets: list[Dataset], folder: Path) -> bool:
    """Can at least one of ``datasets`` answer (its index imported)?"""
    return any(current_index(folder, dataset.id) is not None for dataset in datasets)


def check_in_app(datasets: list[Dataset], e164: str) -> list[DatasetAnswer]:
    """:func:`check_number` with the running app's index folder and digest key."""
    return check_number(datasets, site().settings.resolved_breach_dir(), site().breach_key, e164)


def check_number(datasets: list[Dataset], folder: Path, key: bytes, e164: str) -> list[DatasetAnswer]:
    """Look ``e164`` (a normalised number) up in each of ``datasets``' indexes in ``folder`` under the digest
    ``key`` (:func:`core.breach.numbers.digest_key`)."""
    digest = number_digest(key, e164)
    answers = []
    for dataset in datasets:
        index = current_index(folder, dataset.id)
        if index is None:
            answers.append(DatasetAnswer(dataset, False, False, 0, None))
            continue
        mask = index.lookup(digest)
        answers.append(DatasetAnswer(dataset, True, mask is not None, mask or 0, index.version))
    return answers
