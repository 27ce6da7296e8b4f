"""offboarded users: deactivated reviewers whose sessions, claims and approvals were dealt with

Revision ID: 0004_review_offboarding
Revises: 0003_review_finding_overrides
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_review_offboarding"
down_revision: str | None = "0003_review_finding_overrides"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offboarded_users",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_drafts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "deactivated_at", name=op.f("pk_offboarded_users")),
    )


def downgrade() -> None:
    op.drop_table("offboarded_users")
