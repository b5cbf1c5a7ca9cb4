"""vault files know the sign-up they came for (withdrawal removes them); notices of their removal (issue 21)

Revision ID: 0020d_vault_file_signup
Revises: 0019
Create Date: 2026-12-03 23:00:00.000000

Files deposited before this revision get their sign-up from their deposit token where it can be matched: the token
is the SHA-256 of the campaign, the sign-up's reference (its token's first 12 characters), the company, the file's
name and its size (core/cli/vault.py ``deposit_token``), and the row keeps all of them but the reference, so each
sign-up of the same campaign and address is tried. A sign-up erased since has another address hash and is not
found: its file keeps NULL (it stays until retention, or the erasure of the address, removes it).
"""

import hashlib

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0020d_vault_file_signup"
down_revision = "0020b_held_files"
branch_labels = None
depends_on = None

REFERENCE_LENGTH = 12  # as core/cli/vault.py reads a reference


def upgrade() -> None:
    with op.batch_alter_table("vault_files") as batch:
        batch.add_column(sa.Column("signup_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_vault_files_signup_id_signups"), "signups", ["signup_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_vault_files_signup_id"), ["signup_id"])
    _match_signups()
    op.create_table(
        "vault_removal_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("planned_until", sa.Date(), nullable=False),
        sa.Column("kept_until", sa.Date(), nullable=False),
        sa.Column("queued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.UniqueConstraint(
            "email_hash", "planned_until", name=op.f("uq_vault_removal_notices_email_hash_planned_until")
        ),
    )


def _match_signups() -> None:
    connection = op.get_bind()
    files = sa.table(
        "vault_files",
        sa.column("id"),
        sa.column("email_hash"),
        sa.column("campaign"),
        sa.column("company"),
        sa.column("file_name"),
        sa.column("size_plain"),
        sa.column("deposit_token"),
        sa.column("signup_id"),
    )
    signups = sa.table("signups", sa.column("id"), sa.column("token"), sa.column("campaign"), sa.column("email_hash"))
    for file in connection.execute(sa.select(files)).all():
        candidates = connection.execute(
            sa.select(signups.c.id, signups.c.token).where(
                signups.c.campaign == file.campaign, signups.c.email_hash == file.email_hash
            )
        ).all()
        for signup_id, token in candidates:
            made = f"{file.campaign}|{token[:REFERENCE_LENGTH]}|{file.company}|{file.file_name}|{file.size_plain}"
            if hashlib.sha256(made.encode()).hexdigest() == file.deposit_token:
                connection.execute(sa.update(files).where(files.c.id == file.id).values(signup_id=signup_id))
                break


def downgrade() -> None:
    op.drop_table("vault_removal_notices")
    with op.batch_alter_table("vault_files") as batch:
        batch.drop_index(op.f("ix_vault_files_signup_id"))
        batch.drop_constraint(op.f("fk_vault_files_signup_id_signups"), type_="foreignkey")
        batch.drop_column("signup_id")
