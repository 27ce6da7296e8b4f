"""The yardstick: a Temporal workflow of the approval pipeline's shape with no-op activities.

Same shape as a post through PostApprovalWorkflow with two stages (compliance, legal): started
with a start signal, 9 activities up to `in_review` (audit and projection of `screening`,
screening, its audit, consent, plan, open tasks, audit and projection of `in_review`), two
updates that each run 3 activities (record, audit, projection), then 7 more (close tasks, audit
and projection of `approved`, consent, publish, audit and projection of `published`): 22
activities and 2 updates, on the same dev server as the system, driven at the same concurrency
and polled at the same interval (a query instead of `GET /drafts/{id}`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from services.load.driver import POLL_SECONDS, percentile

TASK_QUEUE = "clearpost-bare-bench"
BEFORE_REVIEW = 9
PER_UPDATE = 3
AFTER_REVIEW = 7
UPDATES = 2


@activity.defn(name="bare_noop")
async def noop(step: str) -> None:
    return None


@workflow.defn(name="BarePipelineWorkflow")
class BarePipelineWorkflow:
    def __init__(self) -> None:
        self._submitted = False
        self._approved = 0
        self._status = "draft"

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._submitted)
        for step in range(BEFORE_REVIEW):
            await self._step(f"before-{step}")
        self._status = "in_review"
        await workflow.wait_condition(lambda: self._approved >= UPDATES and workflow.all_handlers_finished())
        for step in range(AFTER_REVIEW):
            await self._step(f"after-{step}")
        self._status = "published"
        return self._status

    async def _step(self, step: str) -> None:
        await workflow.execute_activity(
            noop, step, task_queue=TASK_QUEUE, start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.signal(name="submit")
    def submit(self) -> None:
        self._submitted = True

    @workflow.query(name="status")
    def status(self) -> str:
        return self._status

    @workflow.update(name="approve")
    async def approve(self) -> str:
        for step in range(PER_UPDATE):
            await self._step(f"update-{step}")
        self._approved += 1
        return self._status

    @approve.validator
    def _check(self) -> None:
        if self._status != "in_review":
            raise ValueError(f"not in review: {self._status}")


@dataclass
class BareResult:
    seconds: list[float]
    updates: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def posts_per_second(self) -> float:
        return len(self.seconds) / self.wall_seconds

    def latency(self, q: float) -> float:
        return percentile(self.seconds, q)

    def update(self, q: float) -> float:
        return percentile(self.updates, q)


async def _one(client: Client, updates: list[float]) -> float:
    started = time.monotonic()
    handle = await client.start_workflow(
        BarePipelineWorkflow.run,
        id=f"bare-{uuid.uuid4().hex}",
        task_queue=TASK_QUEUE,
        start_signal="submit",
    )
    while await handle.query(BarePipelineWorkflow.status) != "in_review":  # noqa: ASYNC110 - polled like the API
        await asyncio.sleep(POLL_SECONDS)
    for _ in range(UPDATES):
        sent = time.monotonic()
        await handle.execute_update("approve", result_type=str)
        updates.append(time.monotonic() - sent)
    await handle.result()
    return time.monotonic() - started


async def run_bare(address: str, *, posts: int, in_flight: int) -> BareResult:
    """`posts` bare workflows, at most `in_flight` at a time, with their own worker in this process."""
    client = await Client.connect(address)
    result = BareResult(seconds=[])
    gate = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with gate:
            result.seconds.append(await _one(client, result.updates))

    async with Worker(client, task_queue=TASK_QUEUE, workflows=[BarePipelineWorkflow], activities=[noop]):
        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(posts)))
        result.wall_seconds = time.monotonic() - started
    return result
