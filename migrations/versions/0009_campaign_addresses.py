"""which campaign serves an address two campaign files name (issue 16: the one that had it, across restarts)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaign_addresses',
        sa.Column('address', sa.String(length=300), primary_key=True),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('since', UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('campaign_addresses')
