"""Stand-ins for the services' activities, registered under the real names and task queues."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from workflows.contracts import (
    APPEND_AUDIT_EVENT,
    AUDIT_TASK_QUEUE,
    CLOSE_REVIEW_TASKS,
    DRAFTS_TASK_QUEUE,
    OPEN_REVIEW_TASKS,
    PLAN_REVIEW_STAGES,
    PUBLISH_POST,
    PUBLISHER_TASK_QUEUE,
    RECORD_DECISION,
    REVIEW_TASK_QUEUE,
    SCREEN_DRAFT_VERSION,
    UPDATE_DRAFT_STATE,
    WORKFLOW_TASK_QUEUE,
    AuditEventInput,
    AuditEventRecorded,
    CloseReviewTasksInput,
    DecisionRecord,
    DraftStateUpdate,
    OpenReviewTasksInput,
    PlanStagesInput,
    PublicationRef,
    PublishRequest,
    PublishResult,
    ScreenVersionInput,
    ScreenVersionResult,
    StagePlan,
    StageRequirement,
)
from workflows.post_approval import PostApprovalWorkflow

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

    @activity.defn(name=PLAN_REVIEW_STAGES)
    async def plan(self, request: PlanStagesInput) -> StagePlan:
        return StagePlan("policy-test", list(self.stages))

    @activity.defn(name=OPEN_REVIEW_TASKS)
    async def open_tasks(self, request: OpenReviewTasksInput) -> None:
        self.opened.append(request)

    @activity.defn(name=CLOSE_REVIEW_TASKS)
    async def close_tasks(self, request: CloseReviewTasksInput) -> None:
        self.closed.append(request)

    @activity.defn(name=RECORD_DECISION)
    async def record_decision(self, record: DecisionRecord) -> None:
        self.decisions.append(record)

    @activity.defn(name=UPDATE_DRAFT_STATE)
    async def update_state(self, update: DraftStateUpdate) -> bool:
        self.states.append(update)
        return True

    @activity.defn(name=PUBLISH_POST)
    async def publish(self, request: PublishRequest) -> PublishResult:
        self.published.append(request)
        return PublishResult(
            [PublicationRef(c, f"pub-{len(self.published)}-{c}", "published") for c in request.channels]
        )

    @activity.defn(name=APPEND_AUDIT_EVENT)
    async def append_audit(self, event: AuditEventInput) -> AuditEventRecorded:
        self.audit.append(event)
        return AuditEventRecorded(len(self.audit), f"{len(self.audit):064d}")


@contextlib.asynccontextmanager
async def running_fakes(client: Client, fakes: FakeServices) -> AsyncIterator[None]:
    """One worker per task queue, as in production, plus the real workflow worker."""
    queues = {
        REVIEW_TASK_QUEUE: [
            fakes.screen,
            fakes.plan,
            fakes.open_tasks,
            fakes.close_tasks,
            fakes.record_decision,
        ],
        DRAFTS_TASK_QUEUE: [fakes.update_state],
        PUBLISHER_TASK_QUEUE: [fakes.publish],
        AUDIT_TASK_QUEUE: [fakes.append_audit],
    }
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(client, task_queue=WORKFLOW_TASK_QUEUE, workflows=[PostApprovalWorkflow])
        )
        for queue, activities in queues.items():
            await stack.enter_async_context(Worker(client, task_queue=queue, activities=activities))
        yield
