"""comment screenings, adverse-event cases and their steps (issue #20)

Revision ID: 0011_review_comments
Revises: 0010_review_crisis
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_review_comments"
down_revision: str | None = "0010_review_crisis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comment_screenings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("read_at", TZ, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("drugs", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("elements", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_screenings")),
        sa.UniqueConstraint("comment_id", name=op.f("uq_comment_screenings_comment_id")),
    )
    op.create_index(op.f("ix_comment_screenings_created_at"), "comment_screenings", ["created_at"])
    op.create_table(
        "ae_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("comment_url", sa.String(500), nullable=True),
        sa.Column("reporter", sa.String(200), nullable=False),
        sa.Column("day0", TZ, nullable=False),
        sa.Column("handoff_due", TZ, nullable=False),
        sa.Column("regulatory_due", TZ, nullable=False),
        sa.Column("elements", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_role", sa.String(32), nullable=False),
        sa.Column("clocks", sa.JSON(), nullable=False),
        sa.Column("handed_off_at", TZ, nullable=True),
        sa.Column("handed_off_by", sa.String(64), nullable=True),
        sa.Column("handoff_reference", sa.Text(), nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ae_cases")),
        sa.UniqueConstraint("comment_id", name=op.f("uq_ae_cases_comment_id")),
    )
    op.create_index(op.f("ix_ae_cases_status"), "ae_cases", ["status"])
    op.create_index(op.f("ix_ae_cases_created_at"), "ae_cases", ["created_at"])
    op.create_table(
        "ae_case_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ae_case_events")),
        sa.UniqueConstraint("key", name=op.f("uq_ae_case_events_key")),
    )
    op.create_index(op.f("ix_ae_case_events_case_id"), "ae_case_events", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ae_case_events_case_id"), "ae_case_events")
    op.drop_table("ae_case_events")
    op.drop_index(op.f("ix_ae_cases_created_at"), "ae_cases")
    op.drop_index(op.f("ix_ae_cases_status"), "ae_cases")
    op.drop_table("ae_cases")
    op.drop_index(op.f("ix_comment_screenings_created_at"), "comment_screenings")
    op.drop_table("comment_screenings")
