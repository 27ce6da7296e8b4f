"""notifications: the recipients directory and preferences, the inbox, e-mail and webhook deliveries

Revision ID: 0009_review_notifications
Revises: 0008_review_sla
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_review_notifications"
down_revision: str | None = "0008_review_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "changes_requested" does not fit the first slice's 16 characters.
    with op.batch_alter_table("review_notices") as batch:
        batch.alter_column("kind", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)
    op.create_table(
        "notification_recipients",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_recipients")),
    )
    op.create_index(op.f("ix_notification_recipients_username"), "notification_recipients", ["username"])
    op.create_table(
        "notification_inbox",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("notice_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_inbox")),
        sa.UniqueConstraint("notice_id", "recipient", name=op.f("uq_notification_inbox_notice_id_recipient")),
    )
    op.create_index(op.f("ix_notification_inbox_recipient"), "notification_inbox", ["recipient"])
    op.create_table(
        "notification_emails",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("notice_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("digest_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_emails")),
        sa.UniqueConstraint(
            "notice_id", "recipient", name=op.f("uq_notification_emails_notice_id_recipient")
        ),
    )
    op.create_index(op.f("ix_notification_emails_recipient"), "notification_emails", ["recipient"])
    op.create_index(op.f("ix_notification_emails_status"), "notification_emails", ["status"])
    op.create_index(
        op.f("ix_notification_emails_next_attempt_at"), "notification_emails", ["next_attempt_at"]
    )
    op.create_table(
        "notification_webhooks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_webhooks")),
    )
    op.create_table(
        "notification_webhook_deliveries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("notice_id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_webhook_deliveries")),
        sa.UniqueConstraint(
            "notice_id", "endpoint_id", name=op.f("uq_notification_webhook_deliveries_notice_id_endpoint_id")
        ),
    )
    op.create_index(
        op.f("ix_notification_webhook_deliveries_endpoint_id"),
        "notification_webhook_deliveries",
        ["endpoint_id"],
    )
    op.create_index(
        op.f("ix_notification_webhook_deliveries_status"), "notification_webhook_deliveries", ["status"]
    )


def downgrade() -> None:
    op.drop_table("notification_webhook_deliveries")
    op.drop_table("notification_webhooks")
    op.drop_table("notification_emails")
    op.drop_table("notification_inbox")
    op.drop_table("notification_recipients")
    with op.batch_alter_table("review_notices") as batch:
        batch.alter_column("kind", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
