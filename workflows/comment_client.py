"""The one door services use into the comment workflows: start an account's listener, tell a
case's workflow that a step was recorded. Temporal's errors become the kit's HTTP errors here."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.kit.errors import NotFound, UpstreamUnavailable
from workflows.comment_contracts import (
    CASE_CLOSED_SIGNAL,
    CASE_HANDED_OFF_SIGNAL,
    COMMENT_INGEST_WORKFLOW,
    POLL_NOW_SIGNAL,
    CaseStep,
    CommentIngestInput,
    case_workflow_id,
    ingest_workflow_id,
)
from workflows.contracts import WORKFLOW_TASK_QUEUE


class CommentWorkflowClient:
    def __init__(self, client: Client | None) -> None:
        self._client = client

    def _temporal(self, what: str) -> Client:
        if self._client is None:
            raise UpstreamUnavailable(f"the workflow engine is not configured: {what} cannot happen")
        return self._client

    async def listen(self, account: str, *, poll_seconds: int) -> None:
        """Start the account's CommentIngestWorkflow; one already running is kept."""
        try:
            await self._temporal("listening for comments").start_workflow(
                COMMENT_INGEST_WORKFLOW,
                CommentIngestInput(account, poll_seconds=poll_seconds),
                id=ingest_workflow_id(account),
                task_queue=WORKFLOW_TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as exc:
            raise UpstreamUnavailable(
                f"the workflow engine did not start the comment listener: {exc}"
            ) from exc

    async def poll_now(self, account: str) -> bool:
        """Tell the account's listener to read now; False when it is not running."""
        handle = self._temporal("a comment push").get_workflow_handle(ingest_workflow_id(account))
        try:
            await handle.signal(POLL_NOW_SIGNAL)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise UpstreamUnavailable(f"the workflow engine did not take the push: {exc}") from exc
        return True

    async def case_handed_off(self, comment_id: str, actor: str) -> None:
        await self._signal(comment_id, CASE_HANDED_OFF_SIGNAL, actor)

    async def case_closed(self, comment_id: str, actor: str) -> None:
        await self._signal(comment_id, CASE_CLOSED_SIGNAL, actor)

    async def _signal(self, comment_id: str, signal: str, actor: str) -> None:
        handle = self._temporal("a case step").get_workflow_handle(case_workflow_id(comment_id))
        try:
            await handle.signal(signal, CaseStep(actor))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(
                    f"the case's workflow ({case_workflow_id(comment_id)}) is not running"
                ) from exc
            raise UpstreamUnavailable(f"the workflow engine did not take the case step: {exc}") from exc
