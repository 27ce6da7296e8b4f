from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import UTCDateTime, new_metadata

PENDING = "pending"
PUBLISHED = "published"


class Base(DeclarativeBase):
    metadata = new_metadata()


class Publication(Base):
    """One approved draft version on one channel.

    The row is committed as `pending` before anything is posted, so its id can be handed to the
    channel and looked up there after a crash; it turns `published` only once the channel has it.
    """

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("draft_id", "version", "channel"),
        CheckConstraint(f"status IN ('{PENDING}', '{PUBLISHED}')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
