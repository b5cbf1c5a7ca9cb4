"""the data breach check's daily counts, for the console's funnel; a sign-up step's detail up to 1000 characters,
for the breach check a sign-up's evidence records (issue 19)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'breach_check_days',
        sa.Column('campaign', sa.String(40), primary_key=True),
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('checks', sa.Integer(), nullable=False),
        sa.Column('found', sa.Integer(), nullable=False),
        sa.Column('codes_sent', sa.Integer(), nullable=False),
        sa.Column('verified', sa.Integer(), nullable=False),
        sa.Column('joined', sa.Integer(), nullable=False),
    )
    with op.batch_alter_table('signup_events') as batch:
        batch.alter_column('detail', type_=sa.String(1000), existing_type=sa.String(200), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('signup_events') as batch:
        batch.alter_column('detail', type_=sa.String(200), existing_type=sa.String(1000), existing_nullable=True)
    op.drop_table('breach_check_days')
