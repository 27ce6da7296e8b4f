"""The review service's activities for CrisisPostWorkflow: record each step (status and audit event,
once however often retried), open the after-review and read how it stands.

The after-review is the normal review: the draft's own PostApprovalWorkflow, started with the
crisis post's version through workflows/client.py as a submission would start it, so the usual
stages, quorums and SLAs of the policy apply and reviewers decide it where they decide every draft.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.kit.errors import ClearpostError, NotFound
from services.review.crisis_models import CrisisPost
from services.review.crisis_repository import CrisisRepository
from services.review.drafts_client import VersionSource
from workflows.client import ApprovalWorkflowClient
from workflows.contracts import PostApprovalInput, VersionSubmitted, WithdrawRequest
from workflows.crisis_contracts import (
    CRISIS_AFTER_REVIEW_STATE,
    OPEN_CRISIS_AFTER_REVIEW,
    RECORD_CRISIS_STEP,
    AfterReviewState,
    CrisisRef,
    CrisisStep,
)

CRISIS_ACTOR = "system:crisis"
# step -> (status it leaves the post in, the after-review outcome it records, audit actions)
STEPS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "expired": ("expired", None, ("crisis.expired",)),
    "published": ("published", None, ("crisis.published",)),
    "publish_failed": ("publish_failed", None, ("crisis.publish_failed",)),
    "kept": ("kept", "approved", ("crisis.after_review_outcome",)),
    "taken_down": ("taken_down", "", ("crisis.after_review_outcome", "crisis.taken_down")),
    "takedown_failed": ("takedown_failed", "", ("crisis.after_review_outcome", "crisis.takedown_failed")),
}
FINAL_STEPS = ("expired", "publish_failed", "kept", "taken_down", "takedown_failed")


def outcome_of(reason: str) -> str:
    """The after-review's outcome a takedown reason names (workflows/crisis_post.py writes them)."""
    for outcome in ("rejected", "changes_requested", "withdrawn"):
        if f"ended {outcome}" in reason:
            return outcome
    return "not_finished"


class CrisisActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditRecorder,
        versions: VersionSource,
        approvals: ApprovalWorkflowClient,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._versions = versions
        self._approvals = approvals
        self._clock = clock

    async def _crisis(self, crisis_id: str) -> CrisisPost:
        async with session_scope(self._sessionmaker) as session:
            row = await CrisisRepository(session).get(crisis_id)
            if row is None:
                raise ApplicationError(
                    f"crisis post {crisis_id} does not exist", type="NotFound", non_retryable=True
                )
            session.expunge(row)
            return row

    @activity.defn(name=RECORD_CRISIS_STEP)
    async def record_crisis_step(self, step: CrisisStep) -> None:
        if step.step not in STEPS:
            raise ApplicationError(f"unknown crisis step {step.step!r}", type="Invalid", non_retryable=True)
        status, outcome, actions = STEPS[step.step]
        now = self._clock()
        async with session_scope(self._sessionmaker) as session:
            row = await CrisisRepository(session).get(step.crisis_id, for_update=True)
            if row is None:
                raise ApplicationError(
                    f"crisis post {step.crisis_id} does not exist", type="NotFound", non_retryable=True
                )
            row.status = status
            if step.step == "published" and row.published_at is None:
                row.published_at = now
                row.after_review_due_at = now + timedelta(seconds=row.after_review_seconds)
            if outcome is not None:
                row.outcome = outcome or outcome_of(step.reason)
            if step.step in FINAL_STEPS:
                row.outcome_reason = step.reason
                row.closed_at = row.closed_at or now
            draft_id, version = row.draft_id, row.version
            recorded_outcome = row.outcome
        if step.step in ("taken_down", "takedown_failed"):
            # A review still open after the post came down must not publish it again later.
            await self._withdraw_after_review(draft_id, step.reason)
        details: dict[str, Any] = {
            "crisis_id": step.crisis_id,
            "version": version,
            "reason": step.reason,
            **step.details,
        }
        for action in actions:
            extra = {"outcome": recorded_outcome} if action == "crisis.after_review_outcome" else {}
            await self._audit.append(
                actor=CRISIS_ACTOR,
                action=action,
                subject=f"draft:{draft_id}",
                details={**details, **extra},
                idempotency_key=f"crisis:{step.crisis_id}:{action}",
            )

    async def _withdraw_after_review(self, draft_id: str, reason: str) -> None:
        try:
            await self._approvals.withdraw(
                draft_id, WithdrawRequest(CRISIS_ACTOR, f"crisis post taken down: {reason}")
            )
        except ClearpostError as exc:
            if exc.status_code >= 500:
                raise  # Temporal did not answer: a retry asks again
            # Ended already, or being published (the publisher's record of the takedown stands).

    @activity.defn(name=OPEN_CRISIS_AFTER_REVIEW)
    async def open_crisis_after_review(self, ref: CrisisRef) -> None:
        row = await self._crisis(ref.crisis_id)
        content = await self._versions.get_version(row.draft_id, row.version)
        if content["content_hash"] != row.content_hash:
            raise ApplicationError(
                "the stored version no longer matches the crisis post's content hash",
                type="ContentMismatch",
                non_retryable=True,
            )
        # Signal-with-start: a draft workflow waiting for its author's next version takes this one.
        await self._approvals.start(
            PostApprovalInput(row.draft_id, row.author_id),
            VersionSubmitted(
                version=row.version,
                content_hash=row.content_hash,
                channels=list(row.channels),
                patient_content=bool(content.get("patient_content")),
                submitted_by=row.starter_id,
            ),
        )
        async with session_scope(self._sessionmaker) as session:
            current = await CrisisRepository(session).get(ref.crisis_id, for_update=True)
            if current is not None and current.status == "published":
                current.status = "after_review"
            due = current.after_review_due_at if current is not None else None
        await self._audit.append(
            actor=CRISIS_ACTOR,
            action="crisis.after_review_opened",
            subject=f"draft:{row.draft_id}",
            details={
                "crisis_id": row.id,
                "version": row.version,
                "content_hash": row.content_hash,
                "due_at": due.isoformat() if due else None,
            },
            idempotency_key=f"crisis:{row.id}:crisis.after_review_opened",
        )

    @activity.defn(name=CRISIS_AFTER_REVIEW_STATE)
    async def crisis_after_review_state(self, ref: CrisisRef) -> AfterReviewState:
        row = await self._crisis(ref.crisis_id)
        try:
            state = await self._approvals.state(row.draft_id)
        except NotFound:
            return AfterReviewState("")
        later = state.version is not None and state.version != row.version
        if later and state.status in ("approved", "scheduled", "published"):
            # A later version approved is not an approval of what went out.
            return AfterReviewState("changes_requested", "a later version is under review")
        return AfterReviewState(state.status, state.note)

    @property
    def all(self) -> list[Callable[..., Any]]:
        return [self.record_crisis_step, self.open_crisis_after_review, self.crisis_after_review_state]
