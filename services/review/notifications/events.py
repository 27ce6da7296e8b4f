"""The one event schema every notification carries (e-mail, inbox, webhook), version 1.

Ids, stage, times and a link to the review UI: never a post's title or text, never anything a
screening found (no PHI can leak through a notice). Documented in docs/review-policy.md."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from services.review.models import ReviewNotice

SCHEMA_VERSION: Literal[1] = 1
EventKind = Literal[
    "review.requested",
    "review.reminder",
    "review.escalated",
    "draft.review_expired",
    "draft.changes_requested",
    "draft.approved",
    "draft.published",
    "draft.taken_down",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
# The outbox's `kind` (review_notices.kind) -> the event it is.
KIND_OF_NOTICE: dict[str, str] = {
    "requested": "review.requested",
    "reminder": "review.reminder",
    "escalation": "review.escalated",
    "expired": "draft.review_expired",
    "changes_requested": "draft.changes_requested",
    "approved": "draft.approved",
    "published": "draft.published",
    "taken_down": "draft.taken_down",
}
SUMMARIES: dict[str, str] = {
    "review.requested": "A review is waiting for you",
    "review.reminder": "Reminder: a review is due",
    "review.escalated": "Escalated: a review is past its due time",
    "draft.review_expired": "The review of your draft expired",
    "draft.changes_requested": "Changes were requested on your draft",
    "draft.approved": "Your draft was approved",
    "draft.published": "Your post was published",
    "draft.taken_down": "Your post was taken down",
}


class NotificationEvent(BaseModel):
    """What a receiver gets, whatever the channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str  # the notice's id: the same event on every channel, a receiver's idempotency key
    kind: EventKind
    draft_id: str
    version: int
    stage: str | None  # None for events about the whole draft
    n: int  # the how-many-th notice of this kind for the stage (reminders count up)
    due_at: datetime | None
    created_at: datetime
    link: str  # the review UI page of the draft

    @property
    def summary(self) -> str:
        return SUMMARIES[self.kind]


def event_of(notice: ReviewNotice, public_url: str) -> NotificationEvent:
    kind = KIND_OF_NOTICE.get(notice.kind)
    if kind is None:
        raise ValueError(f"notice {notice.id} has an unknown kind {notice.kind!r}")
    return NotificationEvent(
        id=notice.id,
        kind=kind,
        draft_id=notice.draft_id,
        version=notice.version,
        stage=notice.stage or None,
        n=notice.n,
        due_at=notice.due_at,
        created_at=notice.created_at,
        link=f"{public_url.rstrip('/')}/review/drafts/{notice.draft_id}",
    )
