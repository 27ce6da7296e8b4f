"""CrisisPostWorkflow on the time-skipping server with fake review and publisher activities: the
co-signers' window, publishing, the after-review's 24 hours, and the approvals it refuses."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from services.kit.tokens import load_or_create_signing_key
from tests.workflows.crisis_fixtures import (
    AUTHOR,
    STARTER,
    FakeCrisisServices,
    crisis_start,
    record_crisis_history,
    running_crisis_fakes,
    sign_approval,
    start_crisis,
)
from tests.workflows.fakes import REVIEW_KEY
from workflows.crisis_contracts import (
    CRISIS_APPROVE_UPDATE,
    CRISIS_STATE_QUERY,
    CrisisApproved,
    CrisisApproveRequest,
    CrisisPostResult,
    CrisisState,
)
from workflows.crisis_signatures import CrisisStart

Handle = WorkflowHandle[object, CrisisPostResult]


async def approve(handle: Handle, token: str, signer: str) -> CrisisApproved:
    return await handle.execute_update(
        CRISIS_APPROVE_UPDATE, CrisisApproveRequest(signer, token), result_type=CrisisApproved
    )


async def refused(handle: Handle, token: str, signer: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await approve(handle, token, signer)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def started(env: WorkflowEnvironment, **changes: object) -> tuple[CrisisStart, Handle]:
    now = await env.get_current_time()
    start = crisis_start(now, **changes)
    return start, await start_crisis(env.client, start)


async def both_approve(env: WorkflowEnvironment, start: CrisisStart, handle: Handle) -> None:
    now = await env.get_current_time()
    with env.auto_time_skipping_disabled():
        first = await approve(handle, sign_approval(start, "kai", now), "kai")
        assert (first.approvals, first.needed) == (1, 2)
        await approve(handle, sign_approval(start, "noor", now), "noor")


async def test_without_the_quorum_in_the_window_it_expires_and_publishes_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeCrisisServices()
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        now = await time_skipping_env.get_current_time()
        with time_skipping_env.auto_time_skipping_disabled():
            await approve(handle, sign_approval(start, "kai", now), "kai")
        result = await handle.result()
        await record_crisis_history(handle, "crisis-expired")
    assert result.status == "expired"
    assert fakes.step_names == ["expired"] and "1 of 2" in fakes.steps[0].reason
    assert fakes.published == [] and fakes.opened == [] and fakes.takedowns == []


async def test_the_quorum_publishes_at_once_and_an_approving_after_review_keeps_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeCrisisServices(after_review=["in_review", "in_review", "approved"])
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        await both_approve(time_skipping_env, start, handle)
        result = await handle.result()
        state = await handle.query(CRISIS_STATE_QUERY, result_type=CrisisState)
        await record_crisis_history(handle, "crisis-kept")
    assert (result.status, result.outcome) == ("kept", "kept")
    assert fakes.step_names == ["published", "kept"]
    assert len(fakes.published) == 1 and len(fakes.published[0].approvals) == 2
    assert fakes.published[0].content_hash == start.content_hash
    assert fakes.opened == [start.crisis_id] and fakes.takedowns == [] and fakes.polls == 3
    assert state.after_review_due_at and state.approvals == 2


async def test_a_rejecting_after_review_takes_the_post_down(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeCrisisServices(after_review=["in_review", "rejected"])
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        await both_approve(time_skipping_env, start, handle)
        result = await handle.result()
        await record_crisis_history(handle, "crisis-rejected")
    assert (result.status, result.outcome) == ("taken_down", "taken_down")
    assert fakes.step_names == ["published", "taken_down"]
    assert [t.draft_id for t in fakes.takedowns] == [start.draft_id]
    assert "rejected: a reviewer said no" in fakes.takedowns[0].reason


async def test_changes_requested_in_the_after_review_takes_the_post_down(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeCrisisServices(after_review=["changes_requested"])
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        await both_approve(time_skipping_env, start, handle)
        result = await handle.result()
    assert result.status == "taken_down" and "changes_requested" in fakes.takedowns[0].reason


async def test_an_after_review_unfinished_after_24_hours_takes_the_post_down(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeCrisisServices(after_review=["in_review"])
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        await both_approve(time_skipping_env, start, handle)
        published_at = await time_skipping_env.get_current_time()
        result = await handle.result()
        ended_at = await time_skipping_env.get_current_time()
    assert result.status == "taken_down"
    assert "did not finish within 24 hours" in fakes.takedowns[0].reason
    # Polled soon, then every ten minutes for the whole day, and not taken down before it was over.
    assert fakes.polls >= 24 * 6
    assert ended_at - published_at >= timedelta(hours=24)


async def test_a_refused_publish_is_recorded_and_nothing_follows(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeCrisisServices(refuse_publish="refused: a signature does not verify")
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        await both_approve(time_skipping_env, start, handle)
        result = await handle.result()
    assert result.status == "publish_failed"
    assert fakes.step_names == ["publish_failed"] and "does not verify" in fakes.steps[0].reason
    assert fakes.opened == [] and fakes.takedowns == []


async def test_approvals_that_may_not_count_are_refused_and_change_nothing(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    fakes = FakeCrisisServices()
    async with running_crisis_fakes(time_skipping_env.client, fakes):
        start, handle = await started(time_skipping_env)
        now = await time_skipping_env.get_current_time()
        forger = load_or_create_signing_key(tmp_path / "forger.pem")
        forged_kid = dataclasses.replace(forger, kid=REVIEW_KEY.kid)
        with time_skipping_env.auto_time_skipping_disabled():
            cases = [
                (sign_approval(start, STARTER, now), STARTER, "starter of a crisis post may not"),
                (sign_approval(start, AUTHOR, now), AUTHOR, "author of the draft may not"),
                (sign_approval(start, "leo", now, roles=("legal",)), "leo", "crisis role"),
                (sign_approval(start, "kai", now, content_hash="d" * 64), "kai", "other content"),
                (sign_approval(start, "kai", now, key=forger), "kai", "unknown key"),
                (sign_approval(start, "kai", now, key=forged_kid), "kai", "does not verify"),
                (sign_approval(start, "kai", now + timedelta(minutes=31)), "kai", "within the crisis window"),
                (sign_approval(start, "kai", now - timedelta(minutes=1)), "kai", "within the crisis window"),
                (sign_approval(start, "kai", now), "noor", "signed by someone else"),
            ]
            for token, signer, why in cases:
                cause = await refused(handle, token, signer)
                assert why in cause.message, (why, cause.message)
            await approve(handle, sign_approval(start, "kai", now), "kai")
            again = await refused(handle, sign_approval(start, "kai", now), "kai")
            assert "approved the crisis post already" in again.message
            state = await handle.query(CRISIS_STATE_QUERY, result_type=CrisisState)
            assert (state.status, state.approvals) == ("awaiting_approvals", 1)
        # One approval is not the quorum: the window closes with nothing published.
        result = await handle.result()
    assert result.status == "expired" and fakes.published == []
