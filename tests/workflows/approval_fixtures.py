"""Driving PostApprovalWorkflow in the time-skipping server: start, versions, signed decisions, waits."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import AUTHOR, sign_decision
from workflows.contracts import (
    DECIDE_UPDATE,
    POST_APPROVAL_WORKFLOW,
    STATE_QUERY,
    SUBMIT_VERSION_SIGNAL,
    WORKFLOW_TASK_QUEUE,
    DecisionAccepted,
    DecisionRequest,
    DraftStateUpdate,
    PostApprovalInput,
    PostApprovalResult,
    VersionSubmitted,
    workflow_id_for,
)

HISTORIES = Path(__file__).parent / "histories"

# The draft the current test drives, and the time its signatures carry (set by start()).
CURRENT_DRAFT: dict[str, Any] = {}


HASH_V1 = "a" * 64


HASH_V2 = "b" * 64


def version(
    number: int = 1, content_hash: str = HASH_V1, scheduled_at: str | None = None
) -> VersionSubmitted:
    return VersionSubmitted(number, content_hash, ["sandbox"], False, AUTHOR, scheduled_at)


def decision(
    stage: str,
    who: str,
    roles: list[str],
    verdict: str = "approve",
    content_hash: str = HASH_V1,
    reason: str = "",
    *,
    draft_id: str = "",
    version_number: int | None = None,
    signed_at: datetime | None = None,
) -> DecisionRequest:
    if verdict != "approve" and not reason:
        reason = f"{verdict} by {who}"
    signed = sign_decision(
        draft_id=draft_id or CURRENT_DRAFT["id"], content_hash=content_hash,
        version=version_number or (2 if content_hash == HASH_V2 else 1),
        stage=stage, decision=verdict, reason=reason, signer_id=who, signer_roles=roles,
        signed_at=signed_at or CURRENT_DRAFT["now"],
    )  # fmt: skip
    return DecisionRequest(stage, verdict, reason, content_hash, who, who.title(), roles, signed)


async def start(
    env: WorkflowEnvironment, submitted: VersionSubmitted, *, author_id: str = AUTHOR, **options: int
) -> WorkflowHandle[object, PostApprovalResult]:
    draft_id = str(uuid.uuid4())
    CURRENT_DRAFT.update(id=draft_id, now=await env.get_current_time())
    return await env.client.start_workflow(
        POST_APPROVAL_WORKFLOW,
        PostApprovalInput(draft_id=draft_id, author_id=author_id, **options),
        id=workflow_id_for(draft_id),
        task_queue=WORKFLOW_TASK_QUEUE,
        start_signal=SUBMIT_VERSION_SIGNAL,
        start_signal_args=[submitted],
        result_type=PostApprovalResult,
    )


async def wait_status(handle: WorkflowHandle[object, PostApprovalResult], status: str) -> DraftStateUpdate:
    for _ in range(200):
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        if state.status == status:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow never reached {status!r}; last: {state.status!r}")


async def decide(
    handle: WorkflowHandle[object, PostApprovalResult], request: DecisionRequest
) -> DecisionAccepted:
    return await handle.execute_update(DECIDE_UPDATE, request, result_type=DecisionAccepted)


async def refused(
    handle: WorkflowHandle[object, PostApprovalResult], request: DecisionRequest
) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await decide(handle, request)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With CLEARPOST_RECORD_HISTORIES=1, save this run's history as a replay fixture."""
    if os.environ.get("CLEARPOST_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())
