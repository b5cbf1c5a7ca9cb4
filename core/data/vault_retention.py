"""How long the files in participants' vaults are kept, and the notices of their removal (issue 21).

**The date.** A file is kept until ``vault.files_kept_days`` (365 by default) after the last day of the campaign it
came for, on that campaign's clock: the day of its ``ends``, else of its ``closes``. A file that arrived after that
day gets the whole period from the day it arrived. A campaign with neither date keeps its files: nothing says when
its work is over. So does a campaign no longer loaded (its file removed): its rules are not known any more.

**The notice.** From :data:`NOTICE_DAYS` before that date, the address is told once, through a contact copy of it,
that files in its vault are kept until then (the mail never names a company or a file: core.signup.vault_removal).
"Once" is one row per address and date (:class:`VaultRemovalNotice`) inserted in the transaction that queues the
mail: of two runs at once, one inserts it and mails, the other finds it there and sends nothing. A notice that goes
out late (retention did not run, or the campaign's date moved earlier) gives a later date than planned: the day
:data:`NOTICE_DAYS` after it was queued. A date that moves later leaves the notice of the old date behind: the files
are not removed on it, and the new date gets its own notice when it is near.

**The removal.** A file goes from the day after the date its notice gave, so never sooner than the notice period
after the notice was queued: its stored object first, its row after (:func:`core.data.vault_files.remove`), the
files of one notice committed together with the notice's row. A run killed midway leaves rows whose objects are
gone, which the next run deletes again (deleting a missing object does nothing), never ciphertext that nothing
points to.

**Nobody to tell.** An address with no contact copy (its sign-ups were made before contact copies were kept, or the
copy is locked under a contact key no longer configured) cannot be mailed: its notice is recorded as not mailed,
with the same date, and the files are removed after it all the same. Each file's date is on /my/vault from the day
it arrives, and keeping files for ever because a mail cannot be sent would keep them longer than anyone needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.campaigns import LoadedCampaign
from core.campaigns.schedule import starts, wall_clock
from core.campaigns.schema import Campaign
from core.data import vault_files
from core.data.db import dialect_insert
from core.data.models import VaultFile, VaultRemovalNotice

if TYPE_CHECKING:
    from core.vault.store import VaultStore

NOTICE_DAYS = 30
# A notice whose date passed this long ago without its files going with it planned a date that moved: it is spent.
SPENT_AFTER = dt.timedelta(days=NOTICE_DAYS)


def last_day(campaign: Campaign) -> dt.date | None:
    """The campaign's last day on its own clock: that of ``ends``, else of ``closes``; None without either."""
    moment = campaign.ends or campaign.closes
    if moment is None:
        return None
    if isinstance(moment, dt.datetime):
        return wall_clock(moment, ZoneInfo(campaign.timezone)).date()
    return moment


def today(campaign: Campaign, now: dt.datetime) -> dt.date:
    """``now``'s day on the campaign's clock."""
    return now.astimezone(ZoneInfo(campaign.timezone)).date()


def planned_until(campaign: Campaign, deposited_at: dt.datetime) -> dt.date | None:
    """The last day a file of ``campaign`` that arrived at ``deposited_at`` is kept, as planned before any notice;
    None while the campaign has no end."""
    last = last_day(campaign)
    if last is None:
        return None
    return max(last, today(campaign, deposited_at)) + dt.timedelta(days=campaign.vault.files_kept_days)


@dataclass(frozen=True)
class DueFile:
    id: int
    store_key: str
    signup_id: int | None


@dataclass
class Due:
    """The files of one address planned to be kept until one date, which is :data:`NOTICE_DAYS` away or nearer (or
    past): their notice is due, or was queued."""

    email_hash: str
    planned_until: dt.date
    today: dt.date  # on the clock of the campaign of its first file
    files: list[DueFile] = field(default_factory=list)

    @property
    def notice_until(self) -> dt.date:
        """The date a notice queued today gives: as planned, or later when it goes out late."""
        return max(self.planned_until, self.today + dt.timedelta(days=NOTICE_DAYS))


