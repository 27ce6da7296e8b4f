"""drafts say what they are for: a post, a crisis template, or a post filled from a template

Revision ID: 0003_drafts_purpose
Revises: 0002_drafts_consents
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_drafts_purpose"
down_revision: str | None = "0002_drafts_consents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("purpose", sa.String(32), nullable=False, server_default="post"))
        batch.add_column(sa.Column("template_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("template_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("template_version")
        batch.drop_column("template_id")
        batch.drop_column("purpose")
