"""The review service's activities (screen, plan, open, decide, close) and the reviewer's queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.kit.canonical import content_hash
from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import Principal
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import ReviewDecision, ReviewTask, Screening
from services.review.policy import LoadedPolicy, load_policy_file
from services.review.repository import ReviewRepository
from services.review.service import ReviewService
from tests.database import DatabaseFactory, DatabaseTarget
from tests.unit.review_fixtures import SIGNER, FakeVersions
from workflows.contracts import (
    CloseReviewTasksInput,
    DecisionRecord,
    OpenReviewTasksInput,
    PlanStagesInput,
    ScreenVersionInput,
    StageRequirement,
)
from workflows.signatures import read_requirement

AUTHOR = "author-1"
COMPLIANCE_AND_LEGAL = [StageRequirement("compliance", ["compliance"]), StageRequirement("legal", ["legal"])]


def version_content(
    draft_id: str = "d-1",
    version: int = 1,
    *,
    title: str = "Heart health month",
    body: str = "Cardiozen helps your heart. Questions? Text my cell, 555-123-4567.",
    consent_id: str | None = None,
) -> dict[str, Any]:
    """What the drafts service's internal version route answers."""
    channels = ["sandbox"]
    return {
        "draft_id": draft_id,
        "version": version,
        "title": title,
        "body": body,
        "channels": channels,
        "patient_content": False,
        "consent_id": consent_id,
        "media_digests": [],
        "content_hash": content_hash(title=title, body=body, channels=channels, media_digests=[]),
        "author_id": AUTHOR,
    }


@dataclass
class Review:
    sessionmaker: async_sessionmaker[AsyncSession]
    policy: LoadedPolicy
    versions: FakeVersions
    target: DatabaseTarget

    @property
    def activities(self) -> ReviewActivities:
        return ReviewActivities(self.sessionmaker, self.policy, self.versions, signer=SIGNER)

    async def all(self, model: type[Any]) -> list[Any]:
        async with self.sessionmaker() as session:
            return list((await session.execute(select(model))).scalars().all())

    async def screened(
        self,
        draft_id: str = "d-1",
        *,
        author_id: str = AUTHOR,
        content_hash: str = "a" * 64,
        categories: list[str] | None = None,
        products: list[str] | None = None,
    ) -> str:
        """A screening of version 1 stored as screen_draft_version would (its id)."""
        screening_id = f"s-{draft_id}-{author_id}-{content_hash[:8]}"
        async with self.sessionmaker() as session, session.begin():
            if await session.get(Screening, screening_id) is None:
                session.add(
                    Screening(
                        id=screening_id,
                        draft_id=draft_id,
                        version=1,
                        content_hash=content_hash,
                        policy_version=self.policy.version,
                        categories=categories or [],
                        products=products or [],
                        findings=[],
                        blocking=False,
                        author_id=author_id,
                        created_at=datetime.now(UTC),
                    )
                )
        return screening_id

    async def open(self, draft_id: str = "d-1", author_id: str = AUTHOR, **overrides: Any) -> str:
        """Open tasks for a version this service screened (as the workflow does); the screening id."""
        screening_id = overrides.pop("screening_id", None) or await self.screened(
            draft_id, author_id=author_id
        )
        await self.activities.open_review_tasks(
            open_request(draft_id, screening_id=screening_id, **overrides)
        )
        return screening_id

    async def tasks(self, draft_id: str = "d-1") -> dict[str, ReviewTask]:
        return {t.stage: t for t in await self.all(ReviewTask) if t.draft_id == draft_id}

    async def queue(self, principal: Principal, stage: str | None = None) -> list[tuple[str, str]]:
        """(draft, stage) of each task the queue shows this person, sorted."""
        async with self.sessionmaker() as session:
            service = ReviewService(session, policy=self.policy, audit=None)  # type: ignore[arg-type]
            items = await service.queue(principal, stage=stage)
        return sorted((item.draft_id, item.stage) for item in items)


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy_file(DEFAULT_POLICY_FILE)


@pytest.fixture
async def review(database: DatabaseFactory, policy: LoadedPolicy) -> AsyncIterator[Review]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    yield Review(create_sessionmaker(engine), policy, FakeVersions(version_content()), target)
    await engine.dispose()


