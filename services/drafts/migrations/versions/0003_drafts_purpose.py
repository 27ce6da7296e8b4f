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


# Plain ADD/DROP COLUMN (SQLite has both): a batch copy of `drafts` would break the foreign keys
# that draft_versions and the other tables hold on it.
def upgrade() -> None:
    op.add_column("drafts", sa.Column("purpose", sa.String(32), nullable=False, server_default="post"))
    op.add_column("drafts", sa.Column("template_id", sa.String(36), nullable=True))
    op.add_column("drafts", sa.Column("template_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("drafts", "template_version")
    op.drop_column("drafts", "template_id")
    op.drop_column("drafts", "purpose")
