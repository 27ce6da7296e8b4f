"""PostApprovalWorkflow on the time-skipping test server, with fake service activities."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from services.kit.tokens import load_or_create_signing_key
from tests.workflows.approval_fixtures import (
    CURRENT_DRAFT,
    HASH_V1,
    HASH_V2,
    decide,
    decision,
    record_history,
    refused,
    start,
    version,
    wait_status,
)
from tests.workflows.fakes import AUTHOR, REVIEW_KEY, FakeServices, running_fakes, sign_decision
from workflows.contracts import (
    CONSENT_REVOKED_SIGNAL,
    OVERRIDE_FINDINGS_UPDATE,
    STATE_QUERY,
    SUBMIT_VERSION_SIGNAL,
    WITHDRAW_UPDATE,
    ConsentRevoked,
    DecisionAccepted,
    DecisionRequest,
    DraftStateUpdate,
    FindingsOverridden,
    FindingsOverride,
    StageRequirement,
    WithdrawAccepted,
    WithdrawRequest,
)


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


async def test_a_channel_that_stays_down_ends_in_publish_failed_with_the_last_error(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(channel_down=True)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version(), publish_deadline_seconds=600)
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
        result = await handle.result()  # the test server skips the ten minutes of retries
    assert result.status == "publish_failed" and fakes.published == []
    assert fakes.publish_attempts > 1  # retried while the deadline allowed
    assert fakes.actions[-1] == "post.publish_failed"
    assert fakes.latest_state.status == "publish_failed"
    assert fakes.latest_state.note == (
        "publishing failed: the channels did not take the post within 0.166667 hours"
        " (last error: webhook: the receiver did not answer)"
    )


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


async def test_a_forged_author_in_the_workflow_input_counts_for_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Attack: someone with Temporal access starts the workflow naming another user as the author,
    then approves their own draft. The author that counts is the one the review service signed
    from the drafts service's record (the fake signs AUTHOR)."""
    fakes = FakeServices(stages=[StageRequirement("compliance", ["compliance"])])
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version(), author_id="someone-else")
        await wait_status(handle, "in_review")
        own = await refused(handle, decision("compliance", AUTHOR, ["author", "compliance"]))
        assert own.type == "Forbidden" and "author" in own.message
        assert {o.author_id for o in fakes.opened} == {AUTHOR}
        await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "test over"), result_type=WithdrawAccepted
        )
        await handle.result()
    assert fakes.decisions == [] and fakes.published == []


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


async def test_decisions_without_a_valid_signature_are_refused(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        unsigned = dataclasses.replace(decision("legal", "leo", ["legal"]), signed="")
        assert (await refused(handle, unsigned)).type == "Forbidden"
        forger = load_or_create_signing_key(tmp_path / "forger.pem")
        forged_key = dataclasses.replace(forger, kid=REVIEW_KEY.kid)
        forged = decision("legal", "leo", ["legal"])
        forged = dataclasses.replace(
            forged,
            signed=sign_decision(
                draft_id=CURRENT_DRAFT["id"], version=1, content_hash=HASH_V1, stage="legal",
                decision="approve", reason="", signer_id="leo", signer_roles=["legal"],
                signed_at=CURRENT_DRAFT["now"], key=forged_key,
            ),
        )  # fmt: skip
        assert "not validly signed" in (await refused(handle, forged)).message
        other_stage = dataclasses.replace(
            decision("legal", "leo", ["legal"]), signed=decision("compliance", "leo", ["legal"]).signed
        )
        assert "does not match" in (await refused(handle, other_stage)).message
        stale = decision("legal", "leo", ["legal"], signed_at=CURRENT_DRAFT["now"] - timedelta(hours=2))
        assert "too old" in (await refused(handle, stale)).message
        state = await handle.query(STATE_QUERY, result_type=DraftStateUpdate)
        assert all(not s.decisions for s in state.stages)
        await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "done"), result_type=WithdrawAccepted
        )
        await handle.result()
    assert fakes.decisions == [] and fakes.published == []


async def test_blocking_findings_hold_approval_until_compliance_overrides(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(blocking=1)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        held = await refused(handle, decision("legal", "leo", ["legal"]))
        assert held.type == "Conflict" and "blocking" in held.message
        cleared = fakes.requirement(fakes.last_plan, 0)
        by_legal = FindingsOverride(cleared, "leo", "Leo", ["legal"], "fine")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(OVERRIDE_FINDINGS_UPDATE, by_legal, result_type=FindingsOverridden)
        still_blocking = FindingsOverride(
            fakes.requirement(fakes.last_plan, 1), "carol", "Carol", ["compliance"], "x"
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                OVERRIDE_FINDINGS_UPDATE, still_blocking, result_type=FindingsOverridden
            )
        override = FindingsOverride(
            cleared, "carol", "Carol", ["compliance"], "the number is our clinic's line"
        )
        await handle.execute_update(OVERRIDE_FINDINGS_UPDATE, override, result_type=FindingsOverridden)
        await decide(handle, decision("legal", "leo", ["legal"]))
        await decide(handle, decision("compliance", "cody", ["compliance"]))
        result = await handle.result()
    assert result.status == "published"
    assert "findings.overridden" in fakes.actions
    assert fakes.published[0].requirement == cleared and len(fakes.published[0].approvals) == 2


async def test_no_valid_consent_sends_the_draft_back_to_the_author(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(consent_ok=False)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        state = await wait_status(handle, "changes_requested")
        assert "consent" in state.note and "expired" in state.note
        assert fakes.opened == [] and fakes.published == []
        await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "done"), result_type=WithdrawAccepted
        )
        await handle.result()
    assert "consent.refused" in fakes.actions


async def test_consent_revoked_before_the_scheduled_time_stops_the_publish(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        now = await time_skipping_env.get_current_time()
        handle = await start(time_skipping_env, version(scheduled_at=(now + timedelta(days=2)).isoformat()))
        await wait_status(handle, "in_review")
        with time_skipping_env.auto_time_skipping_disabled():
            await decide(handle, decision("compliance", "carol", ["compliance"]))
            await decide(handle, decision("legal", "leo", ["legal"]))
            await wait_status(handle, "scheduled")
            await handle.signal(CONSENT_REVOKED_SIGNAL, ConsentRevoked("c-1", "patient withdrew", "cora"))
            state = await wait_status(handle, "changes_requested")
        assert "c-1" in state.note
        await time_skipping_env.sleep(timedelta(days=3))
        assert fakes.published == []
        await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "done"), result_type=WithdrawAccepted
        )
        await handle.result()
    assert "consent.revoked" in fakes.actions
    assert len(fakes.consent_checks) == 1  # checked after screening; the publish never came


async def test_consent_is_checked_again_just_before_publishing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices()
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        fakes.consent_ok = False  # e.g. it expired while the reviewers were deciding
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
        await wait_status(handle, "changes_requested")
        await handle.execute_update(
            WITHDRAW_UPDATE, WithdrawRequest(AUTHOR, "done"), result_type=WithdrawAccepted
        )
        await handle.result()
    assert fakes.published == [] and len(fakes.consent_checks) == 2
    assert "publish.blocked" in fakes.actions
