"""/api/v1/notifications: the caller's preferences and inbox; webhook endpoints and dead letters (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.auth import CurrentPrincipal, require_roles
from services.review.deps import NotificationServiceDep
from services.review.notifications.schemas import (
    DeadLetter,
    DeadLetters,
    Inbox,
    InboxItemOut,
    Preferences,
    WebhookCreated,
    WebhookIn,
    Webhooks,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
ADMIN = [require_roles("admin")]


@router.get("/preferences", response_model=Preferences)
async def get_preferences(principal: CurrentPrincipal, service: NotificationServiceDep) -> Preferences:
    """The caller's channels per event kind, e-mail address and digest mode."""
    return await service.preferences(principal)


@router.put("/preferences", response_model=Preferences)
async def put_preferences(
    data: Preferences, principal: CurrentPrincipal, service: NotificationServiceDep
) -> Preferences:
    return await service.set_preferences(principal, data)


@router.get("/inbox", response_model=Inbox)
async def inbox(principal: CurrentPrincipal, service: NotificationServiceDep) -> Inbox:
    """The caller's notifications, newest first, and how many are unread."""
    return await service.inbox(principal)


@router.post("/inbox/{item_id}/read", response_model=InboxItemOut)
async def mark_read(
    item_id: str, principal: CurrentPrincipal, service: NotificationServiceDep
) -> InboxItemOut:
    return await service.mark_read(principal, item_id)


@router.get("/webhooks", response_model=Webhooks, dependencies=ADMIN)
async def webhooks(service: NotificationServiceDep) -> Webhooks:
    return Webhooks(webhooks=await service.webhooks())


@router.post("/webhooks", response_model=WebhookCreated, status_code=201, dependencies=ADMIN)
async def create_webhook(
    data: WebhookIn, principal: CurrentPrincipal, service: NotificationServiceDep
) -> WebhookCreated:
    """A receiver for some event kinds; the answer holds its signing secret, shown this once. Audited."""
    return await service.create_webhook(data, principal)


@router.delete("/webhooks/{endpoint_id}", status_code=204, dependencies=ADMIN)
async def delete_webhook(
    endpoint_id: str, principal: CurrentPrincipal, service: NotificationServiceDep
) -> None:
    await service.delete_webhook(endpoint_id, principal)


@router.get("/dead-letters", response_model=DeadLetters, dependencies=ADMIN)
async def dead_letters(service: NotificationServiceDep) -> DeadLetters:
    """Webhook deliveries that failed every attempt."""
    return DeadLetters(dead_letters=await service.dead_letters())


@router.post("/dead-letters/{delivery_id}/replay", response_model=DeadLetter, dependencies=ADMIN)
async def replay(
    delivery_id: str, principal: CurrentPrincipal, service: NotificationServiceDep
) -> DeadLetter:
    """Send a dead letter again at the next pass (fresh attempts). Audited."""
    return await service.replay(delivery_id, principal)
