"""pre-approved crisis templates and the posts made from them (issue #18)

Revision ID: 0012_review_crisis_templates
Revises: 0011_review_comments
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_review_crisis_templates"
down_revision: str | None = "0011_review_comments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crisis_templates",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("template_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("approved_at", TZ, nullable=False),
        sa.Column("approval_record", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_templates")),
        sa.UniqueConstraint("template_id", "version", name=op.f("uq_crisis_templates_template_id_version")),
    )
    op.create_index(op.f("ix_crisis_templates_template_id"), "crisis_templates", ["template_id"])
    op.create_table(
        "crisis_template_uses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("template_row_id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("used_at", TZ, nullable=False),
        sa.Column("use_record", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome_reason", sa.Text(), nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["template_row_id"],
            ["crisis_templates.id"],
            name=op.f("fk_crisis_template_uses_template_row_id_crisis_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crisis_template_uses")),
    )
    op.create_index(
        op.f("ix_crisis_template_uses_template_row_id"), "crisis_template_uses", ["template_row_id"]
    )
    op.create_index(op.f("ix_crisis_template_uses_draft_id"), "crisis_template_uses", ["draft_id"])


def downgrade() -> None:
    op.drop_table("crisis_template_uses")
    op.drop_table("crisis_templates")
