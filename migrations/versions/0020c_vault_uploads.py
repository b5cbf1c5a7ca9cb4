"""console uploads into a participant's vault, encrypted in the staff member's browser and sent in pieces (issue 21)

Revision ID: 0020c_vault_uploads
Revises: 0019
Create Date: 2026-12-03 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0020c_vault_uploads"
down_revision = "0020d_vault_file_signup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False, unique=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff_members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("signup_id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("campaign", sa.String(40), nullable=False),
        sa.Column("public_raw", sa.LargeBinary(65), nullable=False),
        sa.Column("company", sa.String(100), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size_plain", sa.BigInteger(), nullable=False),
        sa.Column("size_cipher", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("piece_size", sa.Integer(), nullable=False),
        sa.Column("pieces_received", sa.Integer(), nullable=False),
        sa.Column("store_key", sa.String(64), nullable=False, unique=True),
        sa.Column("store_handle", sa.String(1024), nullable=False),
        sa.Column("deposit_token", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("touched_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("vault_file_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_vault_uploads_deposit_token", "vault_uploads", ["deposit_token"])
    op.create_index("ix_vault_uploads_touched_at", "vault_uploads", ["touched_at"])


def downgrade() -> None:
    op.drop_index("ix_vault_uploads_touched_at", table_name="vault_uploads")
    op.drop_index("ix_vault_uploads_deposit_token", table_name="vault_uploads")
    op.drop_table("vault_uploads")
