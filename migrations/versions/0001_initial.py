"""signups, evidence, personal records and jobs

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 17:54:47.347718
"""

import sqlalchemy as sa
from alembic import op

import core.data.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('campaign', sa.String(length=40), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status_run_after', ['status', 'run_after'], unique=False)

    op.create_table('signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=43), nullable=False),
    sa.Column('campaign', sa.String(length=40), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('created_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_sent_at', core.data.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.Column('codes_sent', sa.Integer(), nullable=False),
    sa.Column('signature_kind', sa.String(length=10), nullable=True),
    sa.Column('mandate_sha256', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signups')),
    sa.UniqueConstraint('campaign', 'email_hash', name=op.f('uq_signups_campaign_email_hash')),
    sa.UniqueConstraint('token', name=op.f('uq_signups_token'))
    )
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.create_index('ix_signups_campaign_stage', ['campaign', 'stage'], unique=False)

    op.create_table('accepted_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('agreement', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('accepted_at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_accepted_agreements_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accepted_agreements')),
    sa.UniqueConstraint('signup_id', 'agreement', name=op.f('uq_accepted_agreements_signup_id_agreement'))
    )
    op.create_table('personal_records',
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('pending', sa.LargeBinary(), nullable=True),
    sa.Column('signature_png', sa.LargeBinary(), nullable=True),
    sa.Column('mandate_pdf', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_personal_records_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signup_id', name=op.f('pk_personal_records'))
    )
    op.create_table('signup_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=30), nullable=False),
    sa.Column('at', core.data.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=400), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['signup_id'], ['signups.id'], name=op.f('fk_signup_events_signup_id_signups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signup_events'))
    )
    with op.batch_alter_table('signup_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signup_events_signup_id'), ['signup_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signup_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signup_events_signup_id'))

    op.drop_table('signup_events')
    op.drop_table('personal_records')
    op.drop_table('accepted_agreements')
    with op.batch_alter_table('signups', schema=None) as batch_op:
        batch_op.drop_index('ix_signups_campaign_stage')

    op.drop_table('signups')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_status_run_after')

    op.drop_table('jobs')
