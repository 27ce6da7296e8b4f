"""Every query of the notification tables (and the outbox rows they deliver)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.models import OffboardedUser, ReviewNotice
from services.review.notifications.models import (
    EmailDelivery,
    InboxItem,
    NotificationRecipient,
    WebhookDelivery,
    WebhookEndpoint,
)


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- the outbox ---------------------------------------------------------------------------

    async def undelivered_notices(self, limit: int) -> Sequence[ReviewNotice]:
        statement = (
            select(ReviewNotice)
            .where(ReviewNotice.delivered_at.is_(None))
            .order_by(ReviewNotice.created_at, ReviewNotice.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self._session.execute(statement)).scalars().all()

    # --- recipients ---------------------------------------------------------------------------

    async def recipient(self, user_id: str) -> NotificationRecipient | None:
        return await self._session.get(NotificationRecipient, user_id)

    async def recipient_named(self, name: str) -> NotificationRecipient | None:
        """A notice names a person by user id or by username."""
        statement = select(NotificationRecipient).where(
            or_(NotificationRecipient.user_id == name, NotificationRecipient.username == name)
        )
        return (await self._session.execute(statement)).scalars().first()

    async def recipients(self) -> Sequence[NotificationRecipient]:
        return (await self._session.execute(select(NotificationRecipient))).scalars().all()

    async def offboarded_ids(self) -> set[str]:
        return set((await self._session.execute(select(OffboardedUser.user_id))).scalars().all())

    # --- inbox --------------------------------------------------------------------------------

    async def inbox_item(self, notice_id: str, recipient: str) -> InboxItem | None:
        statement = select(InboxItem).where(
            InboxItem.notice_id == notice_id, InboxItem.recipient == recipient
        )
        return (await self._session.execute(statement)).scalars().first()

    async def inbox(self, names: Sequence[str], *, limit: int) -> Sequence[InboxItem]:
        statement = (
            select(InboxItem)
            .where(InboxItem.recipient.in_(list(names)))
            .order_by(InboxItem.created_at.desc(), InboxItem.id)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def unread_count(self, names: Sequence[str]) -> int:
        statement = select(func.count()).where(
            InboxItem.recipient.in_(list(names)), InboxItem.read_at.is_(None)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def inbox_item_by_id(self, item_id: str) -> InboxItem | None:
        return await self._session.get(InboxItem, item_id)

    # --- e-mail -------------------------------------------------------------------------------

    async def email(self, notice_id: str, recipient: str) -> EmailDelivery | None:
        statement = select(EmailDelivery).where(
            EmailDelivery.notice_id == notice_id, EmailDelivery.recipient == recipient
        )
        return (await self._session.execute(statement)).scalars().first()

    async def email_by_id(self, delivery_id: str) -> EmailDelivery | None:
        return await self._session.get(EmailDelivery, delivery_id)

    async def emails_due(self, at: datetime, limit: int) -> Sequence[EmailDelivery]:
        statement = (
            select(EmailDelivery)
            .where(EmailDelivery.status == "pending", EmailDelivery.next_attempt_at <= at)
            .order_by(EmailDelivery.next_attempt_at, EmailDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def digests_due(self, at: datetime) -> Sequence[EmailDelivery]:
        """The due digest rows, each recipient's together."""
        due = select(EmailDelivery.recipient).where(
            EmailDelivery.status == "digest", EmailDelivery.next_attempt_at <= at
        )
        statement = (
            select(EmailDelivery)
            .where(
                EmailDelivery.status == "digest",
                EmailDelivery.next_attempt_at <= at,  # not the rows another pass is sending
                EmailDelivery.recipient.in_(due),
            )
            .order_by(EmailDelivery.recipient, EmailDelivery.created_at, EmailDelivery.id)
            .with_for_update(skip_locked=True)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def emails_by_ids(self, ids: Sequence[str]) -> Sequence[EmailDelivery]:
        statement = select(EmailDelivery).where(EmailDelivery.id.in_(list(ids)))
        return (await self._session.execute(statement)).scalars().all()

    async def open_digest_due_at(self, recipient: str) -> datetime | None:
        """When the recipient's current digest goes out, if one is being gathered."""
        statement = select(func.min(EmailDelivery.digest_due_at)).where(
            EmailDelivery.recipient == recipient, EmailDelivery.status == "digest"
        )
        value: datetime | None = (await self._session.execute(statement)).scalar_one_or_none()
        return value

    # --- webhooks -----------------------------------------------------------------------------

    async def endpoints(self) -> Sequence[WebhookEndpoint]:
        statement = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return await self._session.get(WebhookEndpoint, endpoint_id)

    async def webhook_delivery(self, notice_id: str, endpoint_id: str) -> WebhookDelivery | None:
        statement = select(WebhookDelivery).where(
            WebhookDelivery.notice_id == notice_id, WebhookDelivery.endpoint_id == endpoint_id
        )
        return (await self._session.execute(statement)).scalars().first()

    async def webhook_delivery_by_id(self, delivery_id: str) -> WebhookDelivery | None:
        return await self._session.get(WebhookDelivery, delivery_id)

    async def webhooks_due(self, at: datetime, limit: int) -> Sequence[WebhookDelivery]:
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= at)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def dead_letters(self, limit: int) -> Sequence[WebhookDelivery]:
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "dead")
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    def add(
        self,
        item: NotificationRecipient | InboxItem | EmailDelivery | WebhookEndpoint | WebhookDelivery,
    ) -> None:
        self._session.add(item)

    async def flush(self) -> None:
        await self._session.flush()
