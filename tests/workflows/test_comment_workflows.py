"""CommentIngestWorkflow and AdverseEventCaseWorkflow on the time-skipping server, with fake
service activities: a side-effect comment becomes a case with its clocks within one poll,
reminders and escalations fire on durable timers, and steps stop their clocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.workflows.comment_fakes import (
    FakeCommentServices,
    own_time_skipping_server,
    record_history,
    running_comment_fakes,
)
from workflows.comment_contracts import (
    AE_CASE_WORKFLOW,
    CASE_CLOSED_SIGNAL,
    CASE_HANDED_OFF_SIGNAL,
    COMMENT_INGEST_WORKFLOW,
    ESCALATION,
    HANDOFF_CLOCK,
    POLL_NOW_SIGNAL,
    REGULATORY_CLOCK,
    REMINDER,
    AeCaseInput,
    CaseStep,
    CommentIngestInput,
    case_workflow_id,
    ingest_workflow_id,
)
from workflows.contracts import WORKFLOW_TASK_QUEUE

SIDE_EFFECT = ["adverse_event"]


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own server, not the session's (see own_time_skipping_server)."""
    async with own_time_skipping_server() as env:
        yield env


async def until(condition: object, *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 20)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def start_ingest(env: WorkflowEnvironment, poll_seconds: int = 300) -> WorkflowHandle[object, object]:
    return await env.client.start_workflow(
        COMMENT_INGEST_WORKFLOW,
        CommentIngestInput("riverside", poll_seconds=poll_seconds, rounds_per_run=3),
        id=ingest_workflow_id("riverside"),
        task_queue=WORKFLOW_TASK_QUEUE,
    )


