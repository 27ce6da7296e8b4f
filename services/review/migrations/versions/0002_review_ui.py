"""review UI: sessions, task claims, draft comments

Revision ID: 0002_review_ui
Revises: 0001_review
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_review_ui"
down_revision: str | None = "0001_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sessions")),
    )
    op.create_index(op.f("ix_ui_sessions_user_id"), "ui_sessions", ["user_id"])
    op.create_table(
        "task_claims",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("holder_id", sa.String(64), nullable=False),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_claims")),
        sa.UniqueConstraint("draft_id", "stage", name=op.f("uq_task_claims_draft_id_stage")),
    )
    op.create_index(op.f("ix_task_claims_draft_id"), "task_claims", ["draft_id"])
    op.create_table(
        "draft_comments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_comments")),
    )
    op.create_index(op.f("ix_draft_comments_draft_id"), "draft_comments", ["draft_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_draft_comments_draft_id"), table_name="draft_comments")
    op.drop_table("draft_comments")
    op.drop_index(op.f("ix_task_claims_draft_id"), table_name="task_claims")
    op.drop_table("task_claims")
    op.drop_index(op.f("ix_ui_sessions_user_id"), table_name="ui_sessions")
    op.drop_table("ui_sessions")
