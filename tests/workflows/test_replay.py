"""Saved histories of every workflow path replay against today's code; a broken one must fail.

Regenerate after an intended, versioned change with
`CLEARPOST_RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows/test_post_approval.py`
(see docs/workflow-changes.md: old histories are kept when running workflows may still use them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import WorkflowHistory
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workflows.worker import WORKFLOW_RUNNER, WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
CURRENT = ["approve", "request_changes", "reject", "withdraw", "scheduled"]
# Review SLAs, expiry and quorums (workflow.patched("review-sla-2026-12")).
REVIEW_SLA = ["reminders_escalation", "review_expired", "quorum"]
# Recorded before that patch: rounds opened then keep one approval per stage and no timers.
BEFORE_REVIEW_SLA = [f"{name}-before-review-sla" for name in CURRENT]
# Recorded before workflow.patched("notify-post-events-2026-12"): a draft approved or published
# then tells its author nothing (the paths that reach an approval).
BEFORE_NOTIFY = [
    f"{name}-before-notify"
    for name in ["approve", "request_changes", "scheduled", "reminders_escalation", "quorum"]
]
# LivePostWorkflow: a takedown, today and before the author was told of it.
LIVE_POST = ["live_post_takedown", "live_post_takedown-before-notify"]
# CrisisPostWorkflow (docs/crisis-lane.md): the window expiring, the after-review keeping the post,
# the after-review rejecting it (taken down).
CRISIS = ["crisis-expired", "crisis-kept", "crisis-rejected"]
# Listening after posting (#20): a CommentIngestWorkflow run that opened a case and continued as
# new, and an AdverseEventCaseWorkflow with its reminders, a hand-off and the close.
COMMENTS = ["comment_ingest", "ae_case"]
# Crisis templates (workflow.patched("crisis-templates-2026-12")): a template's approved review
# recorded, not published; one CrisisTemplatePostWorkflow run that published.
TEMPLATES = ["template_approved", "crisis-template-post"]
PATHS = CURRENT + REVIEW_SLA + BEFORE_REVIEW_SLA + BEFORE_NOTIFY + LIVE_POST + CRISIS + COMMENTS + TEMPLATES


def load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"draft-{name}", (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", PATHS)
async def test_saved_history_replays(name: str) -> None:
    await Replayer(workflows=WORKFLOWS, workflow_runner=WORKFLOW_RUNNER).replay_workflow(load(name))


async def test_a_history_the_code_no_longer_matches_fails() -> None:
    document = json.loads((HISTORIES / "approve.json").read_text())
    scheduled = next(e for e in document["events"] if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "screen_with_a_new_name"
    broken = WorkflowHistory.from_json("draft-broken", json.dumps(document))
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=WORKFLOWS, workflow_runner=WORKFLOW_RUNNER).replay_workflow(broken)


async def test_replay_emits_no_spans() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    replayer = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[TracingInterceptor(provider.get_tracer("replay-test"))],
    )
    for name in PATHS:
        await replayer.replay_workflow(load(name))
    assert exporter.get_finished_spans() == ()
