"""PostApprovalWorkflow on the time-skipping test server, with fake service activities."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeServices, running_fakes
from workflows.contracts import (
    DECIDE_UPDATE,
    POST_APPROVAL_WORKFLOW,
    STATE_QUERY,
    SUBMIT_VERSION_SIGNAL,
    WITHDRAW_UPDATE,
    WORKFLOW_TASK_QUEUE,
    DecisionAccepted,
    DecisionRequest,
    DraftStateUpdate,
    PostApprovalInput,
    PostApprovalResult,
    StageRequirement,
    VersionSubmitted,
    WithdrawAccepted,
    WithdrawRequest,
    workflow_id_for,
)

AUTHOR = "user-author"
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
) -> DecisionRequest:
    if verdict != "approve" and not reason:
        reason = f"{verdict} by {who}"
    return DecisionRequest(stage, verdict, reason, content_hash, who, who.title(), roles)


async def start(
    env: WorkflowEnvironment, submitted: VersionSubmitted
) -> WorkflowHandle[object, PostApprovalResult]:
    draft_id = str(uuid.uuid4())
    return await env.client.start_workflow(
        POST_APPROVAL_WORKFLOW,
        PostApprovalInput(draft_id=draft_id, author_id=AUTHOR),
        id=workflow_id_for(draft_id),
        task_queue=WORKFLOW_TASK_QUEUE,
        start_signal=SUBMIT_VERSION_SIGNAL,
        start_signal_args=[submitted],
        result_type=PostApprovalResult,
    )


HISTORIES = Path(__file__).parent / "histories"


async def record_history(handle: WorkflowHandle[object, PostApprovalResult], name: str) -> None:
    """With CLEARPOST_RECORD_HISTORIES=1, save this run's history as a replay fixture."""
    if os.environ.get("CLEARPOST_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


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


async def test_approved_by_every_stage_is_published_once(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        accepted = await decide(handle, decision("compliance", "carol", ["compliance"]))
        assert accepted.stage_status == "approved"
        await decide(handle, decision("legal", "leo", ["legal"]))
        result = await handle.result()
        await record_history(handle, "approve")
    assert result.status == "published"
    assert len(fakes.published) == 1 and fakes.published[0].content_hash == HASH_V1
    assert fakes.actions == [
        "screening.started",
        "screening.completed",
        "review.opened",
        "decision.recorded",
        "decision.recorded",
        "draft.approved",
        "post.published",
    ]
    assert fakes.latest_state.status == "published"
    assert [s.status for s in fakes.latest_state.stages] == ["approved", "approved"]
    assert {d.stage for d in fakes.decisions} == {"compliance", "legal"}
    assert all(d.content_hash == HASH_V1 for d in fakes.decisions)


async def test_gates_refuse_and_change_nothing(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices(
        stages=[
            StageRequirement("legal", ["legal"]),
            StageRequirement("medical", ["medical"]),
        ]
    )
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        author = await refused(handle, decision("legal", AUTHOR, ["author", "legal"]))
        assert author.type == "Forbidden" and "author" in author.message
        no_role = await refused(handle, decision("legal", "mia", ["medical"]))
        assert no_role.type == "Forbidden"
        stale = await refused(handle, decision("legal", "leo", ["legal"], content_hash=HASH_V2))
        assert stale.type == "Conflict" and "content changed" in stale.message
        unknown = await refused(handle, decision("compliance", "carol", ["compliance"]))
        assert unknown.type == "Conflict"
        no_reason = await refused(
            handle, DecisionRequest("legal", "reject", " ", HASH_V1, "leo", "Leo", ["legal"])
        )
        assert no_reason.type == "Invalid"
        await decide(handle, decision("legal", "dual", ["legal", "medical"]))
        second = await refused(handle, decision("medical", "dual", ["legal", "medical"]))
        assert second.type == "Forbidden" and "one person decides one stage" in second.message
        again = await refused(handle, decision("legal", "leo", ["legal"]))
        assert again.type == "Conflict"
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        assert [(s.stage, s.status, len(s.decisions)) for s in state.stages] == [
            ("legal", "approved", 1),
            ("medical", "pending", 0),
        ]
        await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "test over"), result_type=WithdrawAccepted
        )
        await handle.result()
    assert len(fakes.decisions) == 1
    assert fakes.published == []


async def test_concurrent_decisions_on_one_stage_accept_exactly_one(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        outcomes = await asyncio.gather(
            decide(handle, decision("compliance", "carol", ["compliance"])),
            decide(handle, decision("compliance", "cody", ["compliance"])),
            return_exceptions=True,
        )
        accepted = [o for o in outcomes if isinstance(o, DecisionAccepted)]
        failed = [o for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
        assert len(accepted) == 1 and len(failed) == 1
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        assert len(next(s for s in state.stages if s.stage == "compliance").decisions) == 1
        await decide(handle, decision("legal", "leo", ["legal"]))
        await handle.result()
    assert [d.stage for d in fakes.decisions].count("compliance") == 1
    assert len(fakes.published) == 1


async def test_request_changes_starts_over_on_the_next_version(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("legal", "leo", ["legal"]))
        await decide(
            handle,
            decision("compliance", "carol", ["compliance"], "request_changes", reason="cite the trial"),
        )
        await wait_status(handle, "changes_requested")
        late = await refused(handle, decision("compliance", "cody", ["compliance"]))
        assert late.type == "Conflict"
        await handle.signal(SUBMIT_VERSION_SIGNAL, version(2, HASH_V2))
        state = await wait_status(handle, "in_review")
        assert state.version == 2
        assert all(s.status == "pending" and not s.decisions for s in state.stages), (
            "approvals must not carry over"
        )
        old_hash = await refused(handle, decision("legal", "leo", ["legal"], content_hash=HASH_V1))
        assert "content changed" in old_hash.message
        await decide(handle, decision("legal", "leo", ["legal"], content_hash=HASH_V2))
        await decide(handle, decision("compliance", "carol", ["compliance"], content_hash=HASH_V2))
        result = await handle.result()
        await record_history(handle, "request_changes")
    assert result.status == "published" and result.version == 2
    assert [p.content_hash for p in fakes.published] == [HASH_V2]
    assert [s.version for s in fakes.screened] == [1, 2]
    assert "draft.changes_requested" in fakes.actions


async def test_reject_is_final(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("legal", "leo", ["legal"], "reject", reason="off-label claim"))
        result = await handle.result()
        await record_history(handle, "reject")
    assert result.status == "rejected"
    assert fakes.published == []
    assert fakes.actions[-1] == "draft.rejected"
    assert fakes.closed, "open review tasks are closed when the round ends"


async def test_withdraw_during_review_ends_cleanly(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        accepted = await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "campaign cancelled"), result_type=WithdrawAccepted
        )
        assert accepted.status == "withdrawn"
        result = await handle.result()
        await record_history(handle, "withdraw")
        again = handle.execute_update(WITHDRAW_UPDATE, WithdrawRequest(AUTHOR), result_type=WithdrawAccepted)
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await again
    assert result.status == "withdrawn"
    assert fakes.published == []
    assert "draft.withdrawn" in fakes.actions
    assert fakes.latest_state.status == "withdrawn"


async def test_scheduled_post_waits_days_then_publishes(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        now = await time_skipping_env.get_current_time()
        when = (now + timedelta(days=3)).isoformat()
        handle = await start(time_skipping_env, version(scheduled_at=when))
        await wait_status(handle, "in_review")
        with time_skipping_env.auto_time_skipping_disabled():
            await decide(handle, decision("compliance", "carol", ["compliance"]))
            await decide(handle, decision("legal", "leo", ["legal"]))
            await wait_status(handle, "scheduled")
            assert fakes.published == []
        await time_skipping_env.sleep(timedelta(days=3, minutes=1))
        result = await handle.result()
        await record_history(handle, "scheduled")
        published_at = await time_skipping_env.get_current_time()
    assert result.status == "published"
    assert len(fakes.published) == 1
    assert published_at - now >= timedelta(days=3)
    assert fakes.actions[-2:] == ["post.scheduled", "post.published"]


async def test_withdrawing_a_scheduled_post_cancels_it(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        now = await time_skipping_env.get_current_time()
        handle = await start(time_skipping_env, version(scheduled_at=(now + timedelta(days=10)).isoformat()))
        await wait_status(handle, "in_review")
        with time_skipping_env.auto_time_skipping_disabled():
            await decide(handle, decision("compliance", "carol", ["compliance"]))
            await decide(handle, decision("legal", "leo", ["legal"]))
            await wait_status(handle, "scheduled")
            await handle.execute_update(
                WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "recall"), result_type=WithdrawAccepted
            )
        result = await handle.result()
    assert result.status == "withdrawn"
    assert fakes.published == []
