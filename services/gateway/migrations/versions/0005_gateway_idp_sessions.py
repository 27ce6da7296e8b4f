"""the provider sessions users signed in with (digests of `sid`), for back-channel logout by session

Revision ID: 0005_gateway_idp_sessions
Revises: 0004_gateway_oidc
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_gateway_idp_sessions"
down_revision: str | None = "0004_gateway_oidc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idp_sessions",
        sa.Column("sid_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_idp_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("sid_hash", name=op.f("pk_idp_sessions")),
    )
    op.create_index(op.f("ix_idp_sessions_user_id"), "idp_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_table("idp_sessions")
