"""The inbox page of the review UI: the signed-in user's notifications, newest first, each with a
link to its draft and a "Mark read" form; the navigation shows the unread count on every page."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.review.deps import NotificationServiceDep
from services.review.ui.deps import FormPostDep, SignedInDep, UiRoute
from services.review.ui.render import page, redirect
from services.review.ui.security import UI_PREFIX

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

INBOX_URL = f"{UI_PREFIX}/notifications"


@router.get("/notifications")
async def inbox_page(
    request: Request, signed: SignedInDep, notifications: NotificationServiceDep
) -> Response:
    inbox = await notifications.inbox(signed.principal)
    return page(request, "notifications.html", {"inbox": inbox})


@router.post("/notifications/{item_id}/read")
async def mark_read(item_id: str, form: FormPostDep, notifications: NotificationServiceDep) -> Response:
    await notifications.mark_read(form.principal, item_id)
    return redirect(INBOX_URL)
