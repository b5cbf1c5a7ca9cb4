"""the agreement text files people signed, by SHA-256, so an edit of a signed text is refused (issue 16, item 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signed_texts',
        sa.Column('campaign', sa.String(length=40), primary_key=True),
        sa.Column('agreement', sa.String(length=40), primary_key=True),
        sa.Column('version', sa.String(length=40), primary_key=True),
        sa.Column('language', sa.String(length=2), primary_key=True),
        sa.Column('file_sha256', sa.String(length=64), primary_key=True),
        sa.Column('first_signed_at', UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('signed_texts')
