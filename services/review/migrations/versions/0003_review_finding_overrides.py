"""finding overrides: a compliance reviewer lets a blocking screening finding stand, with a reason

Revision ID: 0003_review_finding_overrides
Revises: 0002_review_ui
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_review_finding_overrides"
down_revision: str | None = "0002_review_ui"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finding_overrides",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("finding_index", sa.Integer(), nullable=False),
        sa.Column("finding_rule", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("reviewer_name", sa.String(200), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_overrides")),
        sa.UniqueConstraint(
            "screening_id", "finding_index", name=op.f("uq_finding_overrides_screening_id_finding_index")
        ),
    )
    op.create_index(op.f("ix_finding_overrides_screening_id"), "finding_overrides", ["screening_id"])
    op.create_index(op.f("ix_finding_overrides_draft_id"), "finding_overrides", ["draft_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_finding_overrides_draft_id"), table_name="finding_overrides")
    op.drop_index(op.f("ix_finding_overrides_screening_id"), table_name="finding_overrides")
    op.drop_table("finding_overrides")
