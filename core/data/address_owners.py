"""The owners of campaign addresses, recorded in the database so that they survive restarts and deployments
(the rule is in :mod:`core.campaigns.ownership`).

Every process settles the owners each time it loads campaigns. Each change is a conditional write (insert if no
one has it, move only from the owner this process saw), so processes that look at once agree on one owner. If the
database cannot be reached, the process goes on with what it remembers and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from core.campaigns.ownership import RememberedOwners, keeps_address
from core.data.db import Database, dialect_insert, is_missing_table
from core.data.models import AddressOwner

log = logging.getLogger(__name__)


class DatabaseAddressOwners:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.remembered = RememberedOwners()

    def settle(self, wanted: Mapping[str, Sequence[str]], files: set[str], readable: set[str]) -> dict[str, str]:
        try:
            owners = self._settle(wanted, files, readable)
        except SQLAlchemyError as exc:
            if is_missing_table(exc):  # settled again when a process loads campaigns after `flask db upgrade`
                log.info("campaign address owners not recorded: the database has no tables yet (flask db upgrade)")
                return self.remembered.settle(wanted, files, readable)
            log.warning(
                "campaign address owners could not be read from the database (%s); using those this process remembers",
                type(exc).__name__,
            )
            return self.remembered.settle(wanted, files, readable)
        self.remembered.had = dict(owners)
        return owners

    def _settle(self, wanted: Mapping[str, Sequence[str]], files: set[str], readable: set[str]) -> dict[str, str]:
        table = AddressOwner.__table__
        with self.database.engine.begin() as connection:
            had: dict[str, str] = {
                address: slug for address, slug in connection.execute(select(table.c.address, table.c.slug))
            }
            for address, wanting in wanted.items():
                owner = had.get(address)
                if owner is None:
                    insert = dialect_insert(connection.dialect.name, table)
                    connection.execute(
                        insert.values(address=address, slug=wanting[0]).on_conflict_do_nothing(
                            index_elements=["address"]
                        )
                    )
                elif not keeps_address(owner, wanting, files, readable):
                    connection.execute(
                        update(table).where(table.c.address == address, table.c.slug == owner).values(slug=wanting[0])
                    )
            for address, owner in had.items():
                if address not in wanted and not keeps_address(owner, (), files, readable):
                    connection.execute(delete(table).where(table.c.address == address, table.c.slug == owner))
            return {address: slug for address, slug in connection.execute(select(table.c.address, table.c.slug))}
