"""channel accounts, OAuth states, checkpoints, pauses, held and live posts; publication URL and removal

Revision ID: 0002_publisher
Revises: 0001_publisher
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_publisher"
down_revision: str | None = "0001_publisher"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.drop_constraint(op.f("ck_publications_status"), type_="check")
        batch.create_check_constraint("status", "status IN ('pending', 'published', 'removed')")
        batch.add_column(sa.Column("network", sa.String(32), nullable=True))
        batch.add_column(sa.Column("url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("removed_at", TZ, nullable=True))
        batch.add_column(sa.Column("removal", sa.JSON(), nullable=True))
    op.create_table(
        "publication_checkpoints",
        sa.Column("publication_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("publication_id", "key", name=op.f("pk_publication_checkpoints")),
    )
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("base_url", sa.String(300), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("account_ref", sa.String(200), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("connected_by", sa.String(64), nullable=False),
        sa.Column("connected_at", TZ, nullable=False),
        sa.Column("checked_at", TZ, nullable=True),
        sa.Column("disconnected_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_channel_accounts_name")),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("verifier", sa.LargeBinary(), nullable=False),
        sa.Column("redirect_uri", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_table(
        "publishing_pauses",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_by", sa.String(64), nullable=False),
        sa.Column("paused_at", TZ, nullable=False),
        sa.Column("resumed_by", sa.String(64), nullable=True),
        sa.Column("resumed_at", TZ, nullable=True),
        sa.Column("resume_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publishing_pauses")),
    )
    op.create_index(op.f("ix_publishing_pauses_scope"), "publishing_pauses", ["scope"])
    op.create_table(
        "held_posts",
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("held_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("draft_id", name=op.f("pk_held_posts")),
    )
    op.create_table(
        "live_posts",
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("on_expiry", sa.String(16), nullable=False),
        sa.Column("takedown_reason", sa.Text(), nullable=False),
        sa.Column("takedown_by", sa.String(64), nullable=True),
        sa.Column("takedown_requested_at", TZ, nullable=True),
        sa.Column("takedown_completed_at", TZ, nullable=True),
        sa.Column("takedown_failure", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("draft_id", name=op.f("pk_live_posts")),
    )


def downgrade() -> None:
    op.drop_table("live_posts")
    op.drop_table("held_posts")
    op.drop_index(op.f("ix_publishing_pauses_scope"), table_name="publishing_pauses")
    op.drop_table("publishing_pauses")
    op.drop_table("oauth_states")
    op.drop_table("channel_accounts")
    op.drop_table("publication_checkpoints")
    with op.batch_alter_table("publications") as batch:
        batch.drop_column("removal")
        batch.drop_column("removed_at")
        batch.drop_column("url")
        batch.drop_column("network")
        batch.drop_constraint(op.f("ck_publications_status"), type_="check")
        batch.create_check_constraint("status", "status IN ('pending', 'published')")
