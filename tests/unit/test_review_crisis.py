"""The review service's crisis lane (services/review/crisis.py, crisis_activities.py): who may start
and co-sign an emergency post, the signed records, every refusal (nothing signed, nothing kept),
the steps the workflow records and the report. Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.kit.canonical import content_hash
from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.kit.errors import ClearpostError, NotFound
from services.kit.tokens import Principal
from services.review.config import DEFAULT_POLICY_FILE
from services.review.crisis import CrisisService
from services.review.crisis_activities import CrisisActivities
from services.review.crisis_models import CrisisApproval
from services.review.crisis_report import report_csv
from services.review.crisis_schemas import CrisisApproveIn, CrisisPostOut, CrisisStartIn
from services.review.policy import load_policy_file
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import SIGNER, FakeVersions
from workflows.contracts import DraftStateUpdate, PostApprovalInput, VersionSubmitted, WithdrawRequest
from workflows.crisis_contracts import (
    CrisisApproved,
    CrisisApproveRequest,
    CrisisPostInput,
    CrisisRef,
    CrisisStep,
)
from workflows.crisis_signatures import read_approval, read_start

POLICY = load_policy_file(DEFAULT_POLICY_FILE)
KEYS = SIGNER.public_keys


def person(user_id: str, *roles: str) -> Principal:
    return Principal(
        user_id=user_id, username=f"{user_id}@demo", name=user_id.title(), roles=frozenset(roles)
    )


CRIS, KAI, NOOR = person("cris", "crisis"), person("kai", "crisis"), person("noor", "crisis")
AUTHOR = person("avery", "author", "crisis")
LEGAL = person("leo", "legal")


def version(body: str = "Boil tap water before drinking until further notice.") -> dict[str, Any]:
    title, channels = "Boil-water notice", ["mastodon"]
    return {
        "draft_id": "d-1", "version": 1, "title": title, "body": body, "channels": channels,
        "media_digests": [], "author_id": "avery", "patient_content": False,
        "content_hash": content_hash(title=title, body=body, channels=channels, media_digests=[]),
    }  # fmt: skip


class Passwords:
    async def confirms(self, username: str, password: str) -> bool:
        return password == "right"


@dataclass
class FakeCrisisWorkflows:
    started: list[CrisisPostInput] = field(default_factory=list)
    approvals: list[tuple[str, CrisisApproveRequest]] = field(default_factory=list)
    connected: bool = True

    async def start(self, request: CrisisPostInput, *, runs_at_most: timedelta) -> None:
        self.started.append(request)

    async def approve(self, crisis_id: str, request: CrisisApproveRequest) -> CrisisApproved:
        self.approvals.append((crisis_id, request))
        return CrisisApproved(len(self.approvals), 2, "awaiting_approvals")


@dataclass
class FakeApprovals:
    status: str = ""
    version: int | None = 1
    note: str = ""
    started: list[tuple[PostApprovalInput, VersionSubmitted]] = field(default_factory=list)
    withdrawn: list[tuple[str, WithdrawRequest]] = field(default_factory=list)

    async def state(self, draft_id: str) -> DraftStateUpdate:
        if not self.status:
            raise NotFound(f"draft {draft_id} has no review in progress")
        return DraftStateUpdate(draft_id, 1, self.status, self.version, "h", note=self.note)

    async def start(self, request: PostApprovalInput, submitted: VersionSubmitted) -> None:
        self.started.append((request, submitted))
        self.status = "screening"

    async def withdraw(self, draft_id: str, request: WithdrawRequest) -> object:
        self.withdrawn.append((draft_id, request))
        return object()


@dataclass
class Lane:
    sessionmaker: Any
    audit: RecordingAudit
    workflows: FakeCrisisWorkflows
    approvals: FakeApprovals
    versions: FakeVersions
    now: datetime

    def service(self, session: Any) -> CrisisService:
        return CrisisService(
            session,
            policy=POLICY,
            audit=self.audit,
            credentials=Passwords(),
            signer=SIGNER,
            drafts=self.versions,  # type: ignore[arg-type]
            screener=None,
            workflows=self.workflows,  # type: ignore[arg-type]
            approvals=self.approvals,  # type: ignore[arg-type]
            clock=lambda: self.now,
        )

    async def start(self, principal: Principal = CRIS, **changes: Any) -> CrisisPostOut:
        data = {
            "draft_id": "d-1",
            "version": 1,
            "reason": "boil-water notice",
            "password": "right",
            **changes,
        }
        async with session_scope(self.sessionmaker) as session:
            return await self.service(session).start(CrisisStartIn(**data), principal)

    async def approve(self, crisis: CrisisPostOut, principal: Principal, **changes: Any) -> CrisisPostOut:
        data = {"content_hash": crisis.content_hash, "password": "right", **changes}
        async with session_scope(self.sessionmaker) as session:
            return await self.service(session).approve(crisis.id, CrisisApproveIn(**data), principal)

    async def approval_rows(self) -> int:
        async with session_scope(self.sessionmaker) as session:
            return int((await session.execute(select(func.count()).select_from(CrisisApproval))).scalar_one())

    def activities(self) -> CrisisActivities:
        return CrisisActivities(
            self.sessionmaker,
            self.audit,
            self.versions,
            self.approvals,
            clock=lambda: self.now,  # type: ignore[arg-type]
        )


@pytest.fixture
async def lane(database: DatabaseFactory) -> AsyncIterator[Lane]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    try:
        yield Lane(
            create_sessionmaker(engine),
            RecordingAudit(),
            FakeCrisisWorkflows(),
            FakeApprovals(),
            FakeVersions(version()),
            datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        )
    finally:
        await engine.dispose()


async def test_a_crisis_holder_starts_it_signed_and_two_others_co_sign(lane: Lane) -> None:
    crisis = await lane.start()

    [started] = lane.workflows.started
    start = read_start(started.start, KEYS)
    assert (start.crisis_id, start.starter_id, start.content_hash) == (
        crisis.id,
        "cris",
        version()["content_hash"],
    )
    assert (start.window_seconds, start.approvers, start.after_review_seconds) == (1800, 2, 86_400)
    assert crisis.status == "awaiting_approvals" and crisis.window_seconds_left == 1800

    lane.now += timedelta(minutes=5)
    await lane.approve(crisis, KAI)
    after = await lane.approve(crisis, NOOR)

    assert [a.signer_id for a in after.approvals] == ["kai", "noor"]
    signed = [read_approval(r.signed, KEYS) for _, r in lane.workflows.approvals]
    assert [(a.signer_id, a.content_hash, a.crisis_id) for a in signed] == [
        ("kai", crisis.content_hash, crisis.id),
        ("noor", crisis.content_hash, crisis.id),
    ]
    assert lane.audit.actions() == ["crisis.started", "crisis.approved", "crisis.approved"]
    assert lane.audit.events[0]["details"]["reason"] == "boil-water notice"


@pytest.mark.parametrize(
    ("who", "changes", "status", "why"),
    [
        (LEGAL, {}, 403, "only holders of the crisis role"),
        (CRIS, {"password": "wrong"}, 403, "password did not match"),
        (
            CRIS,
            {"body_text": "Patient Jane Roe, DOB: March 3, 1950, MRN 483920 is recovering well."},
            422,
            "blocking screening findings",
        ),
    ],
)
async def test_a_start_that_may_not_happen_is_refused_and_nothing_is_kept(
    lane: Lane, who: Principal, changes: dict[str, Any], status: int, why: str
) -> None:
    changes = dict(changes)
    if "body_text" in changes:
        lane.versions = FakeVersions(version(changes.pop("body_text")))
    with pytest.raises(ClearpostError) as info:
        await lane.start(who, **changes)
    assert (info.value.status_code, why in info.value.detail) == (status, True), info.value.detail
    assert lane.workflows.started == [] and lane.audit.actions() == []
    async with session_scope(lane.sessionmaker) as session:
        assert await lane.service(session).list() == []


async def test_a_draft_in_its_normal_review_or_with_a_crisis_under_way_is_refused(lane: Lane) -> None:
    lane.approvals.status = "in_review"
    with pytest.raises(ClearpostError) as info:
        await lane.start()
    assert info.value.status_code == 409 and "in its normal review" in info.value.detail
    lane.approvals.status = ""
    await lane.start()
    with pytest.raises(ClearpostError) as again:
        await lane.start()
    assert again.value.status_code == 409 and "under way already" in again.value.detail


@pytest.mark.parametrize(
    ("who", "changes", "status", "why"),
    [
        (CRIS, {}, 403, "starter of a crisis post may not approve it"),
        (AUTHOR, {}, 403, "author of the draft may not"),
        (LEGAL, {}, 403, "only holders of the crisis role"),
        (KAI, {"content_hash": "e" * 64}, 409, "content hash is not the crisis post's"),
        (KAI, {"password": "wrong"}, 403, "password did not match"),
    ],
)
async def test_an_approval_that_may_not_count_is_refused_and_nothing_is_signed(
    lane: Lane, who: Principal, changes: dict[str, Any], status: int, why: str
) -> None:
    crisis = await lane.start()
    with pytest.raises(ClearpostError) as info:
        await lane.approve(crisis, who, **changes)
    assert (info.value.status_code, why in info.value.detail) == (status, True), info.value.detail
    assert lane.workflows.approvals == [] and await lane.approval_rows() == 0
    assert lane.audit.actions() == ["crisis.started"]


async def test_a_second_approval_by_the_same_person_and_a_late_one_are_refused(lane: Lane) -> None:
    crisis = await lane.start()
    await lane.approve(crisis, KAI)
    with pytest.raises(ClearpostError) as twice:
        await lane.approve(crisis, KAI)
    assert twice.value.status_code == 409 and "approved this crisis post already" in twice.value.detail
    lane.now += timedelta(minutes=31)
    with pytest.raises(ClearpostError) as late:
        await lane.approve(crisis, NOOR)
    assert late.value.status_code == 409 and "window" in late.value.detail
    assert len(lane.workflows.approvals) == 1 and await lane.approval_rows() == 1


async def test_the_workflows_steps_are_recorded_once_and_the_report_lists_the_outcome(lane: Lane) -> None:
    crisis = await lane.start()
    activities = lane.activities()
    await activities.record_crisis_step(CrisisStep(crisis.id, "published"))
    await activities.record_crisis_step(CrisisStep(crisis.id, "published"))  # a retry
    await activities.open_crisis_after_review(CrisisRef(crisis.id))

    [(started, submitted)] = lane.approvals.started
    assert (started.draft_id, started.author_id) == ("d-1", "avery")
    assert (submitted.version, submitted.content_hash, submitted.submitted_by) == (
        1,
        crisis.content_hash,
        "cris",
    )
    lane.approvals.status, lane.approvals.note = "rejected", "misleading"
    state = await activities.crisis_after_review_state(CrisisRef(crisis.id))
    assert (state.status, state.note) == ("rejected", "misleading")

    lane.now += timedelta(hours=2)
    await activities.record_crisis_step(
        CrisisStep(crisis.id, "taken_down", "the after-review ended rejected")
    )

    assert lane.approvals.withdrawn and lane.approvals.withdrawn[0][0] == "d-1"
    async with session_scope(lane.sessionmaker) as session:
        [post] = await lane.service(session).list()
    assert (post.status, post.outcome) == ("taken_down", "rejected")
    assert post.published_at == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert post.after_review_due_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    actions = lane.audit.actions()
    assert actions.count("crisis.published") == 2  # the audit service keeps one per idempotency key
    keys = [e["idempotency_key"] for e in lane.audit.events if e["action"] == "crisis.published"]
    assert len(set(keys)) == 1
    assert actions[-3:] == ["crisis.after_review_opened", "crisis.after_review_outcome", "crisis.taken_down"]
    lines = report_csv([post]).splitlines()
    assert lines[0].startswith("crisis_id,draft_id,version")
    assert (
        crisis.id in lines[1]
        and "taken_down,2026-12-02T09:00:00+00:00" in lines[1]
        and ",rejected," in lines[1]
    )


async def test_an_after_review_that_approved_a_later_version_does_not_keep_the_post(lane: Lane) -> None:
    crisis = await lane.start()
    lane.approvals.status, lane.approvals.version = "published", 2
    state = await lane.activities().crisis_after_review_state(CrisisRef(crisis.id))
    assert state.status == "changes_requested"


def test_report_cells_a_spreadsheet_would_run_are_escaped() -> None:
    post = CrisisPostOut(
        id="c", draft_id="d", version=1, content_hash="h", channels=[], starter_id="s", starter_name="=cmd()",
        reason="@SUM(1)", status="kept", started_at=datetime(2026, 1, 1, tzinfo=UTC),
        window_ends_at=datetime(2026, 1, 1, tzinfo=UTC), approvers=2, approvals=[], published_at=None,
        after_review_due_at=None, outcome="approved", outcome_reason="", closed_at=None,
        window_seconds_left=0, after_review_seconds_left=0,
    )  # fmt: skip
    row = report_csv([post]).splitlines()[1]
    assert "'=cmd()" in row and "'@SUM(1)" in row
