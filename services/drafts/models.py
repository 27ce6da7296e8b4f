from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.kit.db import UTCDateTime, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class Draft(Base):
    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    author_id: Mapped[str] = mapped_column(String(64), index=True)
    author_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    current_version: Mapped[int] = mapped_column(Integer)
    # Projection of the approval workflow's state; `state_revision` orders the updates.
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    state_revision: Mapped[int] = mapped_column(Integer, default=0)
    state_note: Mapped[str] = mapped_column(Text, default="")
    # What the draft is for (workflows/crisis_templates.py PURPOSES): a post, a crisis template
    # (reviewed, never published itself), or a post made from a template's filled text.
    purpose: Mapped[str] = mapped_column(String(32), default="post", server_default="post")
    # For a post made from a template: which template version it filled.
    template_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    versions: Mapped[list[DraftVersion]] = relationship(
        back_populates="draft", lazy="raise", order_by="DraftVersion.version"
    )


class DraftVersion(Base):
    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("draft_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSON)
    patient_content: Mapped[bool]
    # The consent records this version relies on (media items may name their own, see DraftMedia).
    consent_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    media_digests: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    draft: Mapped[Draft] = relationship(back_populates="versions", lazy="raise")


class VersionConsent(Base):
    """Which versions name which consent: how a revocation finds the drafts that rely on it."""

    __tablename__ = "version_consents"
    __table_args__ = (UniqueConstraint("draft_id", "version", "consent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"))
    version: Mapped[int] = mapped_column(Integer)
    consent_id: Mapped[str] = mapped_column(String(64), index=True)


class DraftMedia(Base):
    """One sanitized image attached to a draft (the bytes live in the media store by digest).

    Which versions carry it is `DraftVersion.media_digests`; what is known about it (faces, the
    author's staff/stock mark and its confirmation, the consent it names) is kept here, per draft.
    """

    __tablename__ = "draft_media"
    __table_args__ = (UniqueConstraint("draft_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    faces: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    staff_stock: Mapped[bool] = mapped_column(default=False)
    staff_stock_confirmed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    staff_stock_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    consent_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Consent(Base):
    """A patient's written authorization to use their story, name or photo.

    What identifies the patient (reference and names) and the signed form are sealed with the
    consent key (services/drafts/sealing.py); the scope, dates and state are plain so they can be
    checked and listed without opening them.
    """

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sealed_identity: Mapped[bytes] = mapped_column(LargeBinary)
    # Keyed hash of the normalized patient reference: finds a patient's consents without opening all.
    patient_ref_index: Mapped[str] = mapped_column(String(64), index=True)
    name_use: Mapped[str] = mapped_column(String(16))  # none | first_name | full_name
    story_use: Mapped[bool]
    channels: Mapped[list[str]] = mapped_column(JSON)
    media_digests: Mapped[list[str]] = mapped_column(JSON, default=list)
    collected_by: Mapped[str] = mapped_column(String(200))
    collected_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    form_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    form_media_type: Mapped[str] = mapped_column(String(32))
    form_digest: Mapped[str] = mapped_column(String(64))
    form_size: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoke_reason: Mapped[str] = mapped_column(Text, default="")


class TakedownTask(Base):
    """A published post that must come down (its consent was revoked): work for the publisher role."""

    __tablename__ = "takedown_tasks"
    __table_args__ = (UniqueConstraint("draft_id", "consent_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    consent_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
