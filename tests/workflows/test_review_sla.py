"""Review SLAs in PostApprovalWorkflow: reminders, escalation, approval expiry and quorums, on the
time-skipping test server with the fake service activities (time moves only by env.sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.workflows.approval_fixtures import (
    HASH_V1,
    decide,
    decision,
    record_history,
    refused,
    start,
    version,
    wait_status,
)
from tests.workflows.fakes import AUTHOR, FakeServices, running_fakes
from workflows.contracts import (
    STATE_QUERY,
    WITHDRAW_UPDATE,
    DraftStateUpdate,
    PostApprovalResult,
    ReviewSchedule,
    StageRequirement,
    StageTiming,
    WithdrawAccepted,
    WithdrawRequest,
)

Handle = WorkflowHandle[object, PostApprovalResult]

HOUR = 3600
COMPLIANCE = [StageRequirement("compliance", ["compliance"])]


def timed(sla_hours: int = 24, reminders: tuple[int, ...] = (12, 20), expiry_days: int = 0) -> ReviewSchedule:
    return ReviewSchedule(
        stages=[StageTiming("compliance", sla_hours * HOUR, [h * HOUR for h in reminders], escalates=True)],
        approval_expiry_seconds=expiry_days * 86_400,
    )


async def now(env: WorkflowEnvironment) -> datetime:
    return await env.get_current_time()


async def withdraw(handle: Handle) -> None:
    await handle.execute_update(
        WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "test over"), result_type=WithdrawAccepted
    )


async def test_reminders_fall_at_their_times_and_once_across_a_worker_restart_then_escalation(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeServices(stages=list(COMPLIANCE), schedule=timed())
    async with running_fakes(env.client, fakes, cached=False):
        handle = await start(env, version())
        await wait_status(handle, "in_review")
        await env.sleep(timedelta(hours=11))
        assert fakes.notices == []
        await env.sleep(timedelta(hours=2))
        await wait_for(lambda: len(fakes.notices) == 1)
    # The worker stops and a new one replays the history: the first reminder is not sent again.
    async with running_fakes(env.client, fakes, cached=False):
        await env.sleep(timedelta(hours=8))
        await wait_for(lambda: len(fakes.notices) == 2)
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        assert not state.stages[0].escalated and state.stages[0].due_at
        await env.sleep(timedelta(hours=5))
        await wait_for(lambda: len(fakes.notices) == 3)
        state = await wait_escalated(handle)
        await env.sleep(timedelta(days=3))  # nothing else is due
        await decide(handle, decision("compliance", "carol", ["compliance"], signed_at=await now(env)))
        result = await handle.result()
        await record_history(handle, "reminders_escalation")
    assert result.status == "published"
    timed_notices = [n for n in fakes.notices if n.stage]
    assert [(n.stage, n.kind, n.n) for n in timed_notices] == [
        ("compliance", "reminder", 1),
        ("compliance", "reminder", 2),
        ("compliance", "escalation", 1),
    ]
    # The author is told of the approval and the publication (NOTIFY_PATCH).
    assert [n.kind for n in fakes.notices if not n.stage] == ["approved", "published"]
    first, second, escalation = (datetime.fromisoformat(n.due_at) for n in timed_notices)
    assert (second - first, escalation - first) == (timedelta(hours=8), timedelta(hours=12))
    assert datetime.fromisoformat(state.stages[0].due_at) == escalation
    assert fakes.actions.count("review.reminder") == 2 and fakes.actions.count("review.escalated") == 1


async def test_a_decided_stage_gets_no_reminder(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    fakes = FakeServices(schedule=timed())
    fakes.schedule.stages.append(StageTiming("legal", 48 * HOUR, [12 * HOUR]))  # type: ignore[union-attr]
    async with running_fakes(env.client, fakes):
        handle = await start(env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("legal", "leo", ["legal"]))
        await env.sleep(timedelta(hours=13))
        await wait_for(lambda: len(fakes.notices) == 1)
        await withdraw(handle)
        await handle.result()
    assert fakes.notice_keys == [("compliance", "reminder", 1)]


async def test_an_unapproved_review_expires_back_to_the_author(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeServices(schedule=ReviewSchedule(approval_expiry_seconds=30 * 86_400))
    async with running_fakes(env.client, fakes):
        handle = await start(env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await env.sleep(timedelta(days=29))
        assert (await handle.query(STATE_QUERY, result_type=DraftStateUpdate)).status == "in_review"
        await env.sleep(timedelta(days=1, minutes=1))
        state = await wait_status(handle, "changes_requested")
        late = await refused(handle, decision("legal", "leo", ["legal"], signed_at=await now(env)))
        assert late.type == "Conflict"
        await withdraw(handle)
        result = await handle.result()
        await record_history(handle, "review_expired")
    assert result.status == "withdrawn" and fakes.published == []
    assert "within 30 days" in state.note
    assert "draft.review_expired" in fakes.actions
    expired = next(e for e in fakes.audit if e.action == "draft.review_expired")
    assert expired.details["undecided"] == ["legal"] and expired.details["reason"]
    assert fakes.notice_keys == [("", "expired", 1)] and fakes.notices[0].reason == expired.details["reason"]
    assert fakes.closed, "the open review tasks are closed"


async def test_a_scheduled_time_before_the_expiry_ends_the_review_then(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeServices(schedule=ReviewSchedule(approval_expiry_seconds=30 * 86_400))
    async with running_fakes(env.client, fakes):
        when = await now(env) + timedelta(days=2)
        handle = await start(env, version(scheduled_at=when.isoformat()))
        await wait_status(handle, "in_review")
        await env.sleep(timedelta(days=2, minutes=1))
        state = await wait_status(handle, "changes_requested")
        await withdraw(handle)
        await handle.result()
    assert "scheduled time" in state.note
    expired = next(e for e in fakes.audit if e.action == "draft.review_expired")
    assert datetime.fromisoformat(expired.details["expired_at"]) == when
    assert fakes.published == []


async def test_a_quorum_stage_needs_distinct_deciders_of_the_same_hash(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeServices(stages=[StageRequirement("compliance", ["compliance"], quorum=2)])
    async with running_fakes(env.client, fakes):
        handle = await start(env, version())
        await wait_status(handle, "in_review")
        first = await decide(handle, decision("compliance", "carol", ["compliance"]))
        assert (first.stage_status, first.draft_status) == ("pending", "in_review")
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        assert (state.stages[0].approvals, state.stages[0].quorum) == (1, 2)
        twice = await refused(handle, decision("compliance", "carol", ["compliance"]))
        assert twice.type == "Conflict" and "distinct" in twice.message
        second = await decide(handle, decision("compliance", "cody", ["compliance"]))
        assert second.stage_status == "approved"
        result = await handle.result()
        await record_history(handle, "quorum")
    assert result.status == "published"
    assert len(fakes.published[0].approvals) == 2
    assert [d.decider_id for d in fakes.decisions] == ["carol", "cody"]
    assert all(d.content_hash == HASH_V1 for d in fakes.decisions)


async def test_a_request_for_changes_by_one_quorum_decider_sends_it_back(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeServices(stages=[StageRequirement("compliance", ["compliance"], quorum=2)])
    async with running_fakes(env.client, fakes):
        handle = await start(env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("compliance", "cody", ["compliance"], "request_changes"))
        await wait_status(handle, "changes_requested")
        await withdraw(handle)
        await handle.result()
    assert fakes.published == [] and "draft.changes_requested" in fakes.actions


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def wait_escalated(handle: Handle) -> DraftStateUpdate:
    for _ in range(200):
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        if state.stages[0].escalated:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the stage was never escalated")
