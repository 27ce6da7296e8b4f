"""Offboarding in the workflow: `void_approvals` re-opens a departed reviewer's stages.

On the time-skipping test server with the fake service activities.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.approval_fixtures import (
    decide,
    decision,
    refused,
    start,
    version,
    wait_status,
)
from tests.workflows.fakes import FakeServices, running_fakes
from workflows.contracts import (
    STATE_QUERY,
    VOID_APPROVALS_UPDATE,
    ApprovalsVoided,
    DraftStateUpdate,
    PostApprovalResult,
    VoidApprovals,
)

REASON = "user deactivated by the identity provider"


async def void(handle: WorkflowHandle[object, PostApprovalResult], user_id: str) -> ApprovalsVoided:
    return await handle.execute_update(
        VOID_APPROVALS_UPDATE, VoidApprovals(user_id, REASON), result_type=ApprovalsVoided
    )


async def void_refused(handle: WorkflowHandle[object, PostApprovalResult], user_id: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await void(handle, user_id)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_voided_stage_reopens_and_another_reviewer_completes_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        nothing = await void_refused(handle, "leo")  # leo approved nothing: refused, no trace
        assert nothing.type == "Conflict"

        voided = await void(handle, "carol")
        assert voided == ApprovalsVoided(stages=["compliance"], draft_status="in_review")
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        compliance = state.stages[0]
        assert compliance.status == "voided"
        assert [d.decision for d in compliance.decisions] == ["approve", "voided"]
        assert compliance.decisions[-1].reason == REASON
        # Her old signatures count for nothing now, even on another stage.
        gone = await refused(handle, decision("legal", "carol", ["compliance", "legal"]))
        assert gone.type == "Forbidden" and "offboarded" in gone.message

        await decide(handle, decision("compliance", "cody", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
        result = await handle.result()
    assert result.status == "published"
    assert "decision.voided" in fakes.actions
    voided_event = next(e for e in fakes.audit if e.action == "decision.voided")
    assert voided_event.details["user_id"] == "carol" and voided_event.details["stages"] == ["compliance"]
    reopened = [o for o in fakes.opened if o.reopen]
    assert [[s.name for s in o.stages] for o in reopened] == [["compliance"]]
    # The publisher got exactly the approvals that still count: cody's and leo's, not carol's.
    assert len(fakes.published) == 1
    signers = [fakes_signer(token) for token in fakes.published[0].approvals]
    assert sorted(signers) == ["cody", "leo"]


def fakes_signer(token: str) -> str:
    from tests.workflows.fakes import REVIEW_KEY
    from workflows.signatures import read_decision

    return read_decision(token, {REVIEW_KEY.kid: REVIEW_KEY.public_jwk}).signer_id


async def test_voiding_a_scheduled_post_puts_it_back_in_review(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        now = await time_skipping_env.get_current_time()
        handle = await start(time_skipping_env, version(scheduled_at=(now + timedelta(days=3)).isoformat()))
        await wait_status(handle, "in_review")
        with time_skipping_env.auto_time_skipping_disabled():
            await decide(handle, decision("compliance", "carol", ["compliance"]))
            await decide(handle, decision("legal", "leo", ["legal"]))
            await wait_status(handle, "scheduled")
            voided = await void(handle, "leo")
            assert voided.stages == ["legal"] and voided.draft_status == "in_review"
            state = await wait_status(handle, "in_review")
            assert [s.status for s in state.stages] == ["approved", "voided"]
        # The scheduled time passes while the stage is open: nothing is published.
        await time_skipping_env.sleep(timedelta(days=4))
        assert fakes.published == []
        assert (await handle.query(STATE_QUERY, result_type=DraftStateUpdate)).status == "in_review"
        # Another legal reviewer approves; the time has passed, so it publishes now.
        fakes_now = await time_skipping_env.get_current_time()
        await decide(handle, decision("legal", "lena", ["legal"], signed_at=fakes_now))
        result = await handle.result()
    assert result.status == "published"
    assert len(fakes.published) == 1
    actions = fakes.actions
    assert (
        actions.index("post.scheduled") < actions.index("decision.voided") < actions.index("post.published")
    )
    assert actions.count("draft.approved") == 2


async def test_void_is_refused_once_the_draft_is_final(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
        await handle.result()
        # A completed workflow takes no updates at all; the review service treats that as "nothing to void".
        with pytest.raises(Exception):  # noqa: B017 - RPC error or update failure, both mean refused
            await void(handle, "carol")
    assert "decision.voided" not in fakes.actions
    assert len(fakes.published) == 1
