"""Which campaign serves an address that two campaign files name: the one that had it.

An address stays with the campaign that served it while that campaign's file exists and either still names it or
cannot be read (a broken file does not lose its addresses; its error says what to fix). Only when its file is
gone, or names the address no more, may another file take it. A file that tries to take an address in use gets the
error; the campaign that had it keeps serving.

"Had it" must survive a restart and a new deployment, where file order and times mean nothing: the app records
the owners in the database (:mod:`core.data.address_owners`). :class:`RememberedOwners` keeps them in the process
only (first by file name when nothing is remembered). Without any record (``flask campaigns check``, which needs no
database), :class:`UnrecordedOwners` cannot tell who had an address that two files name: each of them is told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class AddressOwners(Protocol):
    def settle(self, wanted: Mapping[str, Sequence[str]], files: set[str], readable: set[str]) -> dict[str, str]:
        """The campaign that serves each address.

        ``wanted``: each address with the campaigns whose (readable) files name it, by file name; ``files``: the
        slugs of every campaign file there is; ``readable``: those whose file could be read and validated.
        """
        ...


def keeps_address(owner: str | None, wanting: Sequence[str], files: set[str], readable: set[str]) -> bool:
    """Whether ``owner`` (who had the address) still has it: it names it still, or its file exists but cannot be
    read."""
    return owner is not None and (owner in wanting or (owner in files and owner not in readable))


def settle_with(
    had: Mapping[str, str], wanted: Mapping[str, Sequence[str]], files: set[str], readable: set[str]
) -> dict[str, str]:
    """The owners after ``had``: kept where :func:`keeps_address`, else the first file that names the address.
    Addresses of a broken file stay recorded for it though nobody readable names them."""
    owners = {}
    for address, wanting in wanted.items():
        owner = had.get(address)
        owners[address] = owner if owner is not None and keeps_address(owner, wanting, files, readable) else wanting[0]
    for address, owner in had.items():
        if address not in owners and keeps_address(owner, (), files, readable):
            owners[address] = owner
    return owners


class RememberedOwners:
    """Owners remembered by this process only."""

    def __init__(self) -> None:
        self.had: dict[str, str] = {}

    def settle(self, wanted: Mapping[str, Sequence[str]], files: set[str], readable: set[str]) -> dict[str, str]:
        self.had = settle_with(self.had, wanted, files, readable)
        return dict(self.had)


class UnrecordedOwners:
    """No record at all: an address one file names is that file's; one several files name has no owner (each of
    those files gets the problem, naming the others)."""

    def settle(self, wanted: Mapping[str, Sequence[str]], files: set[str], readable: set[str]) -> dict[str, str]:
        return {address: wanting[0] for address, wanting in wanted.items() if len(wanting) == 1}
