"""the review of a company a participant named themselves: matched to the catalogue, or declined (issue 20)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite adds a foreign key only by copying the table.
    with op.batch_alter_table("request_choices") as batch:
        batch.add_column(sa.Column("review", sa.String(10), nullable=True))
        batch.add_column(sa.Column("matched_company", sa.String(60), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("review_reason", sa.String(500), nullable=True))
        batch.create_foreign_key(
            "fk_request_choices_reviewed_by_staff_members", "staff_members", ["reviewed_by"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("request_choices") as batch:
        batch.drop_constraint("fk_request_choices_reviewed_by_staff_members", type_="foreignkey")
        batch.drop_column("review_reason")
        batch.drop_column("reviewed_by")
        batch.drop_column("reviewed_at")
        batch.drop_column("matched_company")
        batch.drop_column("review")
