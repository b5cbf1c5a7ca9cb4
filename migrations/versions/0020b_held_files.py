"""files held for a participant without a vault, and the kind of a vault file (issue 21)

Revision ID: 0020b_held_files
Revises: 0019
Create Date: 2026-12-03 22:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0020b_held_files"
down_revision = "0020a_mandate_copy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vault_files") as batch:
        batch.add_column(sa.Column("held_key_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="answer"))
        batch.add_column(sa.Column("other_key", sa.String(64), nullable=True))
    op.create_index("ix_vault_files_held_key_id", "vault_files", ["held_key_id"])


def downgrade() -> None:
    op.drop_index("ix_vault_files_held_key_id", table_name="vault_files")
    with op.batch_alter_table("vault_files") as batch:
        batch.drop_column("other_key")
        batch.drop_column("kind")
        batch.drop_column("held_key_id")
