"""A service's activity worker, stopped while an activity runs, lets it finish (services/kit/temporal.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.kit.temporal import running_worker

started = asyncio.Event()
release = asyncio.Event()


@activity.defn(name="slow_step")
async def slow_step(value: str) -> str:
    started.set()
    await release.wait()
    return value.upper()


@workflow.defn(name="ShutdownProbe")
class ShutdownProbe:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            "slow_step", value, task_queue="shutdown-activities", start_to_close_timeout=timedelta(seconds=60)
        )


async def test_running_activity_finishes_during_graceful_shutdown(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    client = time_skipping_env.client
    # The probe lives in a test module full of non-workflow imports; it needs no sandbox.
    async with Worker(
        client,
        task_queue="shutdown-workflows",
        workflows=[ShutdownProbe],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            ShutdownProbe.run, "done", id=f"probe-{uuid.uuid4()}", task_queue="shutdown-workflows"
        )
        stopping: asyncio.Task[None] | None = None
        async with running_worker(client, "shutdown-activities", [slow_step]) as worker:
            await started.wait()

            async def stop() -> None:
                await worker.shutdown()

            stopping = asyncio.create_task(stop())
            await asyncio.sleep(0)  # shutdown has begun while the activity still runs
            release.set()
        await stopping
        assert await handle.result() == "DONE"
