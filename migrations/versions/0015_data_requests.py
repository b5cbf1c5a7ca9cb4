"""collective data requests: the companies a participant chose and their ID proofs (issue 20)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'request_choices',
        sa.Column('signup_id', sa.Integer(), sa.ForeignKey('signups.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('company', sa.String(60), primary_key=True),
        sa.Column('chosen_at', UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'identity_proofs',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('signup_id', sa.Integer(), sa.ForeignKey('signups.id', ondelete='CASCADE'), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('sealed_image', sa.LargeBinary(), nullable=True),
        sa.Column('media_type', sa.String(20), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('reviewed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            'reviewed_by', sa.Integer(), sa.ForeignKey('staff_members.id', ondelete='SET NULL'), nullable=True
        ),
        sa.Column('reason', sa.String(500), nullable=True),
        sa.Column('erased_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('erase_reason', sa.String(40), nullable=True),
    )
    op.create_index('ix_identity_proofs_signup_id', 'identity_proofs', ['signup_id'])
    op.create_index('ix_identity_proofs_state_received', 'identity_proofs', ['state', 'received_at'])


def downgrade() -> None:
    op.drop_index('ix_identity_proofs_state_received', table_name='identity_proofs')
    op.drop_index('ix_identity_proofs_signup_id', table_name='identity_proofs')
    op.drop_table('identity_proofs')
    op.drop_table('request_choices')
