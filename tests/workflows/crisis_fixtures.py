"""Fake review and publisher activities for CrisisPostWorkflow, and its signed records."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from services.kit.tokens import SigningKey, sign_record
from tests.workflows.fakes import REVIEW_KEY
from workflows.contracts import PUBLISHER_TASK_QUEUE, REVIEW_TASK_QUEUE, WORKFLOW_TASK_QUEUE
from workflows.crisis_contracts import (
    CRISIS_AFTER_REVIEW_STATE,
    CRISIS_POST_WORKFLOW,
    OPEN_CRISIS_AFTER_REVIEW,
    PUBLISH_CRISIS_POST,
    RECORD_CRISIS_STEP,
    TAKE_DOWN_CRISIS_POST,
    AfterReviewState,
    CrisisPostInput,
    CrisisPostResult,
    CrisisPublishRequest,
    CrisisRef,
    CrisisStep,
    CrisisTakedown,
    CrisisTakedownAccepted,
    crisis_workflow_id,
)
from workflows.crisis_signatures import (
    CRISIS_APPROVAL_TYPE,
    CRISIS_MEANING,
    CRISIS_START_TYPE,
    CrisisApproval,
    CrisisStart,
    approval_claims,
    start_claims,
)
from workflows.worker import build_worker

HISTORIES = Path(__file__).parent / "histories"
KEYS = {REVIEW_KEY.kid: REVIEW_KEY.public_jwk}
STARTER = "cris"
AUTHOR = "avery"
HASH = "c" * 64


def crisis_start(started_at: datetime, **changes: object) -> CrisisStart:
    start = CrisisStart(
        crisis_id=str(uuid.uuid4()),
        draft_id=str(uuid.uuid4()),
        version=1,
        content_hash=HASH,
        channels=("mastodon",),
        author_id=AUTHOR,
        starter_id=STARTER,
        starter_name="Cris Crisis",
        starter_roles=("crisis",),
        reason="boil-water notice for the east campus",
        started_at=started_at.isoformat(),
        window_seconds=1800,
        approvers=2,
        after_review_seconds=86_400,
        categories=(),
    )
    return replace(start, **changes)  # type: ignore[arg-type]


def sign_start(start: CrisisStart, key: SigningKey = REVIEW_KEY) -> str:
    return sign_record(key, start_claims(start), typ=CRISIS_START_TYPE)


def sign_approval(
    start: CrisisStart,
    signer: str,
    signed_at: datetime,
    *,
    roles: tuple[str, ...] = ("crisis",),
    key: SigningKey = REVIEW_KEY,
    **changes: object,
) -> str:
    approval = CrisisApproval(
        crisis_id=start.crisis_id,
        draft_id=start.draft_id,
        version=start.version,
        content_hash=start.content_hash,
        meaning=CRISIS_MEANING,
        signer_id=signer,
        signer_name=signer.title(),
        signer_roles=roles,
        signer_active=True,
        signed_at=signed_at.isoformat(),
    )
    return sign_record(key, approval_claims(replace(approval, **changes)), typ=CRISIS_APPROVAL_TYPE)  # type: ignore[arg-type]


@dataclass
class FakeCrisisServices:
    # What the after-review reports, one answer per poll; the last repeats.
    after_review: list[str] = field(default_factory=lambda: ["in_review"])
    refuse_publish: str = ""
    steps: list[CrisisStep] = field(default_factory=list)
    published: list[CrisisPublishRequest] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    takedowns: list[CrisisTakedown] = field(default_factory=list)
    polls: int = 0

    @property
    def step_names(self) -> list[str]:
        return [s.step for s in self.steps]

    @activity.defn(name=RECORD_CRISIS_STEP)
    async def record_step(self, step: CrisisStep) -> None:
        self.steps.append(step)

    @activity.defn(name=OPEN_CRISIS_AFTER_REVIEW)
    async def open_after_review(self, ref: CrisisRef) -> None:
        self.opened.append(ref.crisis_id)

    @activity.defn(name=CRISIS_AFTER_REVIEW_STATE)
    async def after_review_state(self, ref: CrisisRef) -> AfterReviewState:
        status = self.after_review[min(self.polls, len(self.after_review) - 1)]
        self.polls += 1
        return AfterReviewState(status, "a reviewer said no" if status == "rejected" else "")

    @activity.defn(name=PUBLISH_CRISIS_POST)
    async def publish(self, request: CrisisPublishRequest) -> None:
        from temporalio.exceptions import ApplicationError

        if self.refuse_publish:
            raise ApplicationError(self.refuse_publish, type="ApprovalRefused", non_retryable=True)
        self.published.append(request)

    @activity.defn(name=TAKE_DOWN_CRISIS_POST)
    async def take_down(self, order: CrisisTakedown) -> CrisisTakedownAccepted:
        self.takedowns.append(order)
        return CrisisTakedownAccepted(f"takedown-{len(self.takedowns)}", "requested")


@contextlib.asynccontextmanager
async def running_crisis_fakes(client: Client, fakes: FakeCrisisServices) -> AsyncIterator[None]:
    async with (
        build_worker(client),
        Worker(
            client,
            task_queue=REVIEW_TASK_QUEUE,
            activities=[fakes.record_step, fakes.open_after_review, fakes.after_review_state],
        ),
        Worker(client, task_queue=PUBLISHER_TASK_QUEUE, activities=[fakes.publish, fakes.take_down]),
    ):
        yield


async def start_crisis(
    client: Client, start: CrisisStart, *, poll_seconds: int = 600
) -> WorkflowHandle[object, CrisisPostResult]:
    return await client.start_workflow(
        CRISIS_POST_WORKFLOW,
        CrisisPostInput(start.crisis_id, sign_start(start), KEYS, poll_seconds=poll_seconds),
        id=crisis_workflow_id(start.crisis_id),
        task_queue=WORKFLOW_TASK_QUEUE,
        result_type=CrisisPostResult,
        execution_timeout=timedelta(days=3),
    )


async def record_crisis_history(handle: WorkflowHandle[object, CrisisPostResult], name: str) -> None:
    """With CLEARPOST_RECORD_HISTORIES=1, save this run's history as a replay fixture."""
    if os.environ.get("CLEARPOST_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())
