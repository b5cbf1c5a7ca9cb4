"""staff roles: an account is an admin, or staff limited to some campaigns (or all) with view or support rights

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00.000000

Accounts made before this revision could do everything: they become admins, and keep doing everything. The
defaults are only for those rows: once they are filled the columns have none, so no account is ever made an admin
by leaving its role out (``flask staff add`` always sets it; core.staff.roles).
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_members') as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=10), nullable=False, server_default='admin'))
        batch_op.add_column(sa.Column('rights', sa.String(length=10), nullable=False, server_default='support'))
        batch_op.add_column(sa.Column('all_campaigns', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('staff_members') as batch_op:
        batch_op.alter_column('role', server_default=None)
        batch_op.alter_column('rights', server_default=None)
        batch_op.alter_column('all_campaigns', server_default=None)
    op.create_table('staff_campaigns',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('campaign', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'],
                            name=op.f('fk_staff_campaigns_staff_id_staff_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'campaign', name=op.f('pk_staff_campaigns'))
    )


def downgrade() -> None:
    op.drop_table('staff_campaigns')
    with op.batch_alter_table('staff_members') as batch_op:
        batch_op.drop_column('all_campaigns')
        batch_op.drop_column('rights')
        batch_op.drop_column('role')
