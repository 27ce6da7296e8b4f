"""CrisisTemplatePostWorkflow: one post from a pre-approved crisis template, published at once.

The review service starts it (`crisis-template-<use id>`) after one crisis holder filled the
template and signed the use. The publisher checks the signed template approval and the signed use
against the draft the drafts service holds, then posts it once per channel; the outcome is recorded
by the review service (status and audit event). Nothing here is trusted by the publisher: a forged
input is refused there.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import PUBLISHER_TASK_QUEUE, REVIEW_TASK_QUEUE
    from workflows.crisis_template_contracts import (
        CRISIS_TEMPLATE_POST_WORKFLOW,
        PUBLISH_TEMPLATE_POST,
        RECORD_TEMPLATE_POST_STEP,
        TEMPLATE_STATE_QUERY,
        TemplatePostInput,
        TemplatePostResult,
        TemplatePostState,
        TemplatePostStep,
    )

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ContentMismatch", "ApprovalRefused", "NotFound", "ChannelNotConfigured"],
)
# A post that cannot reach its channels within this long is recorded as failed, not retried forever.
PUBLISH_DEADLINE = timedelta(hours=1)


@workflow.defn(name=CRISIS_TEMPLATE_POST_WORKFLOW)
class CrisisTemplatePostWorkflow:
    @workflow.init
    def __init__(self, request: TemplatePostInput) -> None:
        self._use_id = request.use_id
        self._status = "publishing"

    @workflow.run
    async def run(self, request: TemplatePostInput) -> TemplatePostResult:
        reason = ""
        try:
            await workflow.execute_activity(
                PUBLISH_TEMPLATE_POST,
                request,
                task_queue=PUBLISHER_TASK_QUEUE,
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=PUBLISH_DEADLINE,
                retry_policy=RETRY,
            )
            self._status = "published"
        except ActivityError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
            self._status = "publish_failed"
        await workflow.execute_activity(
            RECORD_TEMPLATE_POST_STEP,
            TemplatePostStep(self._use_id, self._status, reason),
            task_queue=REVIEW_TASK_QUEUE,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        return TemplatePostResult(self._use_id, self._status)

    @workflow.query(name=TEMPLATE_STATE_QUERY)
    def state(self) -> TemplatePostState:
        return TemplatePostState(self._use_id, self._status)