def screen_request(content: dict[str, Any], **overrides: Any) -> ScreenVersionInput:
    fields = {
        "draft_id": content["draft_id"],
        "version": content["version"],
        "content_hash": content["content_hash"],
        "patient_content": False,
    }
    fields.update(overrides)
    return ScreenVersionInput(**fields)


def open_request(draft_id: str = "d-1", **overrides: Any) -> OpenReviewTasksInput:
    fields: dict[str, Any] = {
        "draft_id": draft_id,
        "version": 1,
        "content_hash": "a" * 64,
        # What the workflow says; tasks take the author from this service's own screening.
        "author_id": "whoever-the-workflow-names",
        "policy_version": "policy-test",
        "stages": COMPLIANCE_AND_LEGAL,
    }
    fields.update(overrides)
    return OpenReviewTasksInput(**fields)


def decision(
    stage: str = "compliance", *, decider_id: str = "reviewer-1", **overrides: Any
) -> DecisionRecord:
    fields: dict[str, Any] = {
        "decision_id": f"decision-{stage}-{decider_id}",
        "draft_id": "d-1",
        "version": 1,
        "content_hash": "a" * 64,
        "stage": stage,
        "decision": "approve",
        "reason": "fine",
        "decider_id": decider_id,
        "decider_name": "Casey Compliance",
        "decider_roles": [stage],
        "decided_at": "2026-11-23T10:00:00+00:00",
        "policy_version": "policy-test",
    }
    fields.update(overrides)
    return DecisionRecord(**fields)


def person(user_id: str, *roles: str) -> Principal:
    return Principal(user_id=user_id, username=f"{user_id}@test", name=user_id, roles=frozenset(roles))


# --- screening ---------------------------------------------------------------------------------


async def test_screening_a_version_stores_what_it_found(review: Review) -> None:
    content = version_content()

    result = await ActivityEnvironment().run(review.activities.screen_draft_version, screen_request(content))

    assert (result.categories, result.products) == (["fda_fair_balance", "phi"], ["Cardiozen"])
    assert result.blocking and result.finding_count == 2
    [stored] = await review.all(Screening)
    assert stored.id == result.screening_id
    assert (stored.draft_id, stored.version, stored.content_hash) == ("d-1", 1, content["content_hash"])
    assert stored.policy_version == review.policy.version
    assert (stored.categories, stored.products, stored.blocking) == (result.categories, ["Cardiozen"], True)
    assert sorted(f["rule"] for f in stored.findings) == ["fair_balance.no_risk_information", "phi.phone"]


async def test_consent_on_file_is_read_from_the_version(review: Review) -> None:
    content = version_content(body="A patient story about flu shots.", consent_id="consent-9")
    review.versions.versions[("d-1", 1)] = content

    result = await review.activities.screen_draft_version(screen_request(content, patient_content=True))

    assert (result.categories, result.blocking) == ([], False)


@pytest.mark.parametrize("tampered", ["request_hash", "stored_text"])
async def test_screening_refuses_content_that_does_not_match_the_hash(review: Review, tampered: str) -> None:
    content = version_content()
    request = screen_request(content)
    if tampered == "request_hash":
        request = screen_request(content, content_hash="0" * 64)
    else:
        # The drafts service answers with the submitted hash but different text.
        review.versions.versions[("d-1", 1)] = {**content, "body": "Cardiozen cures everything."}

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(review.activities.screen_draft_version, request)

    assert (refused.value.type, refused.value.non_retryable) == ("ContentMismatch", True)
    assert await review.all(Screening) == []


# --- planning ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "stages"),
    [
        ({}, ["compliance"]),
        ({"products": ["Cardiozen"]}, ["compliance", "legal"]),
        ({"patient_content": True}, ["compliance", "legal"]),
        ({"categories": ["phi"]}, ["compliance"]),
        ({"categories": ["fda_unapproved_claim"]}, ["compliance", "legal", "medical"]),
        ({"products": ["Lunara"], "categories": ["fda_fair_balance"]}, ["compliance", "legal", "medical"]),
    ],
)
async def test_planning_follows_the_default_policy(
    review: Review, facts: dict[str, Any], stages: list[str]
) -> None:
    content = version_content()
    review.versions.versions[("d-1", 1)] = {**content, "patient_content": facts.get("patient_content", False)}
    screening_id = await review.screened(
        content_hash=content["content_hash"],
        categories=facts.get("categories", []),
        products=facts.get("products", []),
    )
    # The request's own facts are ignored: they come from the drafts service and the screening.
    request = PlanStagesInput(
        draft_id="d-1",
        version=1,
        content_hash=content["content_hash"],
        patient_content=False,
        categories=[],
        products=[],
        screening_id=screening_id,
    )

    plan = await ActivityEnvironment().run(review.activities.plan_review_stages, request)

    assert plan.policy_version == review.policy.version
    assert [(s.name, s.roles, s.parallel) for s in plan.stages] == [(name, [name], True) for name in stages]
    signed = read_requirement(plan.requirement, plan.signing_keys)
    assert [s.name for s in signed.stages] == stages
    assert (signed.draft_id, signed.content_hash, signed.blocking_unresolved) == (
        "d-1",
        content["content_hash"],
        0,
    )
    assert signed.categories == tuple(sorted(facts.get("categories", []))) and signed.signed_at


