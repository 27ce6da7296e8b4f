"""consent records, media items, takedown tasks; versions name several consents

Revision ID: 0002_drafts_consents
Revises: 0001_drafts
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_drafts_consents"
down_revision: str | None = "0001_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("sealed_identity", sa.LargeBinary(), nullable=False),
        sa.Column("patient_ref_index", sa.String(64), nullable=False),
        sa.Column("name_use", sa.String(16), nullable=False),
        sa.Column("story_use", sa.Boolean(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("media_digests", sa.JSON(), nullable=False),
        sa.Column("collected_by", sa.String(200), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("form_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("form_media_type", sa.String(32), nullable=False),
        sa.Column("form_digest", sa.String(64), nullable=False),
        sa.Column("form_size", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_patient_ref_index"), "consents", ["patient_ref_index"])
    op.create_table(
        "version_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["drafts.id"], name=op.f("fk_version_consents_draft_id_drafts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_consents")),
        sa.UniqueConstraint(
            "draft_id", "version", "consent_id", name=op.f("uq_version_consents_draft_id_version_consent_id")
        ),
    )
    op.create_index(op.f("ix_version_consents_consent_id"), "version_consents", ["consent_id"])
    op.create_table(
        "draft_media",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("faces", sa.JSON(), nullable=False),
        sa.Column("staff_stock", sa.Boolean(), nullable=False),
        sa.Column("staff_stock_confirmed_by", sa.String(64), nullable=True),
        sa.Column("staff_stock_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_id", sa.String(64), nullable=True),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_draft_media_draft_id_drafts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_media")),
        sa.UniqueConstraint("draft_id", "digest", name=op.f("uq_draft_media_draft_id_digest")),
    )
    op.create_index(op.f("ix_draft_media_draft_id"), "draft_media", ["draft_id"])
    op.create_index(op.f("ix_draft_media_consent_id"), "draft_media", ["consent_id"])
    op.create_table(
        "takedown_tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("draft_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_takedown_tasks_draft_id_drafts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_tasks")),
        sa.UniqueConstraint("draft_id", "consent_id", name=op.f("uq_takedown_tasks_draft_id_consent_id")),
    )
    op.create_index(op.f("ix_takedown_tasks_draft_id"), "takedown_tasks", ["draft_id"])

    # One consent per version becomes a list; the old references move over (and are linked).
    with op.batch_alter_table("draft_versions") as batch:
        batch.add_column(sa.Column("consent_ids", sa.JSON(), nullable=True))
    versions = sa.table(
        "draft_versions",
        sa.column("draft_id", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("consent_id", sa.String()),
        sa.column("consent_ids", sa.JSON()),
    )
    links = sa.table(
        "version_consents",
        sa.column("draft_id", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("consent_id", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(versions.c.draft_id, versions.c.version, versions.c.consent_id)).all()
    for draft_id, version, consent_id in rows:
        ids = [consent_id] if consent_id else []
        connection.execute(
            versions.update()
            .where(versions.c.draft_id == draft_id, versions.c.version == version)
            .values(consent_ids=ids)
        )
        if consent_id:
            connection.execute(
                links.insert().values(draft_id=draft_id, version=version, consent_id=consent_id)
            )
    with op.batch_alter_table("draft_versions") as batch:
        batch.alter_column("consent_ids", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("consent_id")


def downgrade() -> None:
    with op.batch_alter_table("draft_versions") as batch:
        batch.add_column(sa.Column("consent_id", sa.String(64), nullable=True))
    versions = sa.table(
        "draft_versions",
        sa.column("draft_id", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("consent_id", sa.String()),
        sa.column("consent_ids", sa.JSON()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(versions.c.draft_id, versions.c.version, versions.c.consent_ids)
    ).all()
    for draft_id, version, consent_ids in rows:
        if consent_ids:
            connection.execute(
                versions.update()
                .where(versions.c.draft_id == draft_id, versions.c.version == version)
                .values(consent_id=consent_ids[0])
            )
    with op.batch_alter_table("draft_versions") as batch:
        batch.drop_column("consent_ids")
    op.drop_table("takedown_tasks")
    op.drop_table("draft_media")
    op.drop_table("version_consents")
    op.drop_table("consents")
