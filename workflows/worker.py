"""The workflow worker: runs PostApprovalWorkflow on the workflows task queue."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from services.kit.settings import KitSettings
from services.kit.temporal import connect
from workflows.contracts import WORKFLOW_TASK_QUEUE
from workflows.post_approval import PostApprovalWorkflow

WORKFLOWS = [PostApprovalWorkflow]


def build_worker(client: Client, task_queue: str = WORKFLOW_TASK_QUEUE) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS)


async def main() -> None:
    logging.basicConfig(level=logging.INFO)
    client = await connect(KitSettings())
    await build_worker(client).run()


if __name__ == "__main__":
    asyncio.run(main())
