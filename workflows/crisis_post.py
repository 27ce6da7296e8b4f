"""CrisisPostWorkflow: an emergency post, from its start to the end of its after-review.

wait for the co-signers' signed approvals until the window closes -> none in time: expired,
nothing is published -> the quorum signed: the publisher posts at once (checking every signature
itself) -> the normal review opens for the same content -> approved within `after_review_within`:
the post stays -> rejected, changes requested, withdrawn or not finished in time: the publisher
takes it down through the live post's takedown. Each step is recorded by the review service
(status and audit event). Started by the review service (`crisis-<crisis id>`) with its signed
start record; the `crisis_approve` validator refuses any approval that is not a valid signature of
a distinct, crisis-role, non-starter signer for this exact content inside the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.kit.tokens import SignatureError
    from workflows.contracts import (
        PUBLISHER_TASK_QUEUE,
        REFUSED_CONFLICT,
        REFUSED_FORBIDDEN,
        REFUSED_INVALID,
        REVIEW_TASK_QUEUE,
    )
    from workflows.crisis_contracts import (
        AFTER_REVIEW_KEEPS,
        AFTER_REVIEW_TAKES_DOWN,
        CRISIS_AFTER_REVIEW_STATE,
        CRISIS_APPROVE_UPDATE,
        CRISIS_POST_WORKFLOW,
        CRISIS_STATE_QUERY,
        OPEN_CRISIS_AFTER_REVIEW,
        PUBLISH_CRISIS_POST,
        RECORD_CRISIS_STEP,
        TAKE_DOWN_CRISIS_POST,
        AfterReviewState,
        CrisisApproved,
        CrisisApproveRequest,
        CrisisPostInput,
        CrisisPostResult,
        CrisisPublishRequest,
        CrisisRef,
        CrisisState,
        CrisisStep,
        CrisisTakedown,
        CrisisTakedownAccepted,
    )
    from workflows.crisis_signatures import CrisisStart, approval_problems, read_approval, read_start

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ContentMismatch", "ApprovalRefused", "NotFound", "ChannelNotConfigured"],
)
# A post that cannot reach its channels within this long is recorded as failed, not retried forever.
PUBLISH_DEADLINE = timedelta(hours=1)
TAKEDOWN_DEADLINE = timedelta(hours=1)
FIRST_POLL = timedelta(seconds=5)


def _refuse(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@workflow.defn(name=CRISIS_POST_WORKFLOW)
class CrisisPostWorkflow:
    @workflow.init
    def __init__(self, request: CrisisPostInput) -> None:
        self._crisis_id = request.crisis_id
        self._keys: dict[str, dict[str, Any]] = dict(request.keys)
        try:
            self._start: CrisisStart = read_start(request.start, self._keys)
        except SignatureError as exc:
            # A failure, not a retry: no workflow task could ever read this record.
            raise ApplicationError(
                f"the crisis start record does not verify: {exc}", non_retryable=True
            ) from exc
        self._start_token = request.start
        # signer id -> their signed approval, in the order they arrived.
        self._approvals: dict[str, str] = {}
        self._status = "awaiting_approvals"
        self._after_review_due: datetime | None = None
        self._outcome = ""

    @workflow.run
    async def run(self, request: CrisisPostInput) -> CrisisPostResult:
        start = self._start
        window = max(start.window_ends_at - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: len(self._approvals) >= start.approvers and workflow.all_handlers_finished(),
                timeout=window,
                timeout_summary="crisis window",
            )
        except TimeoutError:
            self._status = "expired"
            await self._step(
                "expired", f"{len(self._approvals)} of {start.approvers} approvals within the window"
            )
            return self._result()
        self._status = "publishing"
        try:
            await workflow.execute_activity(
                PUBLISH_CRISIS_POST,
                CrisisPublishRequest(
                    crisis_id=self._crisis_id,
                    draft_id=start.draft_id,
                    version=start.version,
                    content_hash=start.content_hash,
                    channels=list(start.channels),
                    start=self._start_token,
                    approvals=list(self._approvals.values()),
                ),
                task_queue=PUBLISHER_TASK_QUEUE,
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=PUBLISH_DEADLINE,
                retry_policy=RETRY,
            )
        except ActivityError as exc:
            self._status = "publish_failed"
            await self._step("publish_failed", _reason(exc))
            return self._result()
        self._status = "published"
        await self._step("published")
        # The after-review's clock starts when the post is out.
        self._after_review_due = workflow.now() + timedelta(seconds=start.after_review_seconds)
        await self._activity(OPEN_CRISIS_AFTER_REVIEW, CrisisRef(self._crisis_id), REVIEW_TASK_QUEUE, None)
        self._status = "after_review"
        outcome, why = await self._await_after_review(request.poll_seconds)
        self._outcome = outcome
        if outcome == "kept":
            self._status = "kept"
            await self._step("kept", why)
            return self._result()
        await self._take_down(why)
        return self._result()

    async def _await_after_review(self, poll_seconds: int) -> tuple[str, str]:
        """("kept" | "taken_down", why) once the after-review settles or its time runs out."""
        assert self._after_review_due is not None
        # Read soon after it opens (a quick rejection takes the post down quickly), then less often.
        longest = timedelta(seconds=max(poll_seconds, 1))
        poll = min(FIRST_POLL, longest)
        while True:
            state: AfterReviewState = await self._activity(
                CRISIS_AFTER_REVIEW_STATE, CrisisRef(self._crisis_id), REVIEW_TASK_QUEUE, AfterReviewState
            )
            if state.status in AFTER_REVIEW_KEEPS:
                return "kept", f"the after-review approved it ({state.status})"
            if state.status in AFTER_REVIEW_TAKES_DOWN:
                note = f": {state.note}" if state.note else ""
                return "taken_down", f"the after-review ended {state.status}{note}"
            left = self._after_review_due - workflow.now()
            if left <= timedelta(0):
                hours = self._start.after_review_seconds / 3600
                return "taken_down", f"the after-review did not finish within {hours:g} hours"
            await workflow.sleep(min(poll, left), summary="after-review poll")
            poll = min(poll * 2, longest)

    async def _take_down(self, why: str) -> None:
        self._status = "taking_down"
        try:
            accepted: CrisisTakedownAccepted = await workflow.execute_activity(
                TAKE_DOWN_CRISIS_POST,
                CrisisTakedown(self._crisis_id, self._start.draft_id, why),
                task_queue=PUBLISHER_TASK_QUEUE,
                result_type=CrisisTakedownAccepted,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=TAKEDOWN_DEADLINE,
                retry_policy=RETRY,
            )
        except ActivityError as exc:
            self._status = "takedown_failed"
            await self._step("takedown_failed", f"{why}; the takedown was not accepted: {_reason(exc)}")
            return
        self._status = "taken_down"
        await self._step("taken_down", why, {"request_id": accepted.request_id, "takedown": accepted.status})

    # --- approvals ------------------------------------------------------------------------------

    @workflow.update(name=CRISIS_APPROVE_UPDATE)
    def approve(self, request: CrisisApproveRequest) -> CrisisApproved:
        # Counted before anything awaits: a concurrent validator sees this approval.
        self._approvals[request.signer_id] = request.signed
        return CrisisApproved(len(self._approvals), self._start.approvers, self._status)

    @approve.validator
    def _check_approval(self, request: CrisisApproveRequest) -> None:
        if self._status != "awaiting_approvals" or len(self._approvals) >= self._start.approvers:
            raise _refuse(REFUSED_CONFLICT, f"the crisis post takes no more approvals ({self._status})")
        if workflow.now() > self._start.window_ends_at:
            raise _refuse(REFUSED_CONFLICT, "the crisis window has passed")
        try:
            approval = read_approval(request.signed, self._keys)
        except SignatureError as exc:
            raise _refuse(REFUSED_FORBIDDEN, f"the approval's signature does not verify: {exc}") from exc
        if approval.signer_id != request.signer_id:
            raise _refuse(REFUSED_FORBIDDEN, "the approval was signed by someone else")
        if approval.signer_id in self._approvals:
            raise _refuse(REFUSED_CONFLICT, "this person approved the crisis post already")
        problems = approval_problems(self._start, approval)
        if problems:
            forbidden = any("may not" in p or "role" in p for p in problems)
            kind = REFUSED_FORBIDDEN if forbidden else REFUSED_INVALID
            raise _refuse(kind, "; ".join(problems))

    @workflow.query(name=CRISIS_STATE_QUERY)
    def state(self) -> CrisisState:
        return CrisisState(
            crisis_id=self._crisis_id,
            status=self._status,
            approvals=len(self._approvals),
            needed=self._start.approvers,
            window_ends_at=self._start.window_ends_at.isoformat(),
            after_review_due_at=self._after_review_due.isoformat() if self._after_review_due else "",
            outcome=self._outcome,
        )

    # --- helpers --------------------------------------------------------------------------------

    def _result(self) -> CrisisPostResult:
        return CrisisPostResult(self._crisis_id, self._status, self._outcome)

    async def _step(self, step: str, reason: str = "", details: dict[str, Any] | None = None) -> None:
        await self._activity(
            RECORD_CRISIS_STEP,
            CrisisStep(self._crisis_id, step, reason, {"approvals": len(self._approvals), **(details or {})}),
            REVIEW_TASK_QUEUE,
            None,
        )

    async def _activity(self, name: str, arg: Any, task_queue: str, result_type: type[Any] | None) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            task_queue=task_queue,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )


def _reason(exc: ActivityError) -> str:
    cause = exc.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause)
