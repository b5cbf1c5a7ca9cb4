"""the participant's vault: their public key and their private key wrapped in the browser (issue 21)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_keys",
        sa.Column("email_hash", sa.String(64), primary_key=True),
        sa.Column("public_raw", sa.LargeBinary(65), nullable=False),
        sa.Column("wrapped_by_passphrase", sa.Text(), nullable=False),
        sa.Column("wrapped_by_recovery", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vault_keys")
