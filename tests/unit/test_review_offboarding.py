"""Offboarding in the review service: sessions end, claims return to the queue, approvals are voided
through the workflow, each effect audited; unfinished work is retried at the next refresh."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.kit.auth import RevocationList
from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import OffboardedUser, ReviewDecision, ReviewTask, Screening
from services.review.offboarding import Offboarding
from services.review.policy import load_policy_file
from services.review.ui.models import TaskClaim, UiSession
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import ApprovalsVoided, OpenReviewTasksInput, StageRequirement, VoidApprovals

LEAVING = "u-leaving"
STAYING = "u-staying"
DEACTIVATED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class FakeHandle:
    temporal: FakeTemporal
    workflow_id: str

    async def execute_update(
        self, name: str, request: VoidApprovals, result_type: Any = None
    ) -> ApprovalsVoided:
        self.temporal.calls.append((self.workflow_id, name, request))
        outcome = self.temporal.outcomes.get(self.workflow_id, "voided")
        if outcome == "refused":
            raise WorkflowUpdateFailedError(ApplicationError("nothing to void", type="Conflict"))
        if outcome == "finished":
            raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
        if outcome == "down":
            raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
        return ApprovalsVoided(stages=["compliance"], draft_status="in_review")


@dataclass
class FakeTemporal:
    outcomes: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, VoidApprovals]] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)


@pytest.fixture
async def sessionmaker(database: DatabaseFactory) -> Any:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


def decision(draft_id: str, decider: str, verdict: str = "approve") -> ReviewDecision:
    return ReviewDecision(
        id=str(uuid.uuid4()), draft_id=draft_id, version=1, content_hash="a" * 64, stage="compliance",
        decision=verdict, reason="", decider_id=decider, decider_name=decider, decider_roles=["compliance"],
        policy_version="p", decided_at=DEACTIVATED_AT - timedelta(hours=1),
    )  # fmt: skip


def ui_session(user_id: str) -> UiSession:
    now = DEACTIVATED_AT - timedelta(minutes=5)
    return UiSession(
        id=uuid.uuid4().hex, user_id=user_id, username=user_id, display_name=user_id, access_token="t",
        access_expires_at=now + timedelta(minutes=15), refresh_token="r", csrf_token="c", created_at=now,
        last_seen_at=now,
    )  # fmt: skip


def claim(draft_id: str, holder: str, stage: str = "legal") -> TaskClaim:
    now = DEACTIVATED_AT - timedelta(minutes=5)
    return TaskClaim(
        id=str(uuid.uuid4()), draft_id=draft_id, stage=stage, holder_id=holder, holder_name=holder,
        claimed_at=now, last_active_at=now,
    )  # fmt: skip


async def seed(sessionmaker: Any) -> None:
    async with session_scope(sessionmaker) as session:
        session.add_all(
            [
                decision("d-live", LEAVING),
                decision("d-done", LEAVING),
                decision("d-changes", LEAVING, "request_changes"),
                decision("d-other", STAYING),
                ui_session(LEAVING),
                ui_session(LEAVING),
                ui_session(STAYING),
                claim("d-live", LEAVING),
                claim("d-other", STAYING),
            ]
        )


async def rows(sessionmaker: Any, model: Any) -> list[Any]:
    async with sessionmaker() as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_offboarding_ends_sessions_releases_claims_and_voids_approvals(sessionmaker: Any) -> None:
    await seed(sessionmaker)
    audit, temporal = RecordingAudit(), FakeTemporal(outcomes={"draft-d-done": "finished"})
    offboarding = Offboarding(sessionmaker, audit, temporal)  # type: ignore[arg-type]

    await offboarding.on_revocations({LEAVING: DEACTIVATED_AT})

    assert [s.user_id for s in await rows(sessionmaker, UiSession)] == [STAYING]
    assert [c.holder_id for c in await rows(sessionmaker, TaskClaim)] == [STAYING]
    # Only approvals are voided, in every draft the user approved; a finished workflow is skipped.
    assert sorted(wid for wid, _, _ in temporal.calls) == ["draft-d-done", "draft-d-live"]
    request = temporal.calls[0][2]
    assert request.user_id == LEAVING and "deactivated" in request.reason
    assert audit.actions() == ["review.sessions_ended", "review.claims_released", "review.offboarded"]
    assert audit.events[0]["details"]["sessions"] == 2
    assert audit.events[1]["details"]["claims"] == [{"draft_id": "d-live", "stage": "legal"}]
    assert audit.events[2]["details"]["voided_drafts"] == ["d-live"]
    [done] = await rows(sessionmaker, OffboardedUser)
    assert (done.user_id, done.deactivated_at) == (LEAVING, DEACTIVATED_AT)

    # The next refresh lists the same user: nothing is done twice.
    await offboarding.on_revocations({LEAVING: DEACTIVATED_AT})
    assert len(temporal.calls) == 2 and len(audit.events) == 3


async def test_an_unreachable_workflow_is_retried_at_the_next_refresh(sessionmaker: Any) -> None:
    await seed(sessionmaker)
    audit, temporal = (
        RecordingAudit(),
        FakeTemporal(outcomes={"draft-d-live": "down", "draft-d-done": "refused"}),
    )
    offboarding = Offboarding(sessionmaker, audit, temporal)  # type: ignore[arg-type]

    await offboarding.on_revocations({LEAVING: DEACTIVATED_AT})
    assert await rows(sessionmaker, OffboardedUser) == []
    assert "review.offboarded" not in audit.actions()

    temporal.outcomes["draft-d-live"] = "voided"
    await offboarding.on_revocations({LEAVING: DEACTIVATED_AT})
    assert [u.voided_drafts for u in await rows(sessionmaker, OffboardedUser)] == [["d-live"]]
    # Sessions and claims were ended on the first pass and audited once.
    assert audit.actions().count("review.sessions_ended") == 1


async def test_a_revocation_list_refresh_drives_offboarding(sessionmaker: Any) -> None:
    await seed(sessionmaker)
    audit, temporal = RecordingAudit(), FakeTemporal()
    offboarding = Offboarding(sessionmaker, audit, temporal)  # type: ignore[arg-type]

    async def source() -> dict[str, datetime]:
        return {LEAVING: DEACTIVATED_AT}

    revocations = RevocationList(source, interval=60)
    revocations.add_listener(offboarding.on_revocations)
    assert not await revocations.is_revoked(STAYING)  # the first check fetches on demand
    assert await revocations.is_revoked(LEAVING)
    assert "review.offboarded" in audit.actions()


async def test_voided_stages_are_opened_again(sessionmaker: Any) -> None:
    activities = ReviewActivities.__new__(ReviewActivities)
    activities._sessionmaker = sessionmaker
    activities._policy = load_policy_file(DEFAULT_POLICY_FILE)
    stage = StageRequirement("compliance", ["compliance"])
    async with session_scope(sessionmaker) as session:
        session.add(
            Screening(
                id="s-1", draft_id="d-1", version=1, content_hash="a" * 64, policy_version="p",
                categories=[], products=[], findings=[], blocking=False, author_id="u-author",
                created_at=DEACTIVATED_AT,
            )
        )  # fmt: skip
    request = OpenReviewTasksInput("d-1", 1, "a" * 64, "u-author", "p", [stage], "s-1")
    await activities.open_review_tasks(request)
    async with session_scope(sessionmaker) as session:
        [task] = (await session.execute(select(ReviewTask))).scalars().all()
        task.status, task.closed_at = "decided", DEACTIVATED_AT
    await activities.open_review_tasks(request)  # a retried first opening changes nothing
    assert [t.status for t in await rows(sessionmaker, ReviewTask)] == ["decided"]
    request.reopen = True
    await activities.open_review_tasks(request)
    [task] = await rows(sessionmaker, ReviewTask)
    assert (task.status, task.closed_at) == ("open", None)
