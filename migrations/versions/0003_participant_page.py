"""participant page: withdrawal and erasure of a sign-up, single-use login links

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 18:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import core.data.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=43), nullable=False),
    sa.Column('campaign', sa.String(length=40), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_links')),
    sa.UniqueConstraint('nonce', name=op.f('uq_login_links_nonce'))
    )
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', core.data.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', core.data.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erasure_reason', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_column('erasure_reason')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('withdrawn_at')

    op.drop_table('login_links')
