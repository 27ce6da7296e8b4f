"""The one event schema every notification carries (e-mail, inbox, webhook), version 1.

Ids, stage, times and a link to the review UI: never a post's title or text, never anything a
screening found (no PHI can leak through a notice). An adverse-event case's reminder or escalation
names the case and its clock, never the comment or what it showed. Documented in
docs/review-policy.md."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from services.review.models import ReviewNotice

SCHEMA_VERSION: Literal[1] = 1
# The outbox kinds of an adverse-event case's notices (services/review/ae_cases.py): for these the
# notice's `stage` is the clock (handoff, regulatory) and its `reason` the case's id.
CASE_REMINDER = "case_reminder"
CASE_ESCALATION = "case_escalation"
CASE_KINDS = (CASE_REMINDER, CASE_ESCALATION)
EventKind = Literal[
    "review.requested",
    "review.reminder",
    "review.escalated",
    "draft.review_expired",
    "draft.changes_requested",
    "draft.approved",
    "draft.published",
    "draft.taken_down",
    "ae_case.reminder",
    "ae_case.escalated",
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
    CASE_REMINDER: "ae_case.reminder",
    CASE_ESCALATION: "ae_case.escalated",
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
    "ae_case.reminder": "Reminder: an adverse-event case clock is due",
    "ae_case.escalated": "Escalated: an adverse-event case is past its due time",
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
    link: str  # the review UI page of the draft, or of the case
    # An adverse-event case's notice: the case and its clock (absent from the others' documents).
    case_id: str | None = None
    clock: str | None = None

    @model_serializer(mode="wrap")
    def _document(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """A review's or a draft's event is what it always was: no case fields in it."""
        document: dict[str, object] = handler(self)
        if self.case_id is None:
            document.pop("case_id", None)
            document.pop("clock", None)
        return document

    @property
    def summary(self) -> str:
        return SUMMARIES[self.kind]


def event_of(notice: ReviewNotice, public_url: str) -> NotificationEvent:
    kind = KIND_OF_NOTICE.get(notice.kind)
    if kind is None:
        raise ValueError(f"notice {notice.id} has an unknown kind {notice.kind!r}")
    if notice.kind in CASE_KINDS:
        return NotificationEvent(
            id=notice.id,
            kind=kind,
            draft_id=notice.draft_id,
            version=notice.version,
            stage=None,
            n=notice.n,
            due_at=notice.due_at,
            created_at=notice.created_at,
            link=f"{public_url.rstrip('/')}/review/ae-cases/{notice.reason}",
            case_id=notice.reason,
            clock=notice.stage,
        )
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
