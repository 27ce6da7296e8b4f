"""The review service's activities: screen a version, plan its stages, keep review tasks and decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.canonical import content_hash
from services.kit.db import session_scope
from services.kit.errors import ClearpostError
from services.kit.http import internal_json
from services.review.models import ReviewDecision, ReviewTask, Screening
from services.review.policy import LoadedPolicy
from services.review.repository import ReviewRepository
from services.review.screening.engine import Screener
from services.review.screening.findings import ScreeningOutcome, media_consent_findings
from services.review.service import now
from services.review.signing import ReviewSigner
from workflows.contracts import (
    CLOSE_REVIEW_TASKS,
    OPEN_REVIEW_TASKS,
    PLAN_REVIEW_STAGES,
    RECORD_DECISION,
    SCREEN_DRAFT_VERSION,
    CloseReviewTasksInput,
    DecisionRecord,
    OpenReviewTasksInput,
    PlanStagesInput,
    ScreenVersionInput,
    ScreenVersionResult,
    StagePlan,
)


class VersionSource(Protocol):
    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]: ...


class DraftsVersionSource:
    """Reads one exact version from the drafts service's internal API (text never enters Temporal)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/versions/{version}"
        try:
            content: dict[str, Any] = await internal_json(self._http, "GET", path)
        except ClearpostError as exc:
            if exc.status_code == 404:
                raise ApplicationError(exc.detail, type="NotFound", non_retryable=True) from exc
            raise
        return content


class ReviewActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: LoadedPolicy,
        versions: VersionSource,
        *,
        signer: ReviewSigner,
        screener: Screener | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._policy = policy
        self._screener = screener or Screener(policy)
        self._versions = versions
        self._signer = signer

    @activity.defn(name=SCREEN_DRAFT_VERSION)
    async def screen_draft_version(self, request: ScreenVersionInput) -> ScreenVersionResult:
        content = await self._versions.get_version(request.draft_id, request.version)
        recomputed = content_hash(
            title=content["title"],
            body=content["body"],
            channels=content["channels"],
            media_digests=content["media_digests"],
        )
        if recomputed != request.content_hash or content["content_hash"] != request.content_hash:
            raise ApplicationError(
                "the stored version does not match the submitted content hash",
                type="ContentMismatch",
                non_retryable=True,
            )
        outcome = self._screener.screen(
            f"{content['title']}\n{content['body']}",
            patient_content=request.patient_content,
            # The drafts service says whether a consent the version relies on is active; older
            # answers only named one consent.
            consent_on_file=bool(content.get("consent_on_file", content.get("consent_id") is not None)),
            kind="post",
        )
        text_categories = outcome.categories
        # Each image that shows a patient without a valid consent is a finding of its own.
        media = media_consent_findings(
            content.get("media_consent", []),
            severity=self._policy.policy.screening.severity("consent_missing"),
        )
        if media:
            outcome = ScreeningOutcome(
                findings=[*outcome.findings, *media], products=outcome.products, drugs=outcome.drugs
            )
        screening = Screening(
            id=str(uuid.uuid4()),
            draft_id=request.draft_id,
            version=request.version,
            content_hash=request.content_hash,
            policy_version=self._policy.version,
            categories=outcome.categories,
            products=outcome.products,
            findings=[f.as_dict() for f in outcome.findings],
            blocking=outcome.blocking,
            author_id=content.get("author_id"),
            created_at=now(),
        )
        async with session_scope(self._sessionmaker) as session:
            ReviewRepository(session).add(screening)
        return ScreenVersionResult(
            screening_id=screening.id,
            categories=text_categories,
            products=outcome.products,
            finding_count=len(outcome.findings),
            blocking=outcome.blocking,
        )

    @activity.defn(name=PLAN_REVIEW_STAGES)
    async def plan_review_stages(self, request: PlanStagesInput) -> StagePlan:
        stages = self._policy.required_stages(
            product_mentioned=bool(request.products),
            patient_content=request.patient_content,
            categories=request.categories,
        )
        async with session_scope(self._sessionmaker) as session:
            blocking = await ReviewRepository(session).unresolved_blocking(request.screening_id)
        requirement = self._signer.requirement(
            draft_id=request.draft_id,
            version=request.version,
            content_hash=request.content_hash,
            author_id=request.author_id,
            policy_version=self._policy.version,
            stages=stages,
            blocking_unresolved=blocking,
        )
        return StagePlan(
            policy_version=self._policy.version,
            stages=stages,
            requirement=requirement,
            signing_keys=self._signer.public_keys,
        )

    @activity.defn(name=OPEN_REVIEW_TASKS)
    async def open_review_tasks(self, request: OpenReviewTasksInput) -> None:
        async with session_scope(self._sessionmaker) as session:
            repo = ReviewRepository(session)
            for stage in request.stages:
                existing = await repo.task(request.draft_id, request.version, stage.name)
                if existing is not None:
                    if request.reopen and existing.status != "open":
                        # An approval was voided (its reviewer was offboarded): back in the queue.
                        existing.status, existing.closed_at = "open", None
                    continue  # a retried activity opens nothing twice
                repo.add(
                    ReviewTask(
                        id=str(uuid.uuid4()),
                        draft_id=request.draft_id,
                        version=request.version,
                        content_hash=request.content_hash,
                        stage=stage.name,
                        roles=list(stage.roles),
                        author_id=request.author_id,
                        policy_version=request.policy_version,
                        screening_id=request.screening_id,
                        status="open",
                        opened_at=now(),
                    )
                )

    @activity.defn(name=CLOSE_REVIEW_TASKS)
    async def close_review_tasks(self, request: CloseReviewTasksInput) -> None:
        async with session_scope(self._sessionmaker) as session:
            await ReviewRepository(session).close_tasks(
                request.draft_id, request.version, request.stages, now()
            )

    @activity.defn(name=RECORD_DECISION)
    async def record_decision(self, record: DecisionRecord) -> None:
        async with session_scope(self._sessionmaker) as session:
            repo = ReviewRepository(session)
            if await repo.decision(record.decision_id) is not None:
                return
            repo.add(
                ReviewDecision(
                    id=record.decision_id,
                    draft_id=record.draft_id,
                    version=record.version,
                    content_hash=record.content_hash,
                    stage=record.stage,
                    decision=record.decision,
                    reason=record.reason,
                    decider_id=record.decider_id,
                    decider_name=record.decider_name,
                    decider_roles=list(record.decider_roles),
                    policy_version=record.policy_version,
                    decided_at=datetime.fromisoformat(record.decided_at),
                )
            )
            task = await repo.task(record.draft_id, record.version, record.stage)
            if task is not None and task.status == "open":
                task.status = "decided"
                task.closed_at = now()

    @property
    def all(self) -> list[Any]:
        return [
            self.screen_draft_version,
            self.plan_review_stages,
            self.open_review_tasks,
            self.close_review_tasks,
            self.record_decision,
        ]
