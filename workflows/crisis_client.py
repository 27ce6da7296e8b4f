"""The one door services use into CrisisPostWorkflow: start it, hand it a signed approval, read it.

Temporal's errors become the kit's HTTP errors here, as in workflows/client.py: a validator's
refusal is 403/409/422 by its contract type, a workflow that has ended is 409, a server that does
not answer is 503.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.kit.errors import Conflict, UpstreamUnavailable
from workflows.client import FINISHED, refusal_to_error
from workflows.contracts import WORKFLOW_TASK_QUEUE
from workflows.crisis_contracts import (
    CRISIS_APPROVE_UPDATE,
    CRISIS_POST_WORKFLOW,
    CRISIS_STATE_QUERY,
    CrisisApproved,
    CrisisApproveRequest,
    CrisisPostInput,
    CrisisState,
    crisis_workflow_id,
)
from workflows.crisis_template_contracts import (
    CRISIS_TEMPLATE_POST_WORKFLOW,
    TemplatePostInput,
    template_post_workflow_id,
)


class CrisisWorkflowClient:
    def __init__(self, client: Client | None) -> None:
        self._client = client

    @property
    def connected(self) -> bool:
        return self._client is not None

    def _temporal(self, what: str) -> Client:
        if self._client is None:
            raise UpstreamUnavailable(f"{what} is unavailable: the service is not connected to Temporal")
        return self._client

    async def start(self, request: CrisisPostInput, *, runs_at_most: timedelta) -> None:
        try:
            await self._temporal("starting a crisis post").start_workflow(
                CRISIS_POST_WORKFLOW,
                request,
                id=crisis_workflow_id(request.crisis_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                execution_timeout=runs_at_most,
            )
        except RPCError as exc:
            raise UpstreamUnavailable(f"the workflow engine did not start the crisis post: {exc}") from exc

    async def start_template_post(self, request: TemplatePostInput) -> None:
        """One post from a pre-approved template (docs/crisis-lane.md); a second start of the same
        use is the same workflow."""
        try:
            await self._temporal("publishing from a template").start_workflow(
                CRISIS_TEMPLATE_POST_WORKFLOW,
                request,
                id=template_post_workflow_id(request.use_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                execution_timeout=timedelta(hours=2),
            )
        except RPCError as exc:
            raise UpstreamUnavailable(f"the workflow engine did not start the template post: {exc}") from exc

    async def approve(self, crisis_id: str, request: CrisisApproveRequest) -> CrisisApproved:
        handle = self._temporal("approving").get_workflow_handle(crisis_workflow_id(crisis_id))
        try:
            result: CrisisApproved = await handle.execute_update(
                CRISIS_APPROVE_UPDATE, request, result_type=CrisisApproved
            )
        except WorkflowUpdateFailedError as exc:
            raise refusal_to_error(exc) from exc
        except RPCError as exc:
            if exc.status in FINISHED:
                raise Conflict(f"crisis post {crisis_id} takes no more approvals", code="refused") from exc
            raise UpstreamUnavailable(f"the workflow engine did not take the approval: {exc}") from exc
        return result

    async def state(self, crisis_id: str) -> CrisisState | None:
        """The workflow's own view, or None when it has ended or cannot be asked now."""
        if self._client is None:
            return None
        handle = self._client.get_workflow_handle(crisis_workflow_id(crisis_id))
        try:
            state: CrisisState = await handle.query(CRISIS_STATE_QUERY, result_type=CrisisState)
        except RPCError:
            return None
        return state
