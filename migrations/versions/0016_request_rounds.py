"""data-request rounds: the request to each company, who it was made for, and its events (issue 20)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from core.data.db import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "company_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign", sa.String(40), nullable=False),
        sa.Column("round_id", sa.String(40), nullable=False),
        sa.Column("company", sa.String(60), nullable=False),
        sa.Column("prepared_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(10), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("received_recorded", sa.Boolean(), nullable=False),
        sa.Column("extension_claimed_on", sa.Date(), nullable=True),
        sa.Column("extension_months", sa.Integer(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answer_kind", sa.String(10), nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("campaign", "round_id", "company"),
    )
    op.create_table(
        "request_members",
        sa.Column(
            "company_request_id",
            sa.Integer(),
            sa.ForeignKey("company_requests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("signup_id", sa.Integer(), sa.ForeignKey("signups.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_request_members_signup_id", "request_members", ["signup_id"])
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "company_request_id",
            sa.Integer(),
            sa.ForeignKey("company_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff_members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_request_events_company_request_id", "request_events", ["company_request_id"])


def downgrade() -> None:
    op.drop_index("ix_request_events_company_request_id", table_name="request_events")
    op.drop_table("request_events")
    op.drop_index("ix_request_members_signup_id", table_name="request_members")
    op.drop_table("request_members")
    op.drop_table("company_requests")
