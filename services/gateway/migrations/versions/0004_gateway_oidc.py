"""the identity provider: users' IdP subject, groups, role sources and last sign-in; pending OIDC
logins, signing re-authentications, SCIM groups

Revision ID: 0004_gateway_oidc
Revises: 0003_gateway_offboarding
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_gateway_oidc"
down_revision: str | None = "0003_gateway_offboarding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("idp_subject", sa.String(255), nullable=True))
        batch.add_column(sa.Column("idp_groups", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("role_sources", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_login_method", sa.String(16), nullable=True))
        batch.add_column(sa.Column("tokens_revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_idp_subject"), ["idp_subject"])
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.String(500), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("binding", sa.String(64), nullable=True),
        sa.Column("context", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oidc_logins")),
    )
    op.create_table(
        "signing_reauthentications",
        sa.Column("handle_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("binding", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acr", sa.String(200), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signing_reauthentications_user_id_users")
        ),
        sa.PrimaryKeyConstraint("handle_hash", name=op.f("pk_signing_reauthentications")),
    )
    op.create_index(op.f("ix_signing_reauthentications_user_id"), "signing_reauthentications", ["user_id"])
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
        sa.UniqueConstraint("display_name", name=op.f("uq_scim_groups_display_name")),
    )
    op.create_table(
        "scim_group_members",
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["scim_groups.id"], name=op.f("fk_scim_group_members_group_id_scim_groups")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_scim_group_members_user_id_users")),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_scim_group_members")),
    )
    op.create_index(op.f("ix_scim_group_members_user_id"), "scim_group_members", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scim_group_members_user_id"), table_name="scim_group_members")
    op.drop_table("scim_group_members")
    op.drop_table("scim_groups")
    op.drop_index(op.f("ix_signing_reauthentications_user_id"), table_name="signing_reauthentications")
    op.drop_table("signing_reauthentications")
    op.drop_table("oidc_logins")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_idp_subject"), type_="unique")
        for column in (
            "tokens_revoked_at",
            "last_login_method",
            "last_login_at",
            "role_sources",
            "idp_groups",
            "idp_subject",
        ):
            batch.drop_column(column)
