"""phone numbers proved by an SMS code, and the SMS limits that tripped (issue 19)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'phone_verifications',
        sa.Column('id', sa.String(43), primary_key=True),
        sa.Column('campaign', sa.String(40), nullable=False),
        sa.Column('purpose', sa.String(40), nullable=False),
        sa.Column('number_digest', sa.String(64), nullable=False),
        sa.Column('locked_number', sa.LargeBinary(), nullable=True),
        sa.Column('country_code', sa.Integer(), nullable=True),
        sa.Column('code_hash', sa.String(64), nullable=True),
        sa.Column('code_expires_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('code_sent_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('code_attempts', sa.Integer(), nullable=False),
        sa.Column('codes_sent', sa.Integer(), nullable=False),
        sa.Column('verified_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_phone_verifications_created_at', 'phone_verifications', ['created_at'])
    op.create_table(
        'sms_limit_trips',
        sa.Column('campaign', sa.String(40), primary_key=True),
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('kind', sa.String(20), primary_key=True),
        sa.Column('trips', sa.Integer(), nullable=False),
        sa.Column('alerted_at', UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('sms_limit_trips')
    op.drop_index('ix_phone_verifications_created_at', table_name='phone_verifications')
    op.drop_table('phone_verifications')
