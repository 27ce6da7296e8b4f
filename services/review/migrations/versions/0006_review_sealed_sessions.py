"""review-UI sessions keep the user's tokens sealed: sessions stored before (plain tokens) end

Revision ID: 0006_review_sealed_sessions
Revises: 0005_review_screening_author
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_review_sealed_sessions"
down_revision: str | None = "0005_review_screening_author"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ui_sessions = sa.table("ui_sessions", sa.column("access_token", sa.Text()))


def upgrade() -> None:
    # Their tokens were stored in the clear and cannot be sealed without the browsers' cookies:
    # those users sign in again.
    op.execute(ui_sessions.delete().where(ui_sessions.c.access_token.not_like("sealed.v1.%")))


def downgrade() -> None:
    # The code before this revision cannot read sealed tokens: every session ends.
    op.execute(ui_sessions.delete())
