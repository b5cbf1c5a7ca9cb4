"""the contact copy of each sign-up's e-mail address, for mail after the join flow (issue 17)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contacts',
        sa.Column(
            'signup_id', sa.Integer(), sa.ForeignKey('signups.id', ondelete='CASCADE'), primary_key=True
        ),
        sa.Column('locked_address', sa.LargeBinary(), nullable=False),
        sa.Column('kept_at', UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('contacts')