def due(session: Session, campaigns: Iterable[LoadedCampaign], now: dt.datetime) -> list[Due]:
    """The files whose notice is due at ``now``, by address and date (see the module docstring)."""
    groups: dict[tuple[str, dt.date], Due] = {}
    for loaded in campaigns:
        campaign = loaded.campaign
        last = last_day(campaign)
        day = today(campaign, now)
        # Due: max(last day, day arrived) + kept days <= day + NOTICE_DAYS; so both days must be at most `latest`.
        latest = day + dt.timedelta(days=NOTICE_DAYS - campaign.vault.files_kept_days)
        if last is None or last > latest:
            continue
        arrived_before = starts(latest + dt.timedelta(days=1), ZoneInfo(campaign.timezone))
        for file in vault_files.arrived_before(session, loaded.slug, arrived_before):
            planned = planned_until(campaign, file.deposited_at)
            assert planned is not None  # the campaign has a last day
            group = groups.setdefault((file.email_hash, planned), Due(file.email_hash, planned, day))
            group.files.append(DueFile(file.id, file.store_key, file.signup_id))
    return list(groups.values())


def notice_of(session: Session, group: Due) -> VaultRemovalNotice | None:
    """The notice queued for ``group``'s address and date, or None: not yet."""
    return session.scalar(
        select(VaultRemovalNotice).where(
            VaultRemovalNotice.email_hash == group.email_hash,
            VaultRemovalNotice.planned_until == group.planned_until,
        )
    )


def record_notice(session: Session, group: Due, now: dt.datetime, *, mailed: bool) -> bool:
    """Record that ``group``'s notice is queued at ``now`` (giving :attr:`Due.notice_until`); False, and nothing
    written, when another run recorded it first. The caller queues the mail in the same transaction, only when this
    returns True, and commits both. The insert itself decides, whatever either run read before: while another run's
    transaction holds the same notice uncommitted, it waits (PostgreSQL: for the row; SQLite: for the write lock),
    then finds it there and does nothing."""
    values = {
        "email_hash": group.email_hash,
        "planned_until": group.planned_until,
        "kept_until": group.notice_until,
        "queued_at": now,
        "mailed": mailed,
    }
    statement = dialect_insert(session.get_bind().dialect.name, VaultRemovalNotice.__table__).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["email_hash", "planned_until"])
    # RETURNING, not the row count: with psycopg an INSERT ... ON CONFLICT reports -1 whether it inserted or not.
    return session.execute(statement.returning(VaultRemovalNotice.id)).scalar_one_or_none() is not None


def removable(group: Due, notice: VaultRemovalNotice | None) -> bool:
    """Whether ``group``'s files go now: their notice was queued and the date it gave has passed."""
    return notice is not None and group.today > notice.kept_until


def remove(session: Session, store: VaultStore, group: Due) -> int:
    """Remove ``group``'s files (stored objects first) and its notice (the caller commits); returns how many."""
    removed = vault_files.remove(session, store, [file.id for file in group.files])
    session.execute(
        delete(VaultRemovalNotice).where(
            VaultRemovalNotice.email_hash == group.email_hash,
            VaultRemovalNotice.planned_until == group.planned_until,
        )
    )
    return removed


def forget_spent(session: Session, now: dt.datetime) -> int:
    """Delete the notices of dates that moved (their date passed long ago, and no file went with them); the caller
    commits. A file that still plans such a date (its campaign was not loaded for a while) is simply told again."""
    cutoff = now.date() - SPENT_AFTER
    return session.execute(delete(VaultRemovalNotice).where(VaultRemovalNotice.kept_until < cutoff)).rowcount


def forget(session: Session, email_hash: str) -> None:
    """Erasure of the address: its notices go with its vault (the caller commits)."""
    session.execute(delete(VaultRemovalNotice).where(VaultRemovalNotice.email_hash == email_hash))


def kept_until(
    session: Session, email_hash: str, files: list[VaultFile], campaigns: Mapping[str, LoadedCampaign]
) -> dict[int, dt.date | None]:
    """The last day each of ``files`` (of the vault of ``email_hash``) is kept, as its owner is shown it: the date
    its notice gave, else the date planned (None: its campaign has no end yet, or is not loaded)."""
    notices = {
        notice.planned_until: notice.kept_until
        for notice in session.scalars(select(VaultRemovalNotice).where(VaultRemovalNotice.email_hash == email_hash))
    }
    shown: dict[int, dt.date | None] = {}
    for file in files:
        loaded = campaigns.get(file.campaign)
        planned = planned_until(loaded.campaign, file.deposited_at) if loaded is not None else None
        shown[file.id] = notices.get(planned, planned) if planned is not None else None
    return shown
