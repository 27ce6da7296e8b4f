"""LivePostWorkflow: a published post's life, from going live to coming down.

Started by the publisher once a post is on its networks (workflow id `live-post-<draft id>`), or
by signal-with-start when someone asks to take down a post published before it existed. It waits
on a durable timer for the end of the content's lifetime (from the signed stage requirement, kept
by the publisher) or for a takedown signal, whichever comes first, then has the publisher delete
the post from every network it went to, retrying until that is done or the deadline passes, when
the failure is recorded where everyone sees it. Which publications exist, who asked and why are
read by the publisher from its own records: this workflow's input is only the draft id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        LIVE_POST_PLAN,
        LIVE_POST_WORKFLOW,
        PUBLISHER_TASK_QUEUE,
        RECORD_REVIEW_NOTICE,
        REVIEW_TASK_QUEUE,
        TAKE_DOWN_POST,
        TAKEDOWN_FAILED,
        TAKEDOWN_SIGNAL,
        LivePostInput,
        LivePostPlan,
        NoticeDue,
        NoticeRecorded,
        TakedownInput,
        TakedownRequest,
        TakedownResult,
    )

# Deleting goes on this long (with backoff up to five minutes between attempts) before the
# takedown is recorded as failed.
TAKEDOWN_DEADLINE = timedelta(hours=6)
TAKEDOWN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["NotLive"],
)
PLAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# The author is told the post came down: a notice in the review service's outbox (issue #18).
NOTIFY_PATCH = "notify-post-events-2026-12"


@workflow.defn(name=LIVE_POST_WORKFLOW)
class LivePostWorkflow:
    @workflow.init
    def __init__(self, request: LivePostInput) -> None:
        self._draft_id = request.draft_id
        self._takedown: TakedownRequest | None = None

    @workflow.signal(name=TAKEDOWN_SIGNAL)
    def takedown(self, request: TakedownRequest) -> None:
        if self._takedown is None:
            self._takedown = request

    @workflow.run
    async def run(self, request: LivePostInput) -> TakedownResult | None:
        plan = await workflow.execute_activity(
            LIVE_POST_PLAN,
            LivePostInput(self._draft_id),
            task_queue=PUBLISHER_TASK_QUEUE,
            result_type=LivePostPlan,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PLAN_RETRY,
        )
        if plan.status == "taken_down" or (plan.status == "none" and self._takedown is None):
            return None
        cause = "takedown"
        if self._takedown is None:
            timeout = None
            if plan.expires_at:
                timeout = max(datetime.fromisoformat(plan.expires_at) - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(
                    lambda: self._takedown is not None, timeout=timeout, timeout_summary="lifetime"
                )
            except TimeoutError:
                cause = "expired"
        if self._takedown is not None:
            cause = self._takedown.cause
        order = TakedownInput(
            self._draft_id, cause, request_id=self._takedown.request_id if self._takedown else ""
        )
        try:
            result: TakedownResult = await workflow.execute_activity(
                TAKE_DOWN_POST,
                order,
                task_queue=PUBLISHER_TASK_QUEUE,
                result_type=TakedownResult,
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=TAKEDOWN_DEADLINE,
                retry_policy=TAKEDOWN_RETRY,
            )
        except ActivityError as exc:
            return await self._failed(order, cause, exc)
        if result.status == "taken_down" and workflow.patched(NOTIFY_PATCH):
            # The review service finds the author in its own tasks for the draft (any version).
            await workflow.execute_activity(
                RECORD_REVIEW_NOTICE,
                NoticeDue(self._draft_id, 0, "", "", "taken_down", 1, workflow.now().isoformat(), cause),
                task_queue=REVIEW_TASK_QUEUE,
                result_type=NoticeRecorded,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PLAN_RETRY,
            )
        return result

    async def _failed(self, order: TakedownInput, cause: str, exc: ActivityError) -> TakedownResult:
        """The takedown never succeeded before its deadline: recorded where everyone sees it."""
        cause_error = exc.cause
        reason = cause_error.message if isinstance(cause_error, ApplicationError) else str(cause_error)
        failed: TakedownResult = await workflow.execute_activity(
            TAKEDOWN_FAILED,
            TakedownInput(self._draft_id, cause, request_id=order.request_id, reason=reason),
            task_queue=PUBLISHER_TASK_QUEUE,
            result_type=TakedownResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PLAN_RETRY,
        )
        return failed
