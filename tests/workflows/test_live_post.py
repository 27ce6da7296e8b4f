"""Held posts (a pause at publishing time) and LivePostWorkflow (lifetime and takedown), on the
time-skipping test server with fake service activities."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from tests.workflows.approval_fixtures import decide, decision, record_history, start, version, wait_status
from tests.workflows.fakes import AUTHOR, FakeServices, running_fakes
from workflows.contracts import (
    LIVE_POST_WORKFLOW,
    PUBLISHING_RESUMED_SIGNAL,
    TAKEDOWN_SIGNAL,
    WITHDRAW_UPDATE,
    WORKFLOW_TASK_QUEUE,
    LivePostInput,
    LivePostPlan,
    TakedownRequest,
    TakedownResult,
    WithdrawAccepted,
    WithdrawRequest,
    live_post_workflow_id,
)


async def approve(env: WorkflowEnvironment, fakes: FakeServices, **schedule: str):  # type: ignore[no-untyped-def]
    handle = await start(env, version(**schedule))
    await wait_status(handle, "in_review")
    with env.auto_time_skipping_disabled():
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
    return handle


async def test_a_paused_post_is_held_and_published_once_on_resume(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(paused=True)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await approve(time_skipping_env, fakes)
        with time_skipping_env.auto_time_skipping_disabled():
            held = await wait_status(handle, "held")
            assert fakes.published == [] and "paused" in held.note
            checks_before = len(fakes.consent_checks)
            fakes.paused = False
            await handle.signal(PUBLISHING_RESUMED_SIGNAL)
        result = await handle.result()
    assert result.status == "published"
    assert len(fakes.published) == 1
    assert fakes.actions.count("post.held") == 1 and fakes.actions[-1] == "post.published"
    # Consent is asked again after the hold, before publishing.
    assert len(fakes.consent_checks) == checks_before + 1


async def test_a_held_post_looks_again_without_the_signal(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices(paused=True)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await approve(time_skipping_env, fakes)
        with time_skipping_env.auto_time_skipping_disabled():
            await wait_status(handle, "held")
        await time_skipping_env.sleep(timedelta(minutes=25))  # still paused: held twice more
        assert fakes.published == []
        fakes.paused = False
        result = await handle.result()
    assert result.status == "published" and len(fakes.published) == 1
    assert fakes.actions.count("post.held") >= 2


async def test_a_held_post_can_be_withdrawn(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices(paused=True)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await approve(time_skipping_env, fakes)
        with time_skipping_env.auto_time_skipping_disabled():
            await wait_status(handle, "held")
            await handle.execute_update(
                WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "no longer accurate"), result_type=WithdrawAccepted
            )
        result = await handle.result()
    assert result.status == "withdrawn" and fakes.published == []


async def test_a_scheduled_post_held_past_its_time_publishes_on_resume(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(paused=True)
    async with running_fakes(time_skipping_env.client, fakes):
        now = await time_skipping_env.get_current_time()
        handle = await approve(time_skipping_env, fakes, scheduled_at=(now + timedelta(days=1)).isoformat())
        await time_skipping_env.sleep(timedelta(days=1, minutes=1))
        with time_skipping_env.auto_time_skipping_disabled():
            await wait_status(handle, "held")
            assert fakes.published == []
            fakes.paused = False
            await handle.signal(PUBLISHING_RESUMED_SIGNAL)
        result = await handle.result()
    assert result.status == "published" and len(fakes.published) == 1
    assert fakes.actions.index("post.scheduled") < fakes.actions.index("post.held")


async def start_live(env: WorkflowEnvironment, *, takedown: TakedownRequest | None = None):  # type: ignore[no-untyped-def]
    draft_id = str(uuid.uuid4())
    options = {"start_signal": TAKEDOWN_SIGNAL, "start_signal_args": [takedown]} if takedown else {}
    return draft_id, await env.client.start_workflow(
        LIVE_POST_WORKFLOW,
        LivePostInput(draft_id),
        id=live_post_workflow_id(draft_id),
        task_queue=WORKFLOW_TASK_QUEUE,
        result_type=TakedownResult,
        **options,  # type: ignore[arg-type]
    )


async def test_a_post_is_pulled_when_its_lifetime_ends(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    now = await time_skipping_env.get_current_time()
    fakes.live_plan = LivePostPlan((now + timedelta(days=365)).isoformat(), "pull", "live")
    async with running_fakes(time_skipping_env.client, fakes):
        draft_id, handle = await start_live(time_skipping_env)
        result = await handle.result()
        ended = await time_skipping_env.get_current_time()
    assert result.status == "taken_down"
    assert [(t.draft_id, t.cause) for t in fakes.takedowns] == [(draft_id, "expired")]
    assert ended - now >= timedelta(days=365)


async def test_a_takedown_signal_comes_before_the_lifetime(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    now = await time_skipping_env.get_current_time()
    fakes.live_plan = LivePostPlan((now + timedelta(days=365)).isoformat(), "pull", "live")
    async with running_fakes(time_skipping_env.client, fakes):
        with time_skipping_env.auto_time_skipping_disabled():
            _, handle = await start_live(time_skipping_env)
            await handle.signal(TAKEDOWN_SIGNAL, TakedownRequest(request_id="r-1", cause="takedown"))
        result = await handle.result()
        await record_history(handle, "live_post_takedown")
    assert result.status == "taken_down"
    # The signal's takedown, not the lifetime's ("expired").
    assert [(t.cause, t.request_id) for t in fakes.takedowns] == [("takedown", "r-1")]
    # The author is told, through the review service's outbox (NOTIFY_PATCH).
    assert [(n.kind, n.version, n.reason) for n in fakes.notices] == [("taken_down", 0, "takedown")]


async def test_a_takedown_that_never_succeeds_is_recorded_as_failed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(takedown_down=True)
    async with running_fakes(time_skipping_env.client, fakes):
        _, handle = await start_live(time_skipping_env, takedown=TakedownRequest("r-2", "consent_revoked"))
        result = await handle.result()
    assert result.status == "takedown_failed"
    assert len(fakes.takedowns) > 3  # retried with backoff until the deadline
    [failure] = fakes.takedown_failures
    assert failure.cause == "consent_revoked" and "503" in failure.reason


async def test_a_post_without_a_record_and_no_takedown_ends_at_once(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(live_plan=LivePostPlan(None, "pull", "none"))
    async with running_fakes(time_skipping_env.client, fakes):
        _, handle = await start_live(time_skipping_env)
        assert await handle.result() is None
    assert fakes.takedowns == []
