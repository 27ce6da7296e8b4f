"""screenings name the draft's author, so the author may read a screening no review was opened for

Revision ID: 0005_review_screening_author
Revises: 0004_review_offboarding
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_review_screening_author"
down_revision: str | None = "0004_review_offboarding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: screenings stored before this revision (and text screenings) have no author.
    op.add_column("screenings", sa.Column("author_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screenings") as batch:
        batch.drop_column("author_id")
