"""Pre-approved crisis templates in the review service (docs/crisis-lane.md): each template version
whose full review approved it, with its signed approval, and each post a crisis holder made from
one, with its signed use and outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.review.models import Base

ACTIVE = "active"
SUPERSEDED = "superseded"  # a later version of the same template was approved
PUBLISHING = "publishing"


class CrisisTemplate(Base):
    __tablename__ = "crisis_templates"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The template draft (the drafts service's) and the approved version of it.
    template_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    channels: Mapped[list[str]] = mapped_column(JSON)
    variables: Mapped[list[str]] = mapped_column(JSON)
    places: Mapped[list[str]] = mapped_column(JSON)
    phones: Mapped[list[str]] = mapped_column(JSON)
    author_id: Mapped[str] = mapped_column(String(64))
    approvers: Mapped[list[str]] = mapped_column(JSON)
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The review service's signed template approval (workflows/crisis_templates.py); it holds the text.
    approval_record: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)


class CrisisTemplateUse(Base):
    __tablename__ = "crisis_template_uses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    template_row_id: Mapped[str] = mapped_column(ForeignKey("crisis_templates.id"), index=True)
    # The draft the drafts service made from the filled text (its id is this use's).
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    channels: Mapped[list[str]] = mapped_column(JSON)
    values: Mapped[dict[str, str]] = mapped_column(JSON)
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    use_record: Mapped[str] = mapped_column(Text)
    # publishing | published | publish_failed
    status: Mapped[str] = mapped_column(String(16), default=PUBLISHING)
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