async def test_planning_signs_the_drafts_services_author_not_the_workflows(review: Review) -> None:
    """Attack: a Temporal client starts the workflow naming someone else as the author."""
    content = version_content()
    screening_id = await review.screened(content_hash=content["content_hash"], products=["Cardiozen"])
    forged = PlanStagesInput(
        "d-1", 1, content["content_hash"], False, [], [], author_id="mallory", screening_id=screening_id
    )

    plan = await ActivityEnvironment().run(review.activities.plan_review_stages, forged)

    assert read_requirement(plan.requirement, plan.signing_keys).author_id == AUTHOR
    # Fewer categories or products in the request do not drop a stage either.
    assert [s.name for s in plan.stages] == ["compliance", "legal"]


@pytest.mark.parametrize("wrong", ["other_draft", "other_hash", "unknown"])
async def test_planning_refuses_a_screening_of_other_content(review: Review, wrong: str) -> None:
    content = version_content()
    other = version_content("d-2")
    review.versions.versions[("d-2", 1)] = other
    screening_id = {
        "other_draft": await review.screened("d-2", content_hash=other["content_hash"]),
        "other_hash": await review.screened(content_hash="b" * 64),
        "unknown": "no-such-screening",
    }[wrong]
    request = PlanStagesInput("d-1", 1, content["content_hash"], False, [], [], screening_id=screening_id)

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(review.activities.plan_review_stages, request)

    assert (refused.value.type, refused.value.non_retryable) == ("ContentMismatch", True)


async def test_tasks_name_the_screenings_author_not_the_workflows(review: Review) -> None:
    await review.open(author_id=AUTHOR)

    assert {t.author_id for t in (await review.tasks()).values()} == {AUTHOR}
    with pytest.raises(ApplicationError, match="no screening"):
        await review.activities.open_review_tasks(open_request("d-3", screening_id=""))


# --- tasks and decisions -----------------------------------------------------------------------


async def test_opening_twice_opens_each_stage_once(review: Review) -> None:
    screening_id = await review.open()
    first = await review.tasks()
    await review.open(screening_id=screening_id)

    tasks = await review.tasks()
    assert len(await review.all(ReviewTask)) == 2
    assert {stage: t.id for stage, t in tasks.items()} == {stage: t.id for stage, t in first.items()}
    compliance = tasks["compliance"]
    assert (compliance.status, compliance.roles, compliance.author_id) == ("open", ["compliance"], AUTHOR)
    assert (compliance.policy_version, compliance.screening_id, compliance.closed_at) == (
        "policy-test",
        screening_id,
        None,
    )


async def test_recording_a_decision_twice_records_it_once(review: Review) -> None:
    await review.open()

    await review.activities.record_decision(decision("compliance"))
    await review.activities.record_decision(decision("compliance"))

    [stored] = await review.all(ReviewDecision)
    assert (stored.id, stored.stage, stored.decision, stored.decider_id) == (
        "decision-compliance-reviewer-1",
        "compliance",
        "approve",
        "reviewer-1",
    )
    assert stored.decider_roles == ["compliance"]
    tasks = await review.tasks()
    assert tasks["compliance"].status == "decided" and tasks["compliance"].closed_at is not None
    assert tasks["legal"].status == "open"


