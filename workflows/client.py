"""The one door services use into the approval workflow: start and submit, withdraw, decide,
override findings, void approvals, consent revoked, read state.

Every call names the draft; the workflow id, the update and signal names and the result types
live here, and Temporal's errors become the kit's HTTP errors here, once: a validator's refusal
is 403/409/422 by its contract type, a workflow that does not exist is 404, a server that does
not answer is 503. Services hold an `ApprovalWorkflowClient` and never a Temporal handle.
"""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.kit.errors import (
    ClearpostError,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    UpstreamUnavailable,
)
from workflows.contracts import (
    CONSENT_REVOKED_SIGNAL,
    DECIDE_UPDATE,
    LIVE_POST_WORKFLOW,
    OVERRIDE_FINDINGS_UPDATE,
    POST_APPROVAL_WORKFLOW,
    PUBLISHING_RESUMED_SIGNAL,
    REFUSED_CONFLICT,
    REFUSED_FORBIDDEN,
    STATE_QUERY,
    SUBMIT_VERSION_SIGNAL,
    TAKEDOWN_SIGNAL,
    VOID_APPROVALS_UPDATE,
    WITHDRAW_UPDATE,
    WORKFLOW_TASK_QUEUE,
    ApprovalsVoided,
    ConsentRevoked,
    DecisionAccepted,
    DecisionRequest,
    DraftStateUpdate,
    FindingsOverridden,
    FindingsOverride,
    LivePostInput,
    PostApprovalInput,
    TakedownRequest,
    VersionSubmitted,
    VoidApprovals,
    WithdrawAccepted,
    WithdrawRequest,
    live_post_workflow_id,
    workflow_id_for,
)

Result = TypeVar("Result")
# The workflow has ended (or never existed): nothing of it is left to change.
FINISHED = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


def refusal_to_error(exc: WorkflowUpdateFailedError) -> ClearpostError:
    """A workflow validator's refusal (ApplicationError typed per contract), as the caller's HTTP error."""
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        if cause.type == REFUSED_FORBIDDEN:
            return Forbidden(cause.message, code="refused")
        if cause.type == REFUSED_CONFLICT:
            return Conflict(cause.message, code="refused")
        return Unprocessable(cause.message, code="refused")
    return Conflict(str(cause or exc), code="refused")


class ApprovalWorkflowClient:
    """Typed calls into one draft's PostApprovalWorkflow over a Temporal client (None: not connected)."""

    def __init__(self, client: Client | None) -> None:
        self._client = client

    @property
    def connected(self) -> bool:
        return self._client is not None

    def _temporal(self, what: str) -> Client:
        if self._client is None:
            raise UpstreamUnavailable(f"{what} is unavailable: the service is not connected to Temporal")
        return self._client

    async def start(self, request: PostApprovalInput, submitted: VersionSubmitted) -> None:
        """Start the draft's workflow with its first submission (or hand an already running one the
        next version: Temporal's signal-with-start)."""
        try:
            await self._temporal("submitting").start_workflow(
                POST_APPROVAL_WORKFLOW,
                request,
                id=workflow_id_for(request.draft_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                start_signal=SUBMIT_VERSION_SIGNAL,
                start_signal_args=[submitted],
            )
        except RPCError as exc:
            raise UpstreamUnavailable(f"the workflow engine refused the submission: {exc}") from exc

    async def withdraw(self, draft_id: str, request: WithdrawRequest) -> WithdrawAccepted:
        return await self._update(draft_id, WITHDRAW_UPDATE, request, WithdrawAccepted, "the withdrawal")

    async def decide(self, draft_id: str, request: DecisionRequest) -> DecisionAccepted:
        return await self._update(draft_id, DECIDE_UPDATE, request, DecisionAccepted, "the decision")

    async def override_findings(self, draft_id: str, request: FindingsOverride) -> FindingsOverridden:
        return await self._update(
            draft_id, OVERRIDE_FINDINGS_UPDATE, request, FindingsOverridden, "the override"
        )

    async def void_approvals(self, draft_id: str, request: VoidApprovals) -> ApprovalsVoided | None:
        """None when there is nothing to void: refused (final, being published, nothing of theirs)
        or the workflow has ended; UpstreamUnavailable when it should be tried again."""
        try:
            return await self._update(
                draft_id, VOID_APPROVALS_UPDATE, request, ApprovalsVoided, "voiding approvals"
            )
        except (NotFound, Forbidden, Conflict, Unprocessable):
            return None

    async def consent_revoked(self, draft_id: str, signal: ConsentRevoked) -> None:
        handle = self._temporal("signalling").get_workflow_handle(workflow_id_for(draft_id))
        try:
            await handle.signal(CONSENT_REVOKED_SIGNAL, signal)
        except RPCError as exc:
            raise UpstreamUnavailable(str(exc)) from exc

    async def publishing_resumed(self, draft_id: str) -> None:
        """Wake a post a pause held; a workflow that has ended meanwhile needs nothing."""
        handle = self._temporal("signalling").get_workflow_handle(workflow_id_for(draft_id))
        try:
            await handle.signal(PUBLISHING_RESUMED_SIGNAL)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return
            raise UpstreamUnavailable(str(exc)) from exc

    async def watch_live_post(self, draft_id: str) -> None:
        """Start the draft's LivePostWorkflow (expiry timer, takedown); one already running is kept."""
        try:
            await self._temporal("watching the live post").start_workflow(
                LIVE_POST_WORKFLOW,
                LivePostInput(draft_id),
                id=live_post_workflow_id(draft_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as exc:
            raise UpstreamUnavailable(
                f"the workflow engine did not start the live post's watch: {exc}"
            ) from exc

    async def take_down(self, draft_id: str, request: TakedownRequest) -> None:
        """Tell the live post's workflow to take it down (starting one if none runs)."""
        try:
            await self._temporal("taking down").start_workflow(
                LIVE_POST_WORKFLOW,
                LivePostInput(draft_id),
                id=live_post_workflow_id(draft_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                start_signal=TAKEDOWN_SIGNAL,
                start_signal_args=[request],
            )
        except RPCError as exc:
            raise UpstreamUnavailable(f"the workflow engine did not take the takedown: {exc}") from exc

    async def state(self, draft_id: str) -> DraftStateUpdate:
        handle = self._temporal("reading the workflow").get_workflow_handle(workflow_id_for(draft_id))
        try:
            state: DraftStateUpdate = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        except RPCError as exc:
            raise self._rpc_error(draft_id, exc, "the state query") from exc
        return state

    async def _update(
        self, draft_id: str, name: str, request: Any, result_type: type[Result], what: str
    ) -> Result:
        handle = self._temporal(what).get_workflow_handle(workflow_id_for(draft_id))
        try:
            result: Result = await handle.execute_update(name, request, result_type=result_type)
        except WorkflowUpdateFailedError as exc:
            raise refusal_to_error(exc) from exc
        except RPCError as exc:
            raise self._rpc_error(draft_id, exc, what) from exc
        return result

    @staticmethod
    def _rpc_error(draft_id: str, exc: RPCError, what: str) -> ClearpostError:
        if exc.status in FINISHED:
            return NotFound(f"draft {draft_id} has no review in progress")
        return UpstreamUnavailable(f"the workflow engine did not take {what}: {exc}")
