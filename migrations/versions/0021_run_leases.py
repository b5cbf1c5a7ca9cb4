"""run leases: a staff job that must not run twice at once takes one (issue 21: moving files into vaults)

Revision ID: 0021_run_leases
Revises: 0020c_vault_uploads
Create Date: 2026-12-03 22:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0021_run_leases"
down_revision = "0020c_vault_uploads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(140), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_leases")
