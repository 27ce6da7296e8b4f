"""The review service's activities: screen a version, plan its stages, keep review tasks and decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.auth import KeySet, StaticKeySet
from services.kit.canonical import version_hash
from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.review.channels_client import ChannelStates
from services.review.drafts_client import VersionSource
from services.review.feedback import refresh_allow_list
from services.review.metrics import REVIEW_TASK_SECONDS, SCREENING_SECONDS
from services.review.models import ReviewDecision, ReviewNotice, ReviewTask, Screening
from services.review.policy import LoadedPolicy
from services.review.renditions import rendition_findings
from services.review.repository import ReviewRepository
from services.review.screening.engine import Screener
from services.review.screening.findings import ScreeningOutcome, media_consent_findings
from services.review.signing import ReviewSigner
from workflows.contracts import (
    CLOSE_REVIEW_TASKS,
    OPEN_REVIEW_TASKS,
    PLAN_REVIEW_STAGES,
    RECORD_DECISION,
    RECORD_REVIEW_NOTICE,
    SCREEN_DRAFT_VERSION,
    CloseReviewTasksInput,
    DecisionRecord,
    NoticeDue,
    NoticeRecorded,
    OpenReviewTasksInput,
    PlanStagesInput,
    ScreenVersionInput,
    ScreenVersionResult,
    StagePlan,
)

# Notices about the whole draft, for its author.
AUTHOR_KINDS = ("expired", "approved", "published", "taken_down")


class ReviewActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: LoadedPolicy,
        versions: VersionSource,
        *,
        signer: ReviewSigner,
        screener: Screener | None = None,
        published_keys: KeySet | None = None,
        channels: ChannelStates | None = None,
    ) -> None:
        self._channels = channels
        self._sessionmaker = sessionmaker
        self._policy = policy
        self._screener = screener or Screener(policy)
        self._versions = versions
        self._signer = signer
        # The keys the plan hands the workflow: the ring as its files say now (a revoked key drops out).
        self._published = published_keys or StaticKeySet(signer.public_keys)

    @activity.defn(name=SCREEN_DRAFT_VERSION)
    async def screen_draft_version(self, request: ScreenVersionInput) -> ScreenVersionResult:
        content = await self._versions.get_version(request.draft_id, request.version)
        recomputed = version_hash(content)
        if recomputed != request.content_hash or content["content_hash"] != request.content_hash:
            raise ApplicationError(
                "the stored version does not match the submitted content hash",
                type="ContentMismatch",
                non_retryable=True,
            )
        async with session_scope(self._sessionmaker) as session:
            # The allow-list entries compliance approved, whichever process approved them.
            await refresh_allow_list(ReviewRepository(session), self._screener)
        with SCREENING_SECONDS.labels("workflow").time():
            outcome = self._screener.screen(
                f"{content['title']}\n{content['body']}",
                # The drafts service owns the flag; the workflow's copy may only add to it.
                patient_content=bool(content.get("patient_content")) or request.patient_content,
                # The drafts service says whether a consent the version relies on is active; older
                # answers only named one consent.
                consent_on_file=bool(content.get("consent_on_file", content.get("consent_id") is not None)),
                kind="post",
            )
        if self._channels is not None:
            # What each network shows before "more" is screened as well (services/review/renditions.py).
            renditions = await self._channels.renditions([str(c) for c in content["channels"]])
            folded = rendition_findings(
                self._screener,
                title=content["title"],
                body=content["body"],
                renditions=renditions,
                whole=outcome.findings,
                patient_content=bool(content.get("patient_content")) or request.patient_content,
                consent_on_file=bool(content.get("consent_on_file", content.get("consent_id") is not None)),
            )
            if folded:
                outcome = ScreeningOutcome(
                    findings=sorted([*outcome.findings, *folded], key=lambda f: (f.start, f.end, f.category)),
                    products=outcome.products,
                    drugs=outcome.drugs,
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
            created_at=utcnow(),
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
        """Sign the stages this version needs, from facts read where they are owned.

        The author and the patient-content flag come from the drafts service, the categories,
        products and blocking findings from this service's own screening of exactly this version;
        the request only says which draft, version and screening to look at. Whoever can start a
        workflow therefore cannot name another author or fewer stages.
        """
        content = await self._versions.get_version(request.draft_id, request.version)
        if content["content_hash"] != request.content_hash:
            raise ApplicationError(
                "the stored version does not match the content hash to plan for",
                type="ContentMismatch",
                non_retryable=True,
            )
        async with session_scope(self._sessionmaker) as session:
            repo = ReviewRepository(session)
            screening = await repo.screening(request.screening_id) if request.screening_id else None
            if screening is None or (screening.draft_id, screening.version, screening.content_hash) != (
                request.draft_id,
                request.version,
                request.content_hash,
            ):
                raise ApplicationError(
                    f"screening {request.screening_id!r} is not this service's screening of draft "
                    f"{request.draft_id} v{request.version}",
                    type="ContentMismatch",
                    non_retryable=True,
                )
            blocking = await repo.unresolved_blocking(screening.id)
            categories, products = list(screening.categories), list(screening.products)
        patient_content = bool(content.get("patient_content")) or request.patient_content
        channels = [str(c) for c in content.get("channels", [])]
        stages = self._policy.required_stages(
            product_mentioned=bool(products),
            patient_content=patient_content,
            categories=categories,
            products=products,
            channels=channels,
        )
        lifetime = self._policy.lifetime(
            products=products, patient_content=patient_content, categories=categories, channels=channels
        )
        requirement = self._signer.requirement(
            draft_id=request.draft_id,
            version=request.version,
            content_hash=request.content_hash,
            author_id=str(content["author_id"]),
            policy_version=self._policy.version,
            stages=stages,
            blocking_unresolved=blocking,
            signed_at=utcnow(),
            categories=categories,
            lifetime=lifetime,
        )
        return StagePlan(
            policy_version=self._policy.version,
            stages=stages,
            requirement=requirement,
            signing_keys=await self._published.keys(),
            # The round's timers, from this service's policy: the workflow takes them from here.
            schedule=self._policy.schedule(stages, utcnow()),
            # The drafts service's fact: an approved crisis template is recorded, not published.
            purpose=str(content.get("purpose") or "post"),
        )

    @activity.defn(name=OPEN_REVIEW_TASKS)
    async def open_review_tasks(self, request: OpenReviewTasksInput) -> None:
        async with session_scope(self._sessionmaker) as session:
            repo = ReviewRepository(session)
            # The author a task names is the one this service's screening read from the drafts
            # service, not the workflow's say-so.
            screening = await repo.screening(request.screening_id) if request.screening_id else None
            author_id = screening.author_id if screening is not None and screening.author_id else None
            opened: list[ReviewTask] = []
            for stage in request.stages:
                existing = await repo.task(request.draft_id, request.version, stage.name)
                if existing is not None:
                    if request.reopen and existing.status != "open":
                        # An approval was voided (its reviewer was offboarded): back in the queue.
                        existing.status, existing.closed_at = "open", None
                        opened.append(existing)
                    continue  # a retried activity opens nothing twice
                if author_id is None:
                    raise ApplicationError(
                        f"no screening of draft {request.draft_id} v{request.version} names its author; "
                        "review tasks open only for a version this service screened",
                        type="NotFound",
                        non_retryable=True,
                    )
                # Quorum, named deciders and SLA are this service's policy, not the request's.
                policy = self._policy.policy.stages.get(stage.name)
                opened_at = utcnow()
                task = ReviewTask(
                    id=str(uuid.uuid4()),
                    draft_id=request.draft_id,
                    version=request.version,
                    content_hash=request.content_hash,
                    stage=stage.name,
                    roles=list(stage.roles),
                    author_id=author_id,
                    policy_version=request.policy_version,
                    screening_id=request.screening_id,
                    status="open",
                    opened_at=opened_at,
                    quorum=policy.needed if policy else 1,
                    deciders=policy.deciders if policy else [],
                    due_at=self._policy.due_at(stage.name, opened_at) if policy else None,
                )
                repo.add(task)
                opened.append(task)
            for task in opened:
                # review.requested: the stage's deciders are told a task waits for them.
                await self._outbox(
                    repo, task.draft_id, task.version, task.content_hash, task.stage, "requested",
                    await self._waiting_for(repo, task), due_at=task.due_at or task.opened_at,
                )  # fmt: skip

    @activity.defn(name=CLOSE_REVIEW_TASKS)
    async def close_review_tasks(self, request: CloseReviewTasksInput) -> None:
        async with session_scope(self._sessionmaker) as session:
            await ReviewRepository(session).close_tasks(
                request.draft_id, request.version, request.stages, utcnow()
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
            if task is not None and record.decision == "request_changes":
                # draft.changes_requested: the author is told (the reason stays in the review UI).
                await self._outbox(
                    repo, record.draft_id, record.version, record.content_hash, record.stage,
                    "changes_requested", [f"user:{task.author_id}"],
                    due_at=datetime.fromisoformat(record.decided_at),
                )  # fmt: skip
            if task is not None and task.status == "open":
                task.status = "decided"
                task.closed_at = utcnow()
                REVIEW_TASK_SECONDS.labels(record.stage, record.decision).observe(
                    (task.closed_at - task.opened_at).total_seconds()
                )

    @activity.defn(name=RECORD_REVIEW_NOTICE)
    async def record_review_notice(self, notice: NoticeDue) -> NoticeRecorded:
        """Keep a reminder, escalation or expired review in the outbox, once per key. Whom it is for
        is read here, from this service's policy, tasks, decisions and delegations."""
        key = f"{notice.draft_id}:{notice.version}:{notice.stage}:{notice.kind}:{notice.n}"
        async with session_scope(self._sessionmaker) as session:
            repo = ReviewRepository(session)
            existing = await repo.notice(key)
            if existing is not None:
                return NoticeRecorded(existing.id, list(existing.recipients))
            recipients = await self._recipients(repo, notice)
            row = ReviewNotice(
                id=str(uuid.uuid4()),
                key=key,
                draft_id=notice.draft_id,
                version=notice.version,
                content_hash=notice.content_hash,
                stage=notice.stage,
                kind=notice.kind,
                n=notice.n,
                recipients=recipients,
                reason=notice.reason,
                due_at=datetime.fromisoformat(notice.due_at),
                created_at=utcnow(),
            )
            repo.add(row)
        return NoticeRecorded(row.id, recipients)

    async def _recipients(self, repo: ReviewRepository, notice: NoticeDue) -> list[str]:
        if notice.kind in AUTHOR_KINDS:
            # The author as this service's tasks name them (from its own screening), not the caller;
            # a takedown names no version (0): the draft's tasks of any version.
            tasks = (
                await repo.tasks_for_version(notice.draft_id, notice.version)
                if notice.version
                else await repo.tasks_for_draft(notice.draft_id)
            )
            return sorted({f"user:{t.author_id}" for t in tasks})
        stage = self._policy.policy.stages.get(notice.stage)
        if notice.kind == "escalation":
            escalation = stage.escalate_to if stage else None
            if escalation is None:
                return []
            return [f"role:{r}" for r in escalation.roles] + [f"user:{u}" for u in escalation.users]
        task = await repo.task(notice.draft_id, notice.version, notice.stage)
        if task is None:
            return []
        return await self._waiting_for(repo, task)

    async def _waiting_for(self, repo: ReviewRepository, task: ReviewTask) -> list[str]:
        """Who the task waits for: its roles' holders, or its named people not yet approved."""
        if not task.deciders:
            return [f"role:{r}" for r in task.roles]
        approved = {d.decider_id for d in await repo.approvals_of(task.draft_id, task.version, task.stage)}
        waiting = [name for name in task.deciders if name not in approved]
        # Someone away is reminded through their delegate as well.
        delegates = [d.delegate for d in await repo.delegations_active(utcnow()) if d.names() & set(waiting)]
        return [f"user:{name}" for name in [*waiting, *delegates]]

    async def _outbox(
        self,
        repo: ReviewRepository,
        draft_id: str,
        version: int,
        content_hash: str,
        stage: str,
        kind: str,
        recipients: list[str],
        *,
        due_at: datetime,
    ) -> None:
        """A notice this service raises itself (a task opened, changes requested), numbered after
        the earlier ones of its kind for the stage (a stage reopened asks again); once per call."""
        n = 1 + await repo.notice_count(draft_id, version, stage, kind)
        repo.add(
            ReviewNotice(
                id=str(uuid.uuid4()), key=f"{draft_id}:{version}:{stage}:{kind}:{n}", draft_id=draft_id,
                version=version, content_hash=content_hash, stage=stage, kind=kind, n=n,
                recipients=recipients, reason="", due_at=due_at, created_at=utcnow(),
            )
        )  # fmt: skip
        await repo.flush()

    @property
    def all(self) -> list[Any]:
        return [
            self.screen_draft_version,
            self.plan_review_stages,
            self.open_review_tasks,
            self.close_review_tasks,
            self.record_decision,
            self.record_review_notice,
        ]
