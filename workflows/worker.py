"""The workflow worker: runs PostApprovalWorkflow, LivePostWorkflow, CrisisPostWorkflow,
CrisisTemplatePostWorkflow, CommentIngestWorkflow and AdverseEventCaseWorkflow on the workflows
task queue."""

from __future__ import annotations

import asyncio
import logging
import signal

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from services.kit.ops_listener import ops_listener, workflow_worker_ops_app
from services.kit.settings import KitSettings
from services.kit.telemetry import setup_tracing, shutdown_tracing
from services.kit.temporal import connect
from workflows.ae_case import AdverseEventCaseWorkflow
from workflows.comment_ingest import CommentIngestWorkflow
from workflows.contracts import WORKFLOW_TASK_QUEUE
from workflows.crisis_post import CrisisPostWorkflow
from workflows.crisis_template_post import CrisisTemplatePostWorkflow
from workflows.live_post import LivePostWorkflow
from workflows.post_approval import PostApprovalWorkflow

WORKFLOWS = [
    PostApprovalWorkflow,
    LivePostWorkflow,
    CrisisPostWorkflow,
    CrisisTemplatePostWorkflow,
    CommentIngestWorkflow,
    AdverseEventCaseWorkflow,
]
# Signature checks run in the decide validator: their crypto libraries load once, outside the
# sandbox (they hold native code and no workflow state).
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "jose", "cryptography", "rfc8785", "ecdsa"
    )
)
log = logging.getLogger("clearpost.workflows")


def build_worker(client: Client, task_queue: str = WORKFLOW_TASK_QUEUE) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=WORKFLOW_RUNNER)


async def main() -> None:
    setup_tracing("workflows")
    settings = KitSettings()
    client = await connect(settings)
    worker = build_worker(client)
    ops = workflow_worker_ops_app(settings, client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with worker, ops_listener(ops, settings.bind_host or "127.0.0.1", settings.worker_health_port):
        log.info("workflow worker running", extra={"task_queue": WORKFLOW_TASK_QUEUE})
        await stop.wait()
        log.info("workflow worker stopping")
    shutdown_tracing()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
