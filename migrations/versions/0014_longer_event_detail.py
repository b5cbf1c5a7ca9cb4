"""a sign-up step's detail up to 1000 characters, for the data breach check a sign-up's evidence records (issue 19)

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
    with op.batch_alter_table('signup_events') as batch:
        batch.alter_column('detail', type_=sa.String(1000), existing_type=sa.String(200), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('signup_events') as batch:
        batch.alter_column('detail', type_=sa.String(200), existing_type=sa.String(1000), existing_nullable=True)
