"""CommentIngestWorkflow: listening after posting, one run per connected account.

Workflow id `comment-ingest-<account>`. Each round: the publisher reads the new comments of every
live post of the account from its stored cursors (`ingest_comments`; it also hands back any
comment a crash left unscreened), the review service screens each (`screen_comment`, kind
comment), the publisher records the screening with the comment, and a comment with an
`adverse_event` finding opens an adverse-event case (`AdverseEventCaseWorkflow`, a child that
outlives this run). Then the timer: the poll interval, or until a network's rate limit resets.
A worker restart replays to the last finished step; the cursors make re-reading harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.comment_contracts import (
        ADVERSE_EVENT,
        AE_CASE_WORKFLOW,
        COMMENT_INGEST_WORKFLOW,
        INGEST_COMMENTS,
        POLL_NOW_SIGNAL,
        RECORD_COMMENT_SCREENING,
        SCREEN_COMMENT,
        AeCaseInput,
        CommentIngestInput,
        CommentIngestResult,
        CommentScreeningRecord,
        CommentScreeningResult,
        ScreenCommentInput,
        case_workflow_id,
    )
    from workflows.contracts import PUBLISHER_TASK_QUEUE, REVIEW_TASK_QUEUE, WORKFLOW_TASK_QUEUE

STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2))


@workflow.defn(name=COMMENT_INGEST_WORKFLOW)
class CommentIngestWorkflow:
    def __init__(self) -> None:
        self._poll_now = False

    @workflow.signal(name=POLL_NOW_SIGNAL)
    def poll_now(self) -> None:
        """A network's push (Meta's webhook): read now instead of at the next interval."""
        self._poll_now = True

    @workflow.run
    async def run(self, request: CommentIngestInput) -> None:
        for _round in range(max(1, request.rounds_per_run)):
            # A push during this round (after its read began) makes the next round start at once.
            self._poll_now = False
            result: CommentIngestResult = await workflow.execute_activity(
                INGEST_COMMENTS,
                request,
                task_queue=PUBLISHER_TASK_QUEUE,
                result_type=CommentIngestResult,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=STEP_RETRY,
            )
            for comment in result.comments:
                screened: CommentScreeningResult = await workflow.execute_activity(
                    SCREEN_COMMENT,
                    ScreenCommentInput(comment.comment_id),
                    task_queue=REVIEW_TASK_QUEUE,
                    result_type=CommentScreeningResult,
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=STEP_RETRY,
                )
                if ADVERSE_EVENT in screened.categories:
                    await self._open_case(
                        AeCaseInput(comment.comment_id, screened.screening_id, comment.read_at)
                    )
                # Recorded last: a comment is handed back unscreened until its case is open.
                await workflow.execute_activity(
                    RECORD_COMMENT_SCREENING,
                    CommentScreeningRecord(comment.comment_id, screened.screening_id, screened.categories),
                    task_queue=PUBLISHER_TASK_QUEUE,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=STEP_RETRY,
                )
            wait = timedelta(seconds=request.poll_seconds)
            if result.retry_at:
                # A spent rate limit is waited out even when a push comes in meanwhile.
                wait = max(wait, datetime.fromisoformat(result.retry_at) - workflow.now())
                await workflow.sleep(wait, summary="rate limit")
            else:
                try:
                    await workflow.wait_condition(
                        lambda: self._poll_now, timeout=wait, timeout_summary="next poll"
                    )
                except TimeoutError:
                    pass
        workflow.continue_as_new(request)

    async def _open_case(self, case: AeCaseInput) -> None:
        try:
            await workflow.start_child_workflow(
                AE_CASE_WORKFLOW,
                case,
                id=case_workflow_id(case.comment_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            pass  # opened by an earlier round that did not get to record the screening
