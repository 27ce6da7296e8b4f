"""The notification API's rules: the caller's directory entry and preferences, their inbox, and the
admin's webhook endpoints and dead letters (each change audited)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import NotFound
from services.kit.tokens import Principal
from services.review.notifications.events import NotificationEvent
from services.review.notifications.models import (
    InboxItem,
    NotificationRecipient,
    WebhookDelivery,
    WebhookEndpoint,
)
from services.review.notifications.repository import NotificationRepository
from services.review.notifications.schemas import (
    DeadLetter,
    Inbox,
    InboxItemOut,
    Preferences,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from services.review.notifications.signing import new_secret

INBOX_LIMIT = 200


def _item_out(item: InboxItem) -> InboxItemOut:
    event = NotificationEvent.model_validate(item.event)
    return InboxItemOut(
        id=item.id, event=event, summary=event.summary, created_at=item.created_at, read_at=item.read_at
    )


def _webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id, url=endpoint.url, kinds=list(endpoint.kinds), description=endpoint.description,
        created_at=endpoint.created_at, created_by=endpoint.created_by,
    )  # fmt: skip


def _dead_letter_out(row: WebhookDelivery) -> DeadLetter:
    return DeadLetter(
        id=row.id, endpoint_id=row.endpoint_id, event=NotificationEvent.model_validate(row.event),
        attempts=row.attempts, last_error=row.last_error, created_at=row.created_at,
    )  # fmt: skip


class NotificationService:
    def __init__(
        self, session: AsyncSession, *, audit: AuditRecorder, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._repo = NotificationRepository(session)
        self._audit = audit
        self._clock = clock

    async def remember(self, principal: Principal) -> NotificationRecipient:
        """The caller as their gateway-signed token says (roles change there): the directory that
        `role:` recipients expand to."""
        user = await self._repo.recipient(principal.user_id)
        if user is None:
            user = NotificationRecipient(
                user_id=principal.user_id, username=principal.username, display_name=principal.name,
                roles=sorted(principal.roles), channels={}, digest="off", seen_at=self._clock(),
            )  # fmt: skip
            self._repo.add(user)
        else:
            user.username, user.display_name = principal.username, principal.name
            user.roles, user.seen_at = sorted(principal.roles), self._clock()
        await self._repo.flush()
        return user

    # --- preferences --------------------------------------------------------------------------

    async def preferences(self, principal: Principal) -> Preferences:
        user = await self.remember(principal)
        return Preferences.model_validate(
            {"email": user.email, "channels": user.channels, "digest": user.digest}
        )

    async def set_preferences(self, principal: Principal, data: Preferences) -> Preferences:
        user = await self.remember(principal)
        user.email = data.email
        user.channels = {kind: list(channels) for kind, channels in data.channels.items()}
        user.digest = data.digest
        await self._repo.flush()
        return data

    # --- inbox --------------------------------------------------------------------------------

    async def inbox(self, principal: Principal) -> Inbox:
        await self.remember(principal)
        names = [principal.user_id, principal.username]
        items = await self._repo.inbox(names, limit=INBOX_LIMIT)
        return Inbox(unread=await self._repo.unread_count(names), items=[_item_out(i) for i in items])

    async def unread(self, principal: Principal) -> int:
        return await self._repo.unread_count([principal.user_id, principal.username])

    async def mark_read(self, principal: Principal, item_id: str) -> InboxItemOut:
        item = await self._repo.inbox_item_by_id(item_id)
        if item is None or item.recipient not in (principal.user_id, principal.username):
            raise NotFound(f"no inbox item {item_id} of yours")
        if item.read_at is None:
            item.read_at = self._clock()
            await self._repo.flush()
        return _item_out(item)

    # --- webhooks (admin) ---------------------------------------------------------------------

    async def webhooks(self) -> list[WebhookOut]:
        return [_webhook_out(e) for e in await self._repo.endpoints()]

    async def create_webhook(self, data: WebhookIn, admin: Principal) -> WebhookCreated:
        endpoint = WebhookEndpoint(
            id=str(uuid.uuid4()), url=data.url, kinds=list(data.kinds), secret=new_secret(),
            description=data.description, created_by=admin.user_id, created_at=self._clock(),
        )  # fmt: skip
        self._repo.add(endpoint)
        await self._repo.flush()
        await self._audit.append(
            actor=admin,
            action="notification.webhook_created",
            subject=f"webhook:{endpoint.id}",
            details={"url": endpoint.url, "kinds": endpoint.kinds},
            idempotency_key=f"review:webhook-created:{endpoint.id}",
        )
        return WebhookCreated(**_webhook_out(endpoint).model_dump(), secret=endpoint.secret)

    async def delete_webhook(self, endpoint_id: str, admin: Principal) -> None:
        endpoint = await self._repo.endpoint(endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None:
            raise NotFound(f"no webhook {endpoint_id}")
        endpoint.deleted_at = self._clock()
        await self._repo.flush()
        await self._audit.append(
            actor=admin,
            action="notification.webhook_deleted",
            subject=f"webhook:{endpoint.id}",
            details={"url": endpoint.url},
            idempotency_key=f"review:webhook-deleted:{endpoint.id}",
        )

    async def dead_letters(self) -> list[DeadLetter]:
        return [_dead_letter_out(r) for r in await self._repo.dead_letters(limit=500)]

    async def replay(self, delivery_id: str, admin: Principal) -> DeadLetter:
        """A dead letter goes out again at the next pass, with a fresh set of attempts."""
        row = await self._repo.webhook_delivery_by_id(delivery_id)
        if row is None or row.status != "dead":
            raise NotFound(f"no dead letter {delivery_id}")
        endpoint = await self._repo.endpoint(row.endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None:
            raise NotFound(f"the endpoint of dead letter {delivery_id} was deleted")
        out = _dead_letter_out(row)
        row.status, row.attempts, row.next_attempt_at = "pending", 0, self._clock()
        await self._repo.flush()
        await self._audit.append(
            actor=admin,
            action="notification.dead_letter_replayed",
            subject=f"webhook:{row.endpoint_id}",
            details={"delivery_id": row.id, "notice_id": row.notice_id, "attempts": out.attempts},
            idempotency_key=f"review:dead-letter-replayed:{row.id}:{uuid.uuid4()}",
        )
        return out
