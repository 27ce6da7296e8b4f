"""Tables of the review UI: sign-in sessions, claims on review tasks, and comments on drafts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.review.models import Base


class UiSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is the key here.

    The user's own gateway tokens live here (never in the browser), so every call the UI makes to
    another service is made as that user and passes that service's own authorization.
    """

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    access_token: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskClaim(Base):
    """Who is working on one stage of a draft; lapses after the configured idle time or on release."""

    __tablename__ = "task_claims"
    __table_args__ = (UniqueConstraint("draft_id", "stage"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    holder_id: Mapped[str] = mapped_column(String(64))
    holder_name: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DraftComment(Base):
    """One comment in a draft's thread (author and reviewers); each is also an audit event."""

    __tablename__ = "draft_comments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