async def test_a_side_effect_comment_becomes_a_case_with_its_clocks_within_one_poll(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeCommentServices(network={"c1": SIDE_EFFECT, "c2": ["phi"], "c3": []})
    async with running_comment_fakes(env.client, fakes):
        with env.auto_time_skipping_disabled():
            await start_ingest(env)
            await until(lambda: len(fakes.screened) == 3)
        assert fakes.polls == 1  # one poll
        assert list(fakes.cases) == ["c1"]  # only the adverse event opens a case
        plan = fakes.cases["c1"]
        assert [(c.clock, c.kind) for c in plan.clocks] == [
            (HANDOFF_CLOCK, REMINDER),
            (HANDOFF_CLOCK, ESCALATION),
            (REGULATORY_CLOCK, REMINDER),
            (REGULATORY_CLOCK, ESCALATION),
        ]
        case = env.client.get_workflow_handle(case_workflow_id("c1"))
        assert (await case.describe()).workflow_type == AE_CASE_WORKFLOW
        # The next poll comes after the interval, and reads nothing new twice.
        await env.sleep(timedelta(minutes=6))
        assert fakes.polls == 2 and list(fakes.cases) == ["c1"]
        # The latest run: a run that continued as new is not the one `handle` names.
        await env.client.get_workflow_handle(ingest_workflow_id("riverside")).terminate()
        await case.terminate()


async def test_reminders_and_escalations_fire_and_steps_stop_their_clocks(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeCommentServices()
    async with running_comment_fakes(env.client, fakes):
        now = await env.get_current_time()
        case = await env.client.start_workflow(
            AE_CASE_WORKFLOW,
            AeCaseInput("c9", "s-c9", now.isoformat()),
            id=case_workflow_id("c9"),
            task_queue=WORKFLOW_TASK_QUEUE,
        )
        await env.sleep(timedelta(hours=20, minutes=30))
        assert fakes.clock_events == [(HANDOFF_CLOCK, REMINDER)]
        await env.sleep(timedelta(hours=4))
        assert fakes.clock_events == [(HANDOFF_CLOCK, REMINDER), (HANDOFF_CLOCK, ESCALATION)]
        await case.signal(CASE_HANDED_OFF_SIGNAL, CaseStep("pv-1"))
        await env.sleep(timedelta(days=12))
        assert fakes.clock_events[-1] == (REGULATORY_CLOCK, REMINDER)
        await case.signal(CASE_CLOSED_SIGNAL, CaseStep("pv-1"))
        assert await case.result() == "closed"
        await record_history(env.client, case_workflow_id("c9"), "ae_case")
    assert (REGULATORY_CLOCK, ESCALATION) not in fakes.clock_events


async def test_a_hand_off_before_the_reminder_stops_the_hand_off_clock(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeCommentServices()
    async with running_comment_fakes(env.client, fakes):
        now = await env.get_current_time()
        case = await env.client.start_workflow(
            AE_CASE_WORKFLOW,
            AeCaseInput("c8", "s-c8", now.isoformat()),
            id=case_workflow_id("c8"),
            task_queue=WORKFLOW_TASK_QUEUE,
        )
        await env.sleep(timedelta(hours=2))
        await case.signal(CASE_HANDED_OFF_SIGNAL, CaseStep("pv-1"))
        await env.sleep(timedelta(days=16))
        assert fakes.clock_events == [(REGULATORY_CLOCK, REMINDER), (REGULATORY_CLOCK, ESCALATION)]
        await case.signal(CASE_CLOSED_SIGNAL, CaseStep("pv-1"))
        assert await case.result() == "closed"


async def test_a_run_continues_as_new_after_its_rounds(time_skipping_env: WorkflowEnvironment) -> None:
    env = time_skipping_env
    fakes = FakeCommentServices(network={"c1": SIDE_EFFECT, "c2": []})
    async with running_comment_fakes(env.client, fakes):
        handle = await env.client.start_workflow(
            COMMENT_INGEST_WORKFLOW,
            CommentIngestInput("riverside", poll_seconds=60, rounds_per_run=1),
            id=ingest_workflow_id("riverside"),
            task_queue=WORKFLOW_TASK_QUEUE,
        )
        first_run = handle.first_execution_run_id
        await env.sleep(timedelta(minutes=3))
        assert fakes.polls >= 3 and list(fakes.cases) == ["c1"] and set(fakes.screened) == {"c1", "c2"}
        described = await env.client.get_workflow_handle(ingest_workflow_id("riverside")).describe()
        assert described.run_id != first_run  # continued as new, same workflow id
        await record_history(env.client, ingest_workflow_id("riverside"), "comment_ingest", run_id=first_run)
        # The latest run: a run that continued as new is not the one `handle` names.
        await env.client.get_workflow_handle(ingest_workflow_id("riverside")).terminate()
        await env.client.get_workflow_handle(case_workflow_id("c1")).terminate()


async def test_a_rate_limit_waits_until_it_resets_and_a_crash_before_recording_loses_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeCommentServices(
        network={"c1": SIDE_EFFECT}, limited_polls={1: timedelta(hours=1)}, record_failures=1
    )
    async with running_comment_fakes(env.client, fakes):
        await start_ingest(env, poll_seconds=60)
        await env.sleep(timedelta(minutes=30))
        assert fakes.polls == 1  # held by the rate limit, not the 60 s poll
        await env.sleep(timedelta(minutes=31))
        await until(lambda: "c1" in fakes.screened)
        assert fakes.poll_times[1] - fakes.poll_times[0] >= timedelta(hours=1)
        assert list(fakes.cases) == ["c1"]
        # The latest run: a run that continued as new is not the one `handle` names.
        await env.client.get_workflow_handle(ingest_workflow_id("riverside")).terminate()
        await env.client.get_workflow_handle(case_workflow_id("c1")).terminate()


async def test_a_push_reads_now_instead_of_at_the_next_interval(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    fakes = FakeCommentServices(network={"c1": []})
    async with running_comment_fakes(env.client, fakes):
        with env.auto_time_skipping_disabled():
            handle = await start_ingest(env, poll_seconds=3600)
            await until(lambda: "c1" in fakes.screened)
            fakes.network["c2"] = SIDE_EFFECT
            await handle.signal(POLL_NOW_SIGNAL)
            await until(lambda: "c2" in fakes.screened)
        assert fakes.polls == 2 and fakes.poll_times[1] - fakes.poll_times[0] < timedelta(minutes=5)
        # The latest run: a run that continued as new is not the one `handle` names.
        await env.client.get_workflow_handle(ingest_workflow_id("riverside")).terminate()
        await env.client.get_workflow_handle(case_workflow_id("c2")).terminate()
