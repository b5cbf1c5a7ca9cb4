"""fees and payments: the fee terms signed, payment attempts and the provider events applied

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:09:50.144966
"""

import sqlalchemy as sa
from alembic import op

import core.data.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('campaign', sa.String(length=40), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('provider_ref', sa.String(length=255), nullable=True),
    sa.Column('checkout_url', sa.Text(), nullable=True),
    sa.Column('expires_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_payments_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('provider', 'provider_ref', name=op.f('uq_payments_provider_provider_ref')),
    sa.UniqueConstraint('signup_id', 'attempt', name=op.f('uq_payments_signup_id_attempt'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_campaign_state', ['campaign', 'state'], unique=False)

    op.create_table('provider_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('received_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_provider_events_payment_id_payments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_events')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_provider_events_provider_event_id'))
    )
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_model', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('fee_option', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('fee_terms', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('payment_required', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('paid_at', core.data.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_reminded_at', core.data.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', core.data.db.UTCDateTime(timezone=True), nullable=True))
    # Sign-ups whose mandate was made before this revision already had their confirmation mail.
    op.execute("UPDATE signups SET confirmed_at = signed_at WHERE mandate_sha256 IS NOT NULL")



def downgrade() -> None:
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('payment_reminded_at')
        batch_op.drop_column('paid_at')
        batch_op.drop_column('payment_required')
        batch_op.drop_column('fee_terms')
        batch_op.drop_column('fee_option')
        batch_op.drop_column('fee_model')

    op.drop_table('provider_events')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_campaign_state')

    op.drop_table('payments')
