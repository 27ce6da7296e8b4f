"""review SLAs: a task's quorum, named deciders and due time; the notice outbox; delegations

Revision ID: 0008_review_sla
Revises: 0007_review_screening_feedback
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_review_sla"
down_revision: str | None = "0007_review_screening_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tasks opened before this revision: one approval by any holder of the roles, no SLA.
    op.add_column("review_tasks", sa.Column("quorum", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("review_tasks", sa.Column("deciders", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("review_tasks", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "review_notices",
        sa.Column("id", sa.String(36), nullable=False),
        # draft:version:stage:kind:n, once: a retried activity records nothing twice.
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_review_notices_key")),
    )
    op.create_index(op.f("ix_review_notices_draft_id"), "review_notices", ["draft_id"])
    op.create_table(
        "review_delegations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("delegator_id", sa.String(64), nullable=False),
        sa.Column("delegator_username", sa.String(200), nullable=False),
        sa.Column("delegator_name", sa.String(200), nullable=False),
        sa.Column("delegate", sa.String(200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_delegations")),
    )
    op.create_index(op.f("ix_review_delegations_delegator_id"), "review_delegations", ["delegator_id"])
    op.create_index(op.f("ix_review_delegations_delegate"), "review_delegations", ["delegate"])


def downgrade() -> None:
    op.drop_index(op.f("ix_review_delegations_delegate"), table_name="review_delegations")
    op.drop_index(op.f("ix_review_delegations_delegator_id"), table_name="review_delegations")
    op.drop_table("review_delegations")
    op.drop_index(op.f("ix_review_notices_draft_id"), table_name="review_notices")
    op.drop_table("review_notices")
    with op.batch_alter_table("review_tasks") as batch:
        batch.drop_column("due_at")
        batch.drop_column("deciders")
        batch.drop_column("quorum")
