"""Stand-ins for the services' activities, registered under the real names and task queues."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from services.kit.tokens import DECISION_TYPE, REQUIREMENT_TYPE, load_or_create_signing_key, sign_record
from workflows.contracts import (
    APPEND_AUDIT_EVENT,
    AUDIT_TASK_QUEUE,
    CHECK_CONSENT,
    CLOSE_REVIEW_TASKS,
    DRAFTS_TASK_QUEUE,
    LIVE_POST_PLAN,
    OPEN_REVIEW_TASKS,
    PLAN_REVIEW_STAGES,
    PUBLISH_POST,
    PUBLISHER_TASK_QUEUE,
    PUBLISHING_PAUSED,
    RECORD_DECISION,
    RECORD_REVIEW_NOTICE,
    REVIEW_TASK_QUEUE,
    SCREEN_DRAFT_VERSION,
    TAKE_DOWN_POST,
    TAKEDOWN_FAILED,
    UPDATE_DRAFT_STATE,
    WORKFLOW_TASK_QUEUE,
    AuditEventInput,
    AuditEventRecorded,
    CloseReviewTasksInput,
    ConsentCheckInput,
    ConsentCheckResult,
    DecisionRecord,
    DraftStateUpdate,
    LivePostInput,
    LivePostPlan,
    NoticeDue,
    NoticeRecorded,
    OpenReviewTasksInput,
    PlanStagesInput,
    PublicationRef,
    PublishRequest,
    PublishResult,
    ReviewSchedule,
    ScreenVersionInput,
    ScreenVersionResult,
    StagePlan,
    StageRequirement,
    TakedownInput,
    TakedownResult,
)
from workflows.crisis_template_contracts import (
    RECORD_TEMPLATE_APPROVAL,
    TemplateApprovalInput,
    TemplateApproved,
)
from workflows.signatures import MEANINGS, Requirement, SignedStage, requirement_claims
from workflows.worker import WORKFLOW_RUNNER, WORKFLOWS, build_worker

# The fake review service's signing key (the real one lives under var/keys/ of the review service).
REVIEW_KEY = load_or_create_signing_key(Path(tempfile.mkdtemp()) / "review-signing.pem")
AUTHOR = "user-author"


def sign_decision(
    *, draft_id: str, version: int, content_hash: str, stage: str, decision: str, reason: str, signer_id: str,
    signer_roles: list[str], signed_at: datetime, key: object = None,
) -> str:  # fmt: skip
    claims = {
        "type": "decision", "draft_id": draft_id, "version": version, "content_hash": content_hash,
        "stage": stage, "decision": decision, "meaning": MEANINGS[decision], "signer_id": signer_id,
        "signer_name": signer_id.title(), "signer_roles": sorted(signer_roles), "signer_active": True,
        "signed_at": signed_at.isoformat(), "reason": reason,
    }  # fmt: skip
    return sign_record(key or REVIEW_KEY, claims, typ=DECISION_TYPE)  # type: ignore[arg-type]


DEFAULT_STAGES = [
    StageRequirement("compliance", ["compliance"]),
    StageRequirement("legal", ["legal"]),
]


@dataclass
class FakeServices:
    stages: list[StageRequirement] = field(default_factory=lambda: list(DEFAULT_STAGES))
    audit: list[AuditEventInput] = field(default_factory=list)
    states: list[DraftStateUpdate] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    published: list[PublishRequest] = field(default_factory=list)
    screened: list[ScreenVersionInput] = field(default_factory=list)
    opened: list[OpenReviewTasksInput] = field(default_factory=list)
    closed: list[CloseReviewTasksInput] = field(default_factory=list)
    blocking: int = 0
    consent_ok: bool = True
    consent_checks: list[ConsentCheckInput] = field(default_factory=list)
    channel_down: bool = False  # every publish attempt fails for now, as a channel that is down
    publish_attempts: int = 0
    paused: bool = False  # the publisher answers PublishingPaused, as while a pause covers a channel
    # The publisher's live-post record (LIVE_POST_PLAN) and what the takedown activities were asked.
    live_plan: LivePostPlan = field(default_factory=lambda: LivePostPlan(None, "pull", "live"))
    takedowns: list[TakedownInput] = field(default_factory=list)
    takedown_failures: list[TakedownInput] = field(default_factory=list)
    takedown_down: bool = False  # every takedown attempt fails for now, as a network that is down
    # The review policy's timers for each round (None: a plan from before review SLAs), and every
    # notice the outbox was asked to keep, retries included (`notice_keys` as the outbox keys them).
    schedule: ReviewSchedule | None = None
    notices: list[NoticeDue] = field(default_factory=list)
    # What the drafts service says the draft is for, as the plan reports it; the template approvals
    # the review service was asked to record, and whether it refuses them.
    purpose: str = "post"
    template_approvals: list[TemplateApprovalInput] = field(default_factory=list)
    refuse_template: bool = False

    @property
    def actions(self) -> list[str]:
        return [e.action for e in self.audit]

    @property
    def latest_state(self) -> DraftStateUpdate:
        return max(self.states, key=lambda s: s.revision)

    @activity.defn(name=SCREEN_DRAFT_VERSION)
    async def screen(self, request: ScreenVersionInput) -> ScreenVersionResult:
        self.screened.append(request)
        return ScreenVersionResult(f"screening-{len(self.screened)}", [], ["Cardiozen"], 0, False)

    def requirement(self, request: PlanStagesInput, blocking: int) -> str:
        requirement = Requirement(
            draft_id=request.draft_id,
            version=request.version,
            content_hash=request.content_hash,
            author_id=AUTHOR,
            policy_version="policy-test",
            stages=tuple(SignedStage(s.name, tuple(s.roles), s.quorum) for s in self.stages),
            blocking_unresolved=blocking,
        )
        return sign_record(REVIEW_KEY, requirement_claims(requirement), typ=REQUIREMENT_TYPE)

    @activity.defn(name=PLAN_REVIEW_STAGES)
    async def plan(self, request: PlanStagesInput) -> StagePlan:
        self.last_plan = request
        return StagePlan(
            "policy-test",
            list(self.stages),
            requirement=self.requirement(request, self.blocking),
            signing_keys={REVIEW_KEY.kid: REVIEW_KEY.public_jwk},
            schedule=self.schedule,
            purpose=self.purpose,
        )

    @activity.defn(name=RECORD_TEMPLATE_APPROVAL)
    async def record_template_approval(self, request: TemplateApprovalInput) -> TemplateApproved:
        self.template_approvals.append(request)
        if self.refuse_template:
            raise ApplicationError(
                "the template's approvals do not hold: legal: no signed approval",
                type="ApprovalRefused",
                non_retryable=True,
            )
        return TemplateApproved(request.draft_id, request.version)

    @activity.defn(name=OPEN_REVIEW_TASKS)
    async def open_tasks(self, request: OpenReviewTasksInput) -> None:
        self.opened.append(request)

    @activity.defn(name=CLOSE_REVIEW_TASKS)
    async def close_tasks(self, request: CloseReviewTasksInput) -> None:
        self.closed.append(request)

    @activity.defn(name=RECORD_DECISION)
    async def record_decision(self, record: DecisionRecord) -> None:
        self.decisions.append(record)

    @activity.defn(name=RECORD_REVIEW_NOTICE)
    async def record_notice(self, notice: NoticeDue) -> NoticeRecorded:
        self.notices.append(notice)
        key = (notice.draft_id, notice.version, notice.stage, notice.kind, notice.n)
        return NoticeRecorded(notice_id="notice-" + "-".join(map(str, key)), recipients=["someone"])

    @property
    def notice_keys(self) -> list[tuple[str, str, int]]:
        return [(n.stage, n.kind, n.n) for n in self.notices]

    @activity.defn(name=CHECK_CONSENT)
    async def check_consent(self, request: ConsentCheckInput) -> ConsentCheckResult:
        self.consent_checks.append(request)
        reasons = [] if self.consent_ok else ["consent c-1 has expired"]
        return ConsentCheckResult(self.consent_ok, request.patient_content, reasons, ["c-1"])

    @activity.defn(name=UPDATE_DRAFT_STATE)
    async def update_state(self, update: DraftStateUpdate) -> bool:
        self.states.append(update)
        return True

    @activity.defn(name=PUBLISH_POST)
    async def publish(self, request: PublishRequest) -> PublishResult:
        self.publish_attempts += 1
        if self.paused:
            raise ApplicationError(
                "all publishing is paused: crisis", type=PUBLISHING_PAUSED, non_retryable=True
            )
        if self.channel_down:
            raise ApplicationError("webhook: the receiver did not answer", type="ChannelUnavailable")
        self.published.append(request)
        return PublishResult(
            [PublicationRef(c, f"pub-{len(self.published)}-{c}", "published") for c in request.channels]
        )

    @activity.defn(name=LIVE_POST_PLAN)
    async def live_post_plan(self, request: LivePostInput) -> LivePostPlan:
        return self.live_plan

    @activity.defn(name=TAKE_DOWN_POST)
    async def take_down(self, order: TakedownInput) -> TakedownResult:
        self.takedowns.append(order)
        if self.takedown_down:
            raise ApplicationError("mastodon: HTTP 503", type="TakedownIncomplete")
        return TakedownResult(status="taken_down", removed=["sandbox"])

    @activity.defn(name=TAKEDOWN_FAILED)
    async def takedown_failed(self, order: TakedownInput) -> TakedownResult:
        self.takedown_failures.append(order)
        return TakedownResult(status="takedown_failed", failed=[order.reason])

    @activity.defn(name=APPEND_AUDIT_EVENT)
    async def append_audit(self, event: AuditEventInput) -> AuditEventRecorded:
        self.audit.append(event)
        return AuditEventRecorded(len(self.audit), f"{len(self.audit):064d}")


@contextlib.asynccontextmanager
async def running_fakes(client: Client, fakes: FakeServices, *, cached: bool = True) -> AsyncIterator[None]:
    """One worker per task queue, as in production, plus the real workflow worker.

    `cached=False`: the workflow worker keeps no workflow in memory, so every workflow task replays
    the history from the start, as after a restart (and no sticky queue outlives the worker)."""
    queues = {
        REVIEW_TASK_QUEUE: [
            fakes.screen,
            fakes.plan,
            fakes.open_tasks,
            fakes.close_tasks,
            fakes.record_decision,
            fakes.record_notice,
            fakes.record_template_approval,
        ],
        DRAFTS_TASK_QUEUE: [fakes.update_state, fakes.check_consent],
        PUBLISHER_TASK_QUEUE: [fakes.publish, fakes.live_post_plan, fakes.take_down, fakes.takedown_failed],
        AUDIT_TASK_QUEUE: [fakes.append_audit],
    }
    async with contextlib.AsyncExitStack() as stack:
        if cached:
            await stack.enter_async_context(build_worker(client))
        else:
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=WORKFLOW_TASK_QUEUE,
                    workflows=WORKFLOWS,
                    workflow_runner=WORKFLOW_RUNNER,
                    max_cached_workflows=0,
                )
            )
        for queue, activities in queues.items():
            await stack.enter_async_context(Worker(client, task_queue=queue, activities=activities))
        yield
