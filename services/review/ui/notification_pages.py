"""The inbox page of the review UI: the signed-in user's notifications, newest first, each with a
link to its draft and a "Mark read" form, and the form for their notification preferences (e-mail
address, channels per event kind, digest); the navigation shows the unread count on every page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from services.kit.tokens import Principal
from services.review.deps import NotificationServiceDep
from services.review.notifications.events import EVENT_KINDS, SUMMARIES
from services.review.notifications.preferences import CHANNELS
from services.review.notifications.schemas import Preferences
from services.review.notifications.service import NotificationService
from services.review.ui.deps import FormPostDep, SignedInDep, UiRoute
from services.review.ui.render import page, redirect
from services.review.ui.security import UI_PREFIX

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

INBOX_URL = f"{UI_PREFIX}/notifications"
KINDS = [(kind, SUMMARIES[kind]) for kind in EVENT_KINDS]


async def _page(
    request: Request,
    principal: Principal,
    notifications: NotificationService,
    *,
    typed: dict[str, Any] | None = None,
    error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    inbox = await notifications.inbox(principal)
    # The navigation's count, from the same read as the page: a notice delivered while the page
    # is built must not make the two disagree.
    request.state.unread_notifications = inbox.unread
    chosen = await notifications.preferences(principal)
    current: dict[str, list[str]] = {str(kind): list(channels) for kind, channels in chosen.channels.items()}
    values = typed or {
        "email": chosen.email or "",
        "digest": chosen.digest,
        "channels": {kind: current.get(kind, list(CHANNELS)) for kind in EVENT_KINDS},
    }
    context = {"inbox": inbox, "values": values, "kinds": KINDS, "error": error, "notice": notice}
    return page(request, "notifications.html", context, status_code=status_code)


@router.get("/notifications")
async def inbox_page(
    request: Request, signed: SignedInDep, notifications: NotificationServiceDep, saved: str = ""
) -> Response:
    notice = "Your notification preferences are saved." if saved else ""
    return await _page(request, signed.principal, notifications, notice=notice)


@router.post("/notifications/{item_id}/read")
async def mark_read(item_id: str, form: FormPostDep, notifications: NotificationServiceDep) -> Response:
    await notifications.mark_read(form.principal, item_id)
    return redirect(INBOX_URL)


@router.post("/notifications/preferences")
async def save_preferences(
    request: Request, form: FormPostDep, notifications: NotificationServiceDep
) -> Response:
    """One checkbox per event kind and channel (`email:<kind>`, `inbox:<kind>`), the address and the
    digest; a refusal is shown above the form with what was typed kept."""
    fields = await request.form()
    email = str(fields.get("email", "")).strip()
    digest = str(fields.get("digest", "off"))
    channels = {kind: [c for c in CHANNELS if fields.get(f"{c}:{kind}")] for kind in EVENT_KINDS}
    typed = {"email": email, "digest": digest, "channels": channels}
    try:
        data = Preferences.model_validate({"email": email or None, "digest": digest, "channels": channels})
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        return await _page(
            request, form.principal, notifications, typed=typed, status_code=422,
            error=f"Nothing was saved ({reasons}).",
        )  # fmt: skip
    await notifications.set_preferences(form.principal, data)
    return redirect(f"{INBOX_URL}?saved=1")
