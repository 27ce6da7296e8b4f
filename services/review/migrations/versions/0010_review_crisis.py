"""the crisis lane: emergency posts and their co-signers' signed approvals

Revision ID: 0010_review_crisis
Revises: 0009_review_notifications
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_review_crisis"
down_revision: str | None = "0009_review_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crisis_posts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("starter_id", sa.String(64), nullable=False),
        sa.Column("starter_name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approvers", sa.Integer(), nullable=False),
        sa.Column("after_review_seconds", sa.Integer(), nullable=False),
        sa.Column("start_record", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("after_review_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("outcome_reason", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_posts")),
    )
    op.create_index(op.f("ix_crisis_posts_draft_id"), "crisis_posts", ["draft_id"])
    op.create_table(
        "crisis_approvals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("crisis_id", sa.String(36), nullable=False),
        sa.Column("signer_id", sa.String(64), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crisis_id"], ["crisis_posts.id"], name=op.f("fk_crisis_approvals_crisis_id_crisis_posts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_approvals")),
        sa.UniqueConstraint("crisis_id", "signer_id", name=op.f("uq_crisis_approvals_crisis_id_signer_id")),
    )
    op.create_index(op.f("ix_crisis_approvals_crisis_id"), "crisis_approvals", ["crisis_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_crisis_approvals_crisis_id"), table_name="crisis_approvals")
    op.drop_table("crisis_approvals")
    op.drop_index(op.f("ix_crisis_posts_draft_id"), table_name="crisis_posts")
    op.drop_table("crisis_posts")
