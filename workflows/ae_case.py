"""AdverseEventCaseWorkflow: one adverse event reported in a comment, from day 0 to closed.

Workflow id `ae-case-<comment id>`. The review service opens the case (`open_ae_case`: the four
minimum elements, who it is assigned to, and its clocks from the policy: day 0 is when the comment
was read). Then the workflow waits on durable timers, each clock in turn: a reminder before the
internal hand-off and an escalation when it passes without one; the same before the regulatory
deadline (15 calendar days) while the case is open. A hand-off stops the hand-off clock; closing
stops both. The steps themselves (follow-up, hand-off, close) are recorded and audited by the review
service, which signals this workflow after each; this workflow only keeps the time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.comment_contracts import (
        AE_CASE_WORKFLOW,
        CASE_CLOSED_SIGNAL,
        CASE_HANDED_OFF_SIGNAL,
        HANDOFF_CLOCK,
        OPEN_AE_CASE,
        RECORD_CASE_CLOCK,
        AeCaseInput,
        AeCasePlan,
        CaseClockEvent,
        CaseStep,
    )
    from workflows.contracts import REVIEW_TASK_QUEUE

STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=2))
HANDED_OFF = "handed_off"
CLOSED = "closed"


@workflow.defn(name=AE_CASE_WORKFLOW)
class AdverseEventCaseWorkflow:
    @workflow.init
    def __init__(self, request: AeCaseInput) -> None:
        self._handed_off = False
        self._closed = False

    @workflow.signal(name=CASE_HANDED_OFF_SIGNAL)
    def handed_off(self, step: CaseStep) -> None:
        self._handed_off = True

    @workflow.signal(name=CASE_CLOSED_SIGNAL)
    def closed(self, step: CaseStep) -> None:
        self._closed = True

    def _met(self, clock: str) -> bool:
        """A clock stops when its step is done: the hand-off for the hand-off clock, closing for all."""
        return self._closed or (clock == HANDOFF_CLOCK and self._handed_off)

    @workflow.run
    async def run(self, request: AeCaseInput) -> str:
        plan: AeCasePlan = await workflow.execute_activity(
            OPEN_AE_CASE,
            request,
            task_queue=REVIEW_TASK_QUEUE,
            result_type=AeCasePlan,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STEP_RETRY,
        )
        # A case reopened by a replayed start may already be past its steps.
        self._handed_off = self._handed_off or plan.status in (HANDED_OFF, CLOSED)
        self._closed = self._closed or plan.status == CLOSED
        for clock in sorted(plan.clocks, key=lambda c: c.at):
            if self._met(clock.clock):
                continue
            remaining = max(datetime.fromisoformat(clock.at) - workflow.now(), timedelta(0))
            which = clock.clock
            try:
                await workflow.wait_condition(
                    lambda: self._met(which),  # noqa: B023 (awaited before the loop moves on)
                    timeout=remaining,
                    timeout_summary=f"{clock.clock} {clock.kind}",
                )
                continue
            except TimeoutError:
                pass
            await workflow.execute_activity(
                RECORD_CASE_CLOCK,
                CaseClockEvent(plan.case_id, clock.clock, clock.kind),
                task_queue=REVIEW_TASK_QUEUE,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STEP_RETRY,
            )
        await workflow.wait_condition(lambda: self._closed)
        return CLOSED
