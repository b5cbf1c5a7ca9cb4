"""files in the participant's vault: stored encrypted, listed on /my/vault (issue 21)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 21:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("campaign", sa.String(40), nullable=False),
        sa.Column("company", sa.String(100), nullable=False),
        sa.Column("store_key", sa.String(64), nullable=False, unique=True),
        sa.Column("size_plain", sa.BigInteger(), nullable=False),
        sa.Column("size_cipher", sa.BigInteger(), nullable=False),
        sa.Column("sha256_cipher", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("deposit_token", sa.String(64), nullable=False, unique=True),
        sa.Column("deposited_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("deposited_by", sa.String(100), nullable=False),
        sa.Column("notified_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_vault_files_email_hash", "vault_files", ["email_hash"])


def downgrade() -> None:
    op.drop_index("ix_vault_files_email_hash", table_name="vault_files")
    op.drop_table("vault_files")
