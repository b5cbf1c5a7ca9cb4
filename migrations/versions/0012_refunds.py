"""refunds of a one-time payment on a withdrawal within the refund period (issue 17, item 8)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments') as batch:
        batch.add_column(sa.Column('refund_requested_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('refunded_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('refund_ref', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payments') as batch:
        batch.drop_column('refund_ref')
        batch.drop_column('refunded_at')
        batch.drop_column('refund_requested_at')
