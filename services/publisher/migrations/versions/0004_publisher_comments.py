"""comments read under publications (text sealed) and each publication's comment cursor

Revision ID: 0004_publisher
Revises: 0003_publisher
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_publisher"
down_revision: str | None = "0003_publisher"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("publication_id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("post_external_id", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("in_reply_to", sa.String(200), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TZ, nullable=True),
        sa.Column("read_at", TZ, nullable=False),
        sa.Column("screened_at", TZ, nullable=True),
        sa.Column("screening_id", sa.String(36), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("moderation", sa.String(32), nullable=True),
        sa.Column("moderated_by", sa.String(64), nullable=True),
        sa.Column("moderated_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        sa.UniqueConstraint(
            "publication_id", "external_id", name=op.f("uq_comments_publication_id_external_id")
        ),
    )
    op.create_index(op.f("ix_comments_account"), "comments", ["account"])
    op.create_index(op.f("ix_comments_publication_id"), "comments", ["publication_id"])
    op.create_index(op.f("ix_comments_draft_id"), "comments", ["draft_id"])
    op.create_index(op.f("ix_comments_read_at"), "comments", ["read_at"])
    op.create_table(
        "comment_cursors",
        sa.Column("publication_id", sa.String(36), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("read_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("publication_id", name=op.f("pk_comment_cursors")),
    )


def downgrade() -> None:
    op.drop_table("comment_cursors")
    op.drop_index(op.f("ix_comments_read_at"), "comments")
    op.drop_index(op.f("ix_comments_draft_id"), "comments")
    op.drop_index(op.f("ix_comments_publication_id"), "comments")
    op.drop_index(op.f("ix_comments_account"), "comments")
    op.drop_table("comments")
