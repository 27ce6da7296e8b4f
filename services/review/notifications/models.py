"""The notification tables, in the review service's database (one metadata with services/review/models.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.review.models import Base


class NotificationRecipient(Base):
    """A user as the review service last saw them in a gateway-signed token (id, username, name,
    roles), and the e-mail address they gave for notifications. `role:` recipients expand to these."""

    __tablename__ = "notification_recipients"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(200), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, default=None)
    # kind -> channels ("email", "inbox"); a kind not named gets both.
    channels: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    digest: Mapped[str] = mapped_column(String(16), default="off")  # off | hourly | daily
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboxItem(Base):
    """One notice in one user's in-app inbox."""

    __tablename__ = "notification_inbox"
    __table_args__ = (UniqueConstraint("notice_id", "recipient"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(36))
    # The user id or, for someone the service has not seen yet, the name the notice gives them.
    recipient: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)


class EmailDelivery(Base):
    """One notice by e-mail to one user, once: written with the fan-out, sent after it (a restart
    sends what is still `pending`); `digest` rows wait for their period's message."""

    __tablename__ = "notification_emails"
    __table_args__ = (UniqueConstraint("notice_id", "recipient"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(36))
    recipient: Mapped[str] = mapped_column(String(64), index=True)  # user id
    address: Mapped[str] = mapped_column(String(320))
    event: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | digest | sent | failed
    digest_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)
    # When it may be tried (again): its creation, its digest's end, a retry's backoff, or the end of
    # the lease a sending process took on it (a process that died mid-send leaves it to the next).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)


class WebhookEndpoint(Base):
    """An admin-managed receiver (a chat tool's incoming webhook) for some event kinds."""

    __tablename__ = "notification_webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    # The signing secret: shown once when the endpoint is created, kept to sign every delivery.
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)


class WebhookDelivery(Base):
    """One notice to one endpoint: retried with backoff while `pending`, `dead` after the last
    attempt (the dead-letter list), `delivered` on a 2xx."""

    __tablename__ = "notification_webhook_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "endpoint_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(36))
    endpoint_id: Mapped[str] = mapped_column(String(36), index=True)
    event: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)
