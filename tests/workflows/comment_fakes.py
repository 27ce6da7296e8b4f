"""Stand-ins for the publisher's and review service's comment activities, under the real names and
task queues, with the real workflow worker (tests/workflows/fakes.py's pattern)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.case_clocks import plan_clocks
from workflows.comment_contracts import (
    INGEST_COMMENTS,
    OPEN_AE_CASE,
    RECORD_CASE_CLOCK,
    RECORD_COMMENT_SCREENING,
    SCREEN_COMMENT,
    AeCaseInput,
    AeCasePlan,
    CaseClockEvent,
    CommentIngestInput,
    CommentIngestResult,
    CommentScreeningRecord,
    CommentScreeningResult,
    ScreenCommentInput,
    UnscreenedComment,
)
from workflows.contracts import PUBLISHER_TASK_QUEUE, REVIEW_TASK_QUEUE
from workflows.worker import build_worker

HISTORIES = Path(__file__).parent / "histories"


@dataclass
class FakeCommentServices:
    # What the network has, by comment id: its screening categories (the fake screener's answer).
    network: dict[str, list[str]] = field(default_factory=dict)
    screened: dict[str, list[str]] = field(default_factory=dict)
    polls: int = 0
    # Poll numbers (1-based) answered with a rate limit until this long after "now".
    limited_polls: dict[int, timedelta] = field(default_factory=dict)
    poll_times: list[datetime] = field(default_factory=list)
    cases: dict[str, AeCasePlan] = field(default_factory=dict)
    clock_events: list[tuple[str, str]] = field(default_factory=list)
    # Fails the screening record this many times (a crash after the case opened).
    record_failures: int = 0

    @activity.defn(name=INGEST_COMMENTS)
    async def ingest(self, request: CommentIngestInput) -> CommentIngestResult:
        self.polls += 1
        now = activity.info().current_attempt_scheduled_time
        self.poll_times.append(now)
        limited = self.limited_polls.get(self.polls)
        if limited is not None:
            return CommentIngestResult([], retry_at=(now + limited).isoformat())
        unscreened = [c for c in self.network if c not in self.screened]
        return CommentIngestResult([UnscreenedComment(c, "facebook", now.isoformat()) for c in unscreened])

    @activity.defn(name=SCREEN_COMMENT)
    async def screen(self, request: ScreenCommentInput) -> CommentScreeningResult:
        return CommentScreeningResult(
            request.comment_id, f"s-{request.comment_id}", self.network[request.comment_id]
        )

    @activity.defn(name=RECORD_COMMENT_SCREENING)
    async def record(self, record: CommentScreeningRecord) -> None:
        if self.record_failures > 0:
            self.record_failures -= 1
            raise RuntimeError("publisher database went away")
        self.screened[record.comment_id] = record.categories

    @activity.defn(name=OPEN_AE_CASE)
    async def open_case(self, case: AeCaseInput) -> AeCasePlan:
        if case.comment_id not in self.cases:
            clocks = plan_clocks(
                datetime.fromisoformat(case.read_at),
                handoff=timedelta(hours=24),
                handoff_reminder_before=timedelta(hours=4),
                regulatory_deadline=timedelta(days=15),
                regulatory_reminder_before=timedelta(days=3),
            )
            self.cases[case.comment_id] = AeCasePlan(f"case-{case.comment_id}", "open", clocks)
        return self.cases[case.comment_id]

    @activity.defn(name=RECORD_CASE_CLOCK)
    async def clock(self, event: CaseClockEvent) -> None:
        self.clock_events.append((event.clock, event.kind))


@contextlib.asynccontextmanager
async def running_comment_fakes(client: Client, fakes: FakeCommentServices) -> AsyncIterator[None]:
    async with (
        build_worker(client),
        Worker(client, task_queue=PUBLISHER_TASK_QUEUE, activities=[fakes.ingest, fakes.record]),
        Worker(client, task_queue=REVIEW_TASK_QUEUE, activities=[fakes.screen, fakes.open_case, fakes.clock]),
    ):
        yield


async def record_history(client: Client, workflow_id: str, name: str, *, run_id: str | None = None) -> None:
    """With CLEARPOST_RECORD_HISTORIES=1, save this run's history as a replay fixture."""
    if os.environ.get("CLEARPOST_RECORD_HISTORIES") == "1":
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


@contextlib.asynccontextmanager
async def own_time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of its own: listeners and cases a test leaves behind (a continued-as-new
    run, an abandoned child) never reach another test's workers."""
    from tests.conftest import venv_binary

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server")
    )
    try:
        yield env
    finally:
        await env.shutdown()
