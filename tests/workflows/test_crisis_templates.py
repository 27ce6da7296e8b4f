"""Crisis templates in the workflows (docs/crisis-lane.md), on the time-skipping server with fake
activities: an approved `crisis_template` is recorded as a template approval and never published;
a refused recording ends the review without a post; CrisisTemplatePostWorkflow publishes once and
records the outcome, or records the publisher's refusal."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.approval_fixtures import (
    decide,
    decision,
    record_history,
    start,
    version,
    wait_status,
)
from tests.workflows.fakes import FakeServices, running_fakes
from workflows.contracts import PUBLISHER_TASK_QUEUE, REVIEW_TASK_QUEUE, WORKFLOW_TASK_QUEUE
from workflows.crisis_template_contracts import (
    CRISIS_TEMPLATE_POST_WORKFLOW,
    PUBLISH_TEMPLATE_POST,
    RECORD_TEMPLATE_POST_STEP,
    TemplatePostInput,
    TemplatePostResult,
    TemplatePostStep,
    template_post_workflow_id,
)
from workflows.crisis_templates import TEMPLATE_PURPOSE
from workflows.worker import build_worker


async def test_an_approved_template_is_recorded_and_never_published(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(purpose=TEMPLATE_PURPOSE)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
        result = await handle.result()
        await record_history(handle, "template_approved")
    assert result.status == "template_approved"
    assert fakes.published == [] and fakes.publish_attempts == 0
    assert fakes.actions[-2:] == ["draft.approved", "template.approved"]
    # The review service is handed what it checks itself: the requirement and every approval.
    [recorded] = fakes.template_approvals
    assert recorded.requirement and len(recorded.approvals) == 2
    assert fakes.latest_state.status == "template_approved"


async def test_a_template_approval_the_review_service_refuses_publishes_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeServices(purpose=TEMPLATE_PURPOSE, refuse_template=True)
    async with running_fakes(time_skipping_env.client, fakes):
        handle = await start(time_skipping_env, version())
        await wait_status(handle, "in_review")
        await decide(handle, decision("compliance", "carol", ["compliance"]))
        await decide(handle, decision("legal", "leo", ["legal"]))
        result = await handle.result()
    assert result.status == "publish_failed" and fakes.published == []
    assert fakes.actions[-1] == "template.approval_failed"
    assert "no signed approval" in fakes.latest_state.note


@dataclass
class FakeTemplateServices:
    refuse: bool = False
    posted: list[TemplatePostInput] = field(default_factory=list)
    steps: list[TemplatePostStep] = field(default_factory=list)

    @activity.defn(name=PUBLISH_TEMPLATE_POST)
    async def publish(self, request: TemplatePostInput) -> None:
        if self.refuse:
            raise ApplicationError(
                "refused to publish without valid signed approvals: the draft's text is not the approved "
                "template filled with the signed values",
                type="ApprovalRefused",
                non_retryable=True,
            )
        self.posted.append(request)

    @activity.defn(name=RECORD_TEMPLATE_POST_STEP)
    async def record_step(self, step: TemplatePostStep) -> None:
        self.steps.append(step)


@contextlib.asynccontextmanager
async def running_template_fakes(client: Client, fakes: FakeTemplateServices) -> AsyncIterator[None]:
    async with (
        build_worker(client),
        Worker(client, task_queue=PUBLISHER_TASK_QUEUE, activities=[fakes.publish]),
        Worker(client, task_queue=REVIEW_TASK_QUEUE, activities=[fakes.record_step]),
    ):
        yield


def template_post() -> TemplatePostInput:
    use_id = str(uuid.uuid4())
    return TemplatePostInput(use_id, use_id, 1, "d" * 64, ["sandbox"], approval="approval.jws", use="use.jws")


async def test_a_template_post_is_published_once_and_recorded(time_skipping_env: WorkflowEnvironment) -> None:
    fakes = FakeTemplateServices()
    request = template_post()
    async with running_template_fakes(time_skipping_env.client, fakes):
        handle = await time_skipping_env.client.start_workflow(
            CRISIS_TEMPLATE_POST_WORKFLOW,
            request,
            id=template_post_workflow_id(request.use_id),
            task_queue=WORKFLOW_TASK_QUEUE,
            result_type=TemplatePostResult,
        )
        result = await handle.result()
        await record_history(handle, "crisis-template-post")
    assert result.status == "published"
    assert [p.use_id for p in fakes.posted] == [request.use_id]
    assert [(s.step, s.reason) for s in fakes.steps] == [("published", "")]


async def test_a_template_post_the_publisher_refuses_is_recorded_as_failed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeTemplateServices(refuse=True)
    request = template_post()
    async with running_template_fakes(time_skipping_env.client, fakes):
        result = await time_skipping_env.client.execute_workflow(
            CRISIS_TEMPLATE_POST_WORKFLOW,
            request,
            id=template_post_workflow_id(request.use_id),
            task_queue=WORKFLOW_TASK_QUEUE,
            result_type=TemplatePostResult,
        )
    assert result.status == "publish_failed" and fakes.posted == []
    [step] = fakes.steps
    assert step.step == "publish_failed" and "not the approved template" in step.reason
