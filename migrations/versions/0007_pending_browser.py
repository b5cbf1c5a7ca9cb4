"""answers sent again for a known address remember the browser that sent them (finding 3 of issue 13)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Answers already waiting have no sender: they are dropped, not applied, when their address is proven.
    with op.batch_alter_table('personal_records') as batch_op:
        batch_op.add_column(sa.Column('pending_from', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('personal_records') as batch_op:
        batch_op.drop_column('pending_from')
