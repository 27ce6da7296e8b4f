"""The crisis lane's records in the review service (docs/crisis-lane.md): each emergency post with
its signed start record and status, and each co-signer's signed approval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.review.models import Base

AWAITING = "awaiting_approvals"
# Where the after-review is still open; every other status is final.
OPEN_STATUSES = (AWAITING, "publishing", "published", "after_review")


class CrisisPost(Base):
    __tablename__ = "crisis_posts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    channels: Mapped[list[str]] = mapped_column(JSON)
    author_id: Mapped[str] = mapped_column(String(64))
    starter_id: Mapped[str] = mapped_column(String(64))
    starter_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approvers: Mapped[int] = mapped_column(Integer)
    after_review_seconds: Mapped[int] = mapped_column(Integer)
    # The review service's signed start record (workflows/crisis_signatures.py).
    start_record: Mapped[str] = mapped_column(Text)
    # awaiting_approvals | expired | published | publish_failed | after_review | kept | taken_down
    # | takedown_failed
    status: Mapped[str] = mapped_column(String(32), default=AWAITING)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    after_review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # approved | rejected | changes_requested | withdrawn | not_finished ("" while open)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CrisisApproval(Base):
    __tablename__ = "crisis_approvals"
    __table_args__ = (UniqueConstraint("crisis_id", "signer_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    crisis_id: Mapped[str] = mapped_column(ForeignKey("crisis_posts.id"), index=True)
    signer_id: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    record: Mapped[str] = mapped_column(Text)
