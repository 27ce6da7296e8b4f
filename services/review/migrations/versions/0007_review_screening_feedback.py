"""screening feedback: reviewers' marks on screenings and the allow-list proposals they make

Revision ID: 0007_review_screening_feedback
Revises: 0006_review_sealed_sessions
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_review_screening_feedback"
down_revision: str | None = "0006_review_sealed_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "screening_marks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("mark", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("finding_index", sa.Integer(), nullable=True),
        sa.Column("finding_rule", sa.String(120), nullable=True),
        sa.Column("passage", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("screened_text", sa.Text(), nullable=False),
        sa.Column("consent_on_file", sa.Boolean(), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("reviewer_name", sa.String(200), nullable=False),
        sa.Column("reviewer_roles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_marks")),
    )
    op.create_index(op.f("ix_screening_marks_screening_id"), "screening_marks", ["screening_id"])
    op.create_index(op.f("ix_screening_marks_draft_id"), "screening_marks", ["draft_id"])
    op.create_table(
        "allow_list_proposals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("mark_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposer_id", sa.String(64), nullable=False),
        sa.Column("proposer_name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decider_id", sa.String(64), nullable=True),
        sa.Column("decider_name", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allow_list_proposals")),
    )
    op.create_index(op.f("ix_allow_list_proposals_mark_id"), "allow_list_proposals", ["mark_id"])
    op.create_index(op.f("ix_allow_list_proposals_status"), "allow_list_proposals", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_allow_list_proposals_status"), table_name="allow_list_proposals")
    op.drop_index(op.f("ix_allow_list_proposals_mark_id"), table_name="allow_list_proposals")
    op.drop_table("allow_list_proposals")
    op.drop_index(op.f("ix_screening_marks_draft_id"), table_name="screening_marks")
    op.drop_index(op.f("ix_screening_marks_screening_id"), table_name="screening_marks")
    op.drop_table("screening_marks")