async def test_closing_closes_the_tasks_still_open(review: Review) -> None:
    await review.open(stages=[*COMPLIANCE_AND_LEGAL, StageRequirement("medical", ["medical"])])
    await review.open(draft_id="d-2")
    await review.activities.record_decision(decision("compliance"))

    await review.activities.close_review_tasks(CloseReviewTasksInput("d-1", 1, stages=["legal"]))
    after_one = {stage: t.status for stage, t in (await review.tasks()).items()}
    await review.activities.close_review_tasks(CloseReviewTasksInput("d-1", 1))

    assert after_one == {"compliance": "decided", "legal": "closed", "medical": "open"}
    tasks = await review.tasks()
    assert {stage: t.status for stage, t in tasks.items()} == {
        "compliance": "decided",
        "legal": "closed",
        "medical": "closed",
    }
    assert all(t.closed_at is not None for t in tasks.values())
    assert {t.status for t in (await review.tasks("d-2")).values()} == {"open"}


async def test_a_retry_racing_the_original_decision_records_it_once(
    review: Review, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers (own engines) run the same record_decision; both look before either inserts.
    await review.open()
    other_engine = create_engine(review.target.url, schema=review.target.schema)
    looked = asyncio.Barrier(2)
    lookups = 0
    real_decision = ReviewRepository.decision

    async def look_together(self: ReviewRepository, decision_id: str) -> ReviewDecision | None:
        nonlocal lookups
        found = await real_decision(self, decision_id)
        lookups += 1
        if lookups <= 2:
            await looked.wait()
        return found

    monkeypatch.setattr(ReviewRepository, "decision", look_together)
    other = ReviewActivities(create_sessionmaker(other_engine), review.policy, review.versions, signer=SIGNER)
    try:
        outcomes = await asyncio.gather(
            review.activities.record_decision(decision("compliance")),
            other.record_decision(decision("compliance")),
            return_exceptions=True,
        )
        # The loser fails on the primary key (retryable); Temporal's retry then finds the decision.
        [lost] = [o for o in outcomes if isinstance(o, BaseException)]
        assert isinstance(lost, IntegrityError)
        await other.record_decision(decision("compliance"))
    finally:
        await other_engine.dispose()

    async with review.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ReviewDecision)) == 1
    assert (await review.tasks())["compliance"].status == "decided"


# --- the queue ---------------------------------------------------------------------------------


async def test_the_queue_shows_a_task_to_holders_of_its_role(review: Review) -> None:
    await review.open("d-1", author_id=AUTHOR)
    await review.open("d-2", author_id="author-2")

    assert await review.queue(person("c-1", "compliance")) == [("d-1", "compliance"), ("d-2", "compliance")]
    assert await review.queue(person("l-1", "legal")) == [("d-1", "legal"), ("d-2", "legal")]
    assert await review.queue(person("m-1", "medical")) == []
    assert await review.queue(person("p-1", "publisher", "admin", "author")) == []
    assert await review.queue(person("d-9", "legal", "compliance"), stage="legal") == [
        ("d-1", "legal"),
        ("d-2", "legal"),
    ]


async def test_the_queue_never_shows_authors_their_own_drafts(review: Review) -> None:
    await review.open("d-1", author_id=AUTHOR)
    await review.open("d-2", author_id="author-2")

    assert await review.queue(person(AUTHOR, "author", "compliance")) == [("d-2", "compliance")]


async def test_the_queue_hides_other_stages_of_a_draft_the_reviewer_decided(review: Review) -> None:
    await review.open("d-1")
    await review.open("d-2", author_id="author-2")
    dual = person("dual-1", "compliance", "legal")
    assert await review.queue(dual) == [
        ("d-1", "compliance"),
        ("d-1", "legal"),
        ("d-2", "compliance"),
        ("d-2", "legal"),
    ]

    await review.activities.record_decision(decision("compliance", decider_id="dual-1"))

    # d-1's compliance task is decided; its legal stage needs a second person.
    assert await review.queue(dual) == [("d-2", "compliance"), ("d-2", "legal")]
    assert await review.queue(person("l-1", "legal")) == [("d-1", "legal"), ("d-2", "legal")]


async def test_the_queue_carries_the_screening_summary(review: Review) -> None:
    screened = await review.activities.screen_draft_version(screen_request(version_content()))
    await review.open(screening_id=screened.screening_id)

    async with review.sessionmaker() as session:
        service = ReviewService(session, policy=review.policy, audit=None)  # type: ignore[arg-type]
        [item] = await service.queue(person("c-1", "compliance"))

    assert (item.draft_id, item.stage, item.author_id) == ("d-1", "compliance", AUTHOR)
    assert item.roles == ["compliance"]
    assert (item.finding_count, item.categories) == (2, ["fda_fair_balance", "phi"])
