"""The confirmed participants of a campaign with their opened answers, as CSV (``flask export participants`` and
the staff console's export). Each row is the evidence package's (:func:`core.exports.evidence.participant_row`),
so both exports always show the same columns; rows are read in batches, so a campaign of any size never sits in
memory whole."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import TextIO

from core.data import personal_data
from core.data.db import db_session
from core.data.models import Signup, participant
from core.exports.evidence import PARTICIPANT_COLUMNS, participant_row
from core.sealing import OpeningKeys


def write_participants_csv(
    campaign: str, keys: OpeningKeys, out: TextIO, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Write the confirmed participants of ``campaign`` with their opened answers as CSV; returns the count.
    ``progress`` gets the number of rows written after each batch (as a click progress bar's ``update`` takes)."""
    session = db_session()
    writer = csv.writer(out)
    writer.writerow(PARTICIPANT_COLUMNS)
    count = 0
    for rows in personal_data.record_batches(session, Signup.campaign == campaign, participant(), batch=batch):
        for signup, record in rows:
            writer.writerow(participant_row(signup, personal_data.open_record(record, keys).answers))
            count += 1
        session.expunge_all()
        if progress is not None:
            progress(len(rows))
    return count
