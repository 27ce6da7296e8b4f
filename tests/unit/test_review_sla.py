"""Review SLAs in the review service: the policy keys, quorum eligibility, delegation, the notice
outbox and claim expiry, on SQLite and PostgreSQL through migrations."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker
from services.kit.errors import ClearpostError, Conflict, Forbidden, NotFound, Unprocessable
from services.kit.tokens import Principal
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.delegations import DelegationService
from services.review.models import ReviewDelegation, ReviewNotice, ReviewTask, Screening
from services.review.policy import LoadedPolicy, PolicyError, parse_policy
from services.review.schemas import DelegationIn
from services.review.service import ReviewService
from services.review.ui.models import TaskClaim
from services.review.ui.repository import UiRepository
from services.review.ui.service import ClaimService
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import SIGNER, FakeVersions
from workflows.contracts import NoticeDue, OpenReviewTasksInput, StageRequirement

AUTHOR = "author-1"


def person(user_id: str, *roles: str) -> Principal:
    return Principal(user_id=user_id, username=f"{user_id}@test", name=user_id, roles=frozenset(roles))


def default_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    return document


def sla_document() -> dict[str, Any]:
    """The default policy with review SLAs: medical is decided by two of three named people."""
    document = copy.deepcopy(default_document())
    document["approval_expiry"] = "30d"
    document["stages"]["compliance"].update(
        sla="24h", reminders=["12h", "20h"], escalate_to={"roles": ["admin"], "users": ["chief@test"]}
    )
    document["stages"]["medical"].update(
        sla="48h", reminders=["24h"], quorum={"k": 2, "of": ["mia", "max@test", "mo"]}
    )
    document["stages"]["legal"]["quorum"] = {"k": 2}
    return document


# --- the policy ---------------------------------------------------------------------------------


def test_an_old_policy_loads_with_todays_behaviour() -> None:
    policy = parse_policy(default_document())
    stages = policy.required_stages(
        product_mentioned=True, patient_content=False, categories=["fda_fair_balance"]
    )
    assert [(s.quorum, s.deciders) for s in stages] == [(1, [])] * 3
    schedule = policy.schedule(stages, datetime.now(UTC))
    assert schedule.approval_expiry_seconds == 0
    assert all(t.sla_seconds == 0 and not t.reminder_seconds and not t.escalates for t in schedule.stages)


def test_review_sla_keys_load_into_the_plan_and_the_schedule() -> None:
    policy = parse_policy(sla_document())
    stages = policy.required_stages(
        product_mentioned=True, patient_content=False, categories=["fda_fair_balance"]
    )
    assert [(s.name, s.quorum, s.deciders) for s in stages] == [
        ("compliance", 1, []),
        ("legal", 2, []),
        ("medical", 2, ["mia", "max@test", "mo"]),
    ]
    schedule = policy.schedule(stages, datetime.now(UTC))
    assert schedule.approval_expiry_seconds == 30 * 86_400
    compliance = schedule.stages[0]
    assert (compliance.sla_seconds, compliance.reminder_seconds, compliance.escalates) == (
        86_400,
        [12 * 3600, 20 * 3600],
        True,
    )
    assert not schedule.stages[2].escalates


def test_all_of_the_named_people() -> None:
    document = sla_document()
    document["stages"]["medical"]["quorum"] = {"k": "all", "of": ["mia", "mo"]}
    assert parse_policy(document).policy.stages["medical"].needed == 2


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"sla": "tomorrow"}, "a duration is a positive number and a unit"),
        ({"sla": "0h"}, "a duration"),
        ({"sla": "24h", "reminders": ["20h", "12h"]}, "increasing order"),
        ({"sla": "24h", "reminders": ["12h", "12h"]}, "distinct"),
        ({"sla": "24h", "reminders": ["30h"]}, "before the sla"),
        ({"escalate_to": {"roles": ["compliance"]}}, "escalate_to needs an sla"),
        ({"sla": "24h", "escalate_to": {}}, "names no roles and no users"),
        ({"sla": "24h", "escalate_to": {"roles": ["boss"]}}, "unknown roles: boss"),
        ({"quorum": {"k": 3, "of": ["a", "b"]}}, "can never be reached"),
        ({"quorum": {"k": "all"}}, "needs the named people"),
        ({"quorum": {"k": 0}}, "at least 1"),
        ({"quorum": {"k": 1, "of": ["a", "a"]}}, "twice"),
        ({"quorum": "most"}, "quorum"),
        ({"deadline": "24h"}, "deadline"),
    ],
)
def test_invalid_review_sla_keys_are_refused_with_a_reason(stage: dict[str, Any], message: str) -> None:
    document = copy.deepcopy(default_document())
    document["stages"]["legal"].update(stage)
    with pytest.raises(PolicyError, match=message) as info:
        parse_policy(document, source="policy.yaml")
    assert "policy.yaml: stages.legal" in str(info.value)


def test_an_invalid_approval_expiry_is_refused() -> None:
    with pytest.raises(PolicyError, match="approval_expiry"):
        parse_policy({**default_document(), "approval_expiry": "soon"})


# --- the review service -------------------------------------------------------------------------


@dataclass
class Review:
    sessionmaker: async_sessionmaker[AsyncSession]
    policy: LoadedPolicy
    audit: RecordingAudit

    @property
    def activities(self) -> ReviewActivities:
        return ReviewActivities(self.sessionmaker, self.policy, FakeVersions(), signer=SIGNER)

    async def open(self, draft_id: str = "d-1", stages: list[str] | None = None) -> None:
        """Tasks of version 1, as the workflow opens them after this service screened it."""
        async with self.sessionmaker() as session, session.begin():
            session.add(
                Screening(
                    id=f"s-{draft_id}", draft_id=draft_id, version=1, content_hash="a" * 64,
                    policy_version=self.policy.version, categories=[], products=[], findings=[],
                    blocking=False, author_id=AUTHOR, created_at=datetime.now(UTC),
                )
            )  # fmt: skip
        names = stages or ["compliance", "medical"]
        await self.activities.open_review_tasks(
            OpenReviewTasksInput(
                draft_id, 1, "a" * 64, "whoever", self.policy.version,
                # What the workflow says counts for nothing: quorum and deciders come from the policy.
                [StageRequirement(n, list(self.policy.policy.stages[n].roles), quorum=1) for n in names],
                f"s-{draft_id}",
            )
        )  # fmt: skip

    async def tasks(self, draft_id: str = "d-1") -> dict[str, ReviewTask]:
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(select(ReviewTask).where(ReviewTask.draft_id == draft_id))
            ).scalars()
            return {t.stage: t for t in rows}

    async def queue(self, principal: Principal) -> dict[tuple[str, str], Any]:
        async with self.sessionmaker() as session:
            service = ReviewService(session, policy=self.policy, audit=self.audit)  # type: ignore[arg-type]
            return {(i.draft_id, i.stage): i for i in await service.queue(principal)}

    async def may_decide(self, principal: Principal, stage: str = "medical") -> ClearpostError | None:
        async with self.sessionmaker() as session:
            service = ReviewService(session, policy=self.policy, audit=self.audit)  # type: ignore[arg-type]
            try:
                await service.decidable_task("d-1", 1, AUTHOR, stage, principal)
            except ClearpostError as exc:
                return exc
        return None

    async def delegate(self, principal: Principal, delegate: str, **period: datetime) -> Any:
        now = datetime.now(UTC)
        data = DelegationIn(
            delegate=delegate,
            starts_at=period.get("starts_at", now - timedelta(hours=1)),
            ends_at=period.get("ends_at", now + timedelta(days=7)),
        )
        async with self.sessionmaker() as session, session.begin():
            return await DelegationService(session, audit=self.audit).create(data, principal)  # type: ignore[arg-type]


@pytest.fixture
async def review(database: DatabaseFactory) -> AsyncIterator[Review]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    yield Review(create_sessionmaker(engine), parse_policy(sla_document()), RecordingAudit())
    await engine.dispose()


MIA, MAX, MO = person("mia", "medical"), person("max", "medical"), person("mo", "medical")


async def test_tasks_take_quorum_deciders_and_due_time_from_the_policy(review: Review) -> None:
    await review.open()
    tasks = await review.tasks()
    medical, compliance = tasks["medical"], tasks["compliance"]
    assert (medical.quorum, medical.deciders) == (2, ["mia", "max@test", "mo"])
    assert medical.due_at == medical.opened_at + timedelta(hours=48)
    assert (compliance.quorum, compliance.deciders) == (1, [])
    queued = (await review.queue(person("cara", "compliance")))[("d-1", "compliance")]
    assert queued.due_at == compliance.due_at and not queued.overdue and not queued.escalated


async def test_a_named_stage_is_decided_by_its_named_people_only(review: Review) -> None:
    await review.open()
    assert await review.may_decide(MIA) is None
    assert await review.may_decide(MAX) is None  # named by username
    outsider = await review.may_decide(person("meg", "medical"))
    assert isinstance(outsider, Forbidden) and "mia, max@test, mo" in outsider.detail
    assert ("d-1", "medical") not in await review.queue(person("meg", "medical"))
    item = (await review.queue(MIA))[("d-1", "medical")]
    assert (item.approvals, item.quorum, item.on_behalf_of) == (0, 2, [])
    named_author = await review.may_decide(person(AUTHOR, "medical"))
    assert isinstance(named_author, Forbidden)


async def test_a_delegate_stands_in_for_an_absent_named_reviewer(review: Review) -> None:
    await review.open()
    meg = person("meg", "medical")
    created = await review.delegate(MIA, "meg")
    assert created.active and review.audit.actions() == ["review.delegation_created"]
    assert await review.may_decide(meg) is None
    assert (await review.queue(meg))[("d-1", "medical")].on_behalf_of == ["mia"]
    # The delegate still needs the stage's role, and may not be the draft's author.
    await review.delegate(MO, "lee")
    refused = await review.may_decide(person("lee", "legal"))
    assert isinstance(refused, Forbidden) and "decided by medical" in refused.detail
    await review.delegate(MAX, AUTHOR)
    assert isinstance(await review.may_decide(person(AUTHOR, "medical")), Forbidden)


async def test_a_delegation_out_of_its_period_or_cancelled_counts_for_nothing(review: Review) -> None:
    await review.open()
    meg = person("meg", "medical")
    now = datetime.now(UTC)
    await review.delegate(MIA, "meg", starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2))
    assert isinstance(await review.may_decide(meg), Forbidden)
    async with review.sessionmaker() as session, session.begin():
        service = DelegationService(session, audit=review.audit)  # type: ignore[arg-type]
        mine = await service.mine(MIA)
        assert [d.delegate for d in mine.given] == ["meg"] and mine.received == []
        with pytest.raises(NotFound):
            await service.cancel(mine.given[0].id, meg)  # only the delegator cancels
        cancelled = await service.cancel(mine.given[0].id, MIA)
    assert cancelled.cancelled_at is not None and not cancelled.active
    assert review.audit.actions()[-1] == "review.delegation_cancelled"


@pytest.mark.parametrize(
    ("delegate", "starts", "ends", "error"),
    [
        ("mia", -1, 24, Unprocessable),  # oneself
        ("mia@test", -1, 24, Unprocessable),  # oneself, by username
        ("meg", 24, 1, Conflict),  # ends before it starts
        ("meg", -48, -24, Conflict),  # already over
        ("meg", 0, 24 * 200, Conflict),  # too long
    ],
)
async def test_delegation_rules(review: Review, delegate: str, starts: int, ends: int, error: type) -> None:
    now = datetime.now(UTC)
    with pytest.raises(error):
        await review.delegate(
            MIA, delegate, starts_at=now + timedelta(hours=starts), ends_at=now + timedelta(hours=ends)
        )
    assert review.audit.actions() == []


async def test_overlapping_delegations_and_non_reviewers_are_refused(review: Review) -> None:
    now = datetime.now(UTC)
    await review.delegate(MIA, "meg", starts_at=now, ends_at=now + timedelta(days=5))
    with pytest.raises(Conflict):
        await review.delegate(MIA, "mo", starts_at=now + timedelta(days=4), ends_at=now + timedelta(days=9))
    await review.delegate(MIA, "mo", starts_at=now + timedelta(days=5), ends_at=now + timedelta(days=9))
    with pytest.raises(Forbidden):
        await review.delegate(person("pat", "publisher"), "meg")
    async with review.sessionmaker() as session:
        assert len((await session.execute(select(ReviewDelegation))).scalars().all()) == 2


async def test_a_notice_is_kept_once_with_recipients_from_this_services_policy(review: Review) -> None:
    await review.open()
    await review.delegate(MIA, "meg")
    due = "2026-12-03T10:00:00+00:00"
    reminder = NoticeDue("d-1", 1, "a" * 64, "medical", "reminder", 1, due)
    first = await review.activities.record_review_notice(reminder)
    again = await review.activities.record_review_notice(reminder)  # a retried activity
    assert again == first
    assert first.recipients == ["user:mia", "user:max@test", "user:mo", "user:meg"]
    escalation = await review.activities.record_review_notice(
        NoticeDue("d-1", 1, "a" * 64, "compliance", "escalation", 1, due)
    )
    assert escalation.recipients == ["role:admin", "user:chief@test"]
    expired = await review.activities.record_review_notice(
        NoticeDue("d-1", 1, "a" * 64, "", "expired", 1, due, reason="not complete within 30 days")
    )
    assert expired.recipients == [f"user:{AUTHOR}"]
    async with review.sessionmaker() as session:
        rows = (await session.execute(select(ReviewNotice))).scalars().all()
    assert sorted((r.stage, r.kind, r.n) for r in rows) == [
        ("", "expired", 1),
        ("compliance", "escalation", 1),
        ("compliance", "requested", 1),  # opening the tasks asked their deciders
        ("medical", "reminder", 1),
        ("medical", "requested", 1),
    ]
    assert all(r.delivered_at is None for r in rows)
    queued = (await review.queue(person("cara", "compliance")))[("d-1", "compliance")]
    assert queued.escalated


async def test_an_overdue_task_says_so_in_the_queue(review: Review) -> None:
    await review.open()
    async with review.sessionmaker() as session, session.begin():
        task = (
            await session.execute(select(ReviewTask).where(ReviewTask.stage == "compliance"))
        ).scalar_one()
        task.due_at = datetime.now(UTC) - timedelta(minutes=1)
    assert (await review.queue(person("cara", "compliance")))[("d-1", "compliance")].overdue


# --- claim expiry -------------------------------------------------------------------------------


async def test_a_claim_older_than_its_expiry_goes_back_to_the_queue_audited(review: Review) -> None:
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    audit = RecordingAudit()
    cara, cody = person("cara", "compliance"), person("cody", "compliance")

    def claims(session: AsyncSession) -> ClaimService:
        return ClaimService(
            UiRepository(session),
            idle=timedelta(minutes=30),
            expiry=timedelta(hours=8),
            audit=audit,  # type: ignore[arg-type]
        )

    async with review.sessionmaker() as session, session.begin():
        await claims(session).claim("d-1", "compliance", cara, t0)
    for minutes in range(20, 8 * 60, 20):  # busy all day: the idle lapse never comes
        async with review.sessionmaker() as session, session.begin():
            await claims(session).touch("d-1", cara, t0 + timedelta(minutes=minutes))
    async with review.sessionmaker() as session, session.begin():
        held = await claims(session).active_claims(["d-1"], t0 + timedelta(hours=7, minutes=59))
        assert held[("d-1", "compliance")].holder_id == "cara" and audit.actions() == []
    async with review.sessionmaker() as session, session.begin():
        assert await claims(session).active_claims(["d-1"], t0 + timedelta(hours=8)) == {}
    assert audit.actions() == ["review.claim_expired"]
    assert audit.events[0]["details"]["holder_id"] == "cara"
    async with review.sessionmaker() as session, session.begin():
        assert (await session.execute(select(TaskClaim))).scalars().all() == []
        claimed = await claims(session).claim("d-1", "compliance", cody, t0 + timedelta(hours=8, minutes=1))
    assert claimed.holder_id == "cody"


async def test_an_expired_claim_is_returned_when_someone_else_claims(review: Review) -> None:
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    audit = RecordingAudit()
    async with review.sessionmaker() as session, session.begin():
        service = ClaimService(
            UiRepository(session), idle=timedelta(days=1), expiry=timedelta(hours=1), audit=audit
        )  # type: ignore[arg-type]
        await service.claim("d-1", "legal", person("leo", "legal"), t0)
    async with review.sessionmaker() as session, session.begin():
        service = ClaimService(
            UiRepository(session), idle=timedelta(days=1), expiry=timedelta(hours=1), audit=audit
        )  # type: ignore[arg-type]
        with pytest.raises(Conflict):
            await service.claim("d-1", "legal", person("lou", "legal"), t0 + timedelta(minutes=59))
    async with review.sessionmaker() as session, session.begin():
        service = ClaimService(
            UiRepository(session), idle=timedelta(days=1), expiry=timedelta(hours=1), audit=audit
        )  # type: ignore[arg-type]
        claimed = await service.claim("d-1", "legal", person("lou", "legal"), t0 + timedelta(hours=1))
    assert claimed.holder_id == "lou" and audit.actions() == ["review.claim_expired"]


async def test_the_queue_puts_the_soonest_due_first_then_tasks_without_an_sla_oldest_first(
    review: Review,
) -> None:
    for draft in ("d-1", "d-2", "d-3"):
        await review.open(draft, stages=["compliance"])
    now = datetime.now(UTC)
    async with review.sessionmaker() as session, session.begin():
        tasks = {t.draft_id: t for t in (await session.execute(select(ReviewTask))).scalars()}
        tasks["d-1"].due_at = None  # no SLA: after every task that has one
        tasks["d-2"].due_at = now + timedelta(hours=5)
        tasks["d-3"].due_at = now - timedelta(hours=1)  # overdue: first

    queue = await review.queue(person("cara", "compliance"))

    assert [draft for draft, _ in queue] == ["d-3", "d-2", "d-1"]
