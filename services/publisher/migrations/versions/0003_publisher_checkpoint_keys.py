"""checkpoint keys up to 200 characters (adapters key images by their 64-hex digest)

Revision ID: 0003_publisher
Revises: 0002_publisher
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_publisher"
down_revision: str | None = "0002_publisher"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "mastodon:media:<digest>" and "bluesky:blob:<digest>" are 77-79 characters: PostgreSQL refused
    # them in a VARCHAR(64) (SQLite does not enforce lengths), so every post with an image failed there.
    with op.batch_alter_table("publication_checkpoints") as batch:
        batch.alter_column("key", existing_type=sa.String(64), type_=sa.String(200), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("publication_checkpoints") as batch:
        batch.alter_column("key", existing_type=sa.String(200), type_=sa.String(64), existing_nullable=False)
