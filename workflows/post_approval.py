"""PostApprovalWorkflow: the approval policy for one draft, from first submission to publication.

screen the version -> ask the review service which stages it needs -> open review tasks ->
wait for every stage's decision -> request_changes waits for the author's next version and starts
over (earlier approvals do not carry over) -> reject is final -> all approved: publish now or at
`scheduled_at` -> record the result. Withdrawal ends it at any point before publishing.

The gates live in the `decide` validator: whatever route a decision takes (API, UI, a Temporal
client), it is refused unless the decider holds the stage's role, is not the author, has not
decided another stage of this draft, and names the content hash under review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.kit.tokens import SignatureError
    from workflows.contracts import (
        APPEND_AUDIT_EVENT,
        AUDIT_TASK_QUEUE,
        CLOSE_REVIEW_TASKS,
        DECIDE_UPDATE,
        DECISIONS,
        DRAFTS_TASK_QUEUE,
        OPEN_REVIEW_TASKS,
        OVERRIDE_FINDINGS_UPDATE,
        PLAN_REVIEW_STAGES,
        POST_APPROVAL_WORKFLOW,
        PUBLISH_POST,
        PUBLISHER_TASK_QUEUE,
        RECORD_DECISION,
        REFUSED_CONFLICT,
        REFUSED_FORBIDDEN,
        REFUSED_INVALID,
        REVIEW_TASK_QUEUE,
        SCREEN_DRAFT_VERSION,
        STATE_QUERY,
        SUBMIT_VERSION_SIGNAL,
        UPDATE_DRAFT_STATE,
        WITHDRAW_UPDATE,
        AuditEventInput,
        AuditEventRecorded,
        CloseReviewTasksInput,
        DecisionAccepted,
        DecisionRecord,
        DecisionRequest,
        DecisionSnapshot,
        DraftStateUpdate,
        FindingsOverridden,
        FindingsOverride,
        OpenReviewTasksInput,
        PlanStagesInput,
        PostApprovalInput,
        PostApprovalResult,
        PublishRequest,
        PublishResult,
        ScreenVersionInput,
        ScreenVersionResult,
        StagePlan,
        StageRequirement,
        StageSnapshot,
        VersionSubmitted,
        WithdrawAccepted,
        WithdrawRequest,
    )
    from workflows.signatures import Requirement, decision_problems, read_decision, read_requirement

SYSTEM_ACTOR = "system:workflow"
SIGNATURE_MAX_AGE = timedelta(minutes=10)
FINAL_STATUSES = ("published", "rejected", "withdrawn", "publish_failed")
STAGE_STATUS_FOR = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ContentMismatch", "UnknownChannel", "NotFound"],
)


@dataclass
class _Stage:
    requirement: StageRequirement
    status: str = "pending"
    decisions: list[DecisionSnapshot] = field(default_factory=list)


def _refuse(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@workflow.defn(name=POST_APPROVAL_WORKFLOW)
class PostApprovalWorkflow:
    @workflow.init
    def __init__(self, request: PostApprovalInput) -> None:
        self._draft_id = request.draft_id
        self._author_id = request.author_id
        self._submissions: list[VersionSubmitted] = []
        self._current: VersionSubmitted | None = None
        self._status = "draft"
        self._note = ""
        self._policy_version = ""
        self._stages: dict[str, _Stage] = {}
        self._stage_of_decider: dict[str, str] = {}
        self._withdrawal: WithdrawRequest | None = None
        self._publishing = False
        self._revision = 0
        self._keys: dict[str, dict[str, Any]] = {}
        self._requirement_token = ""
        self._requirement: Requirement | None = None
        self._approvals: dict[str, str] = {}

    # --- the process ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: PostApprovalInput) -> PostApprovalResult:
        while self._status not in FINAL_STATUSES:
            await workflow.wait_condition(lambda: bool(self._submissions) or self._withdrawn)
            if self._withdrawn:
                break
            self._current = self._submissions[-1]  # a later submission supersedes an earlier one
            self._submissions.clear()
            outcome = await self._review_round(self._current)
            if outcome == "approved" and not await self._wait_for_schedule():
                await self._publish(self._current)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PostApprovalResult(
            draft_id=self._draft_id,
            status=self._status,
            version=self._current.version if self._current else None,
            content_hash=self._current.content_hash if self._current else None,
        )

    async def _review_round(self, version: VersionSubmitted) -> str:
        self._stages = {}
        self._note = ""
        await self._transition("screening", "screening.started")
        screening = await self._activity(
            SCREEN_DRAFT_VERSION,
            ScreenVersionInput(
                self._draft_id, version.version, version.content_hash, version.patient_content
            ),
            REVIEW_TASK_QUEUE,
            ScreenVersionResult,
        )
        await self._audit(
            SYSTEM_ACTOR,
            "screening.completed",
            {
                "screening_id": screening.screening_id,
                "categories": screening.categories,
                "products": screening.products,
                "finding_count": screening.finding_count,
                "blocking": screening.blocking,
            },
        )
        plan = await self._activity(
            PLAN_REVIEW_STAGES,
            PlanStagesInput(
                self._draft_id,
                version.version,
                version.content_hash,
                version.patient_content,
                screening.categories,
                screening.products,
                author_id=self._author_id,
                screening_id=screening.screening_id,
            ),
            REVIEW_TASK_QUEUE,
            StagePlan,
        )
        if self._withdrawn:
            return "withdrawn"
        self._accept_requirement(plan, version)
        self._policy_version = plan.policy_version
        self._stages = {s.name: _Stage(s) for s in plan.stages}
        self._approvals = {}
        await self._activity(
            OPEN_REVIEW_TASKS,
            OpenReviewTasksInput(
                self._draft_id,
                version.version,
                version.content_hash,
                self._author_id,
                plan.policy_version,
                plan.stages,
                screening.screening_id,
            ),
            REVIEW_TASK_QUEUE,
            None,
        )
        await self._transition(
            "in_review",
            "review.opened",
            {"policy_version": plan.policy_version, "stages": [s.name for s in plan.stages]},
        )
        # Decision handlers audit and project before the round moves on, so the trail keeps order.
        await workflow.wait_condition(
            lambda: (self._round_settled() or self._withdrawn) and workflow.all_handlers_finished()
        )
        await self._activity(
            CLOSE_REVIEW_TASKS,
            CloseReviewTasksInput(self._draft_id, version.version),
            REVIEW_TASK_QUEUE,
            None,
        )
        if self._withdrawn:
            return "withdrawn"
        outcome = self._round_outcome()
        action = {"approved": "draft.approved", "rejected": "draft.rejected"}.get(
            outcome, "draft.changes_requested"
        )
        await self._transition(outcome, action)
        return outcome

    async def _wait_for_schedule(self) -> bool:
        """Hold an approved post until its scheduled time; True when it was withdrawn meanwhile."""
        assert self._current is not None
        if not self._current.scheduled_at:
            return False
        when = datetime.fromisoformat(self._current.scheduled_at)
        delay = when - workflow.now()
        if delay <= timedelta(0):
            return False
        await self._transition("scheduled", "post.scheduled", {"scheduled_at": self._current.scheduled_at})
        try:
            await workflow.wait_condition(
                lambda: self._withdrawn, timeout=delay, timeout_summary="scheduled_at"
            )
        except TimeoutError:
            return False
        return True

    async def _publish(self, version: VersionSubmitted) -> None:
        self._publishing = True
        try:
            result = await self._activity(
                PUBLISH_POST,
                PublishRequest(
                    self._draft_id,
                    version.version,
                    version.content_hash,
                    list(version.channels),
                    requirement=self._requirement_token,
                    approvals=[self._approvals[name] for name in self._stages],
                ),
                PUBLISHER_TASK_QUEUE,
                PublishResult,
                start_to_close=timedelta(minutes=2),
            )
        except ActivityError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
            self._note = f"publishing failed: {reason}"
            await self._transition("publish_failed", "post.publish_failed", {"reason": reason})
            return
        await self._transition(
            "published",
            "post.published",
            {
                "publications": [
                    {"channel": p.channel, "publication_id": p.publication_id} for p in result.publications
                ]
            },
        )

    # --- decisions ------------------------------------------------------------------------------

    @workflow.update(name=DECIDE_UPDATE)
    async def decide(self, request: DecisionRequest) -> DecisionAccepted:
        assert self._current is not None
        stage = self._stages[request.stage]
        decided_at = workflow.now().isoformat()
        stage.decisions.append(
            DecisionSnapshot(
                decider=request.decider_id,
                decider_name=request.decider_name,
                decision=request.decision,
                reason=request.reason,
                at=decided_at,
                content_hash=request.content_hash,
            )
        )
        stage.status = STAGE_STATUS_FOR[request.decision]
        self._stage_of_decider[request.decider_id] = request.stage
        if request.decision == "approve":
            self._approvals[request.stage] = request.signed
        # Everything above runs before the first await: a concurrent update's validator sees it.
        record = DecisionRecord(
            decision_id=str(workflow.uuid4()),
            draft_id=self._draft_id,
            version=self._current.version,
            content_hash=request.content_hash,
            stage=request.stage,
            decision=request.decision,
            reason=request.reason,
            decider_id=request.decider_id,
            decider_name=request.decider_name,
            decider_roles=sorted(request.decider_roles),
            decided_at=decided_at,
            policy_version=self._policy_version,
        )
        await self._activity(RECORD_DECISION, record, REVIEW_TASK_QUEUE, None)
        await self._audit(
            request.decider_id,
            "decision.recorded",
            {
                "decision_id": record.decision_id,
                "stage": request.stage,
                "decision": request.decision,
                "reason": request.reason,
                "decider_name": request.decider_name,
                "decider_roles": record.decider_roles,
                "policy_version": self._policy_version,
                "signature": request.signed.rpartition(".")[2][:32],
            },
        )
        await self._project()
        return DecisionAccepted(request.stage, request.decision, stage.status, self._status, decided_at)

    @decide.validator
    def _check_decision(self, request: DecisionRequest) -> None:
        if self._status != "in_review" or self._current is None:
            raise _refuse(REFUSED_CONFLICT, f"the draft is not in review (status: {self._status})")
        if request.decision not in DECISIONS:
            raise _refuse(REFUSED_INVALID, f"decision must be one of {', '.join(DECISIONS)}")
        if request.decision != "approve" and not request.reason.strip():
            raise _refuse(REFUSED_INVALID, "a reason is required to reject or request changes")
        stage = self._stages.get(request.stage)
        if stage is None:
            required = ", ".join(self._stages) or "none"
            raise _refuse(
                REFUSED_CONFLICT, f"stage {request.stage!r} is not required here (required: {required})"
            )
        if request.decider_id == self._author_id:
            raise _refuse(REFUSED_FORBIDDEN, "the author of a draft may not decide on it")
        if not set(request.decider_roles) & set(stage.requirement.roles):
            roles = ", ".join(stage.requirement.roles)
            raise _refuse(REFUSED_FORBIDDEN, f"the {request.stage} stage is decided by: {roles}")
        earlier = self._stage_of_decider.get(request.decider_id)
        if earlier is not None and earlier != request.stage:
            raise _refuse(
                REFUSED_FORBIDDEN,
                f"you already decided the {earlier} stage of this draft; one person decides one stage",
            )
        if stage.status != "pending":
            raise _refuse(REFUSED_CONFLICT, f"the {request.stage} stage is already {stage.status}")
        if not self._stage_is_open(request.stage):
            raise _refuse(REFUSED_CONFLICT, f"the {request.stage} stage waits for earlier stages")
        if request.content_hash != self._current.content_hash:
            raise _refuse(
                REFUSED_CONFLICT,
                f"the content changed: the decision names {request.content_hash[:12]}…, "
                f"the version under review is {self._current.content_hash[:12]}…",
            )
        self._check_signature(request)

    def _check_signature(self, request: DecisionRequest) -> None:
        """The decision must carry the review service's signature over exactly these facts."""
        assert self._requirement is not None
        try:
            signed = read_decision(request.signed, self._keys)
        except SignatureError as exc:
            raise _refuse(REFUSED_FORBIDDEN, f"the decision is not validly signed: {exc}") from exc
        claimed = (request.stage, request.decision, request.content_hash, request.decider_id, request.reason)
        if (
            signed.stage,
            signed.decision,
            signed.content_hash,
            signed.signer_id,
            signed.reason,
        ) != claimed or set(signed.signer_roles) != set(request.decider_roles):
            raise _refuse(REFUSED_FORBIDDEN, "the signed record does not match the decision it came with")
        problems = decision_problems(self._requirement, signed)
        if problems:
            raise _refuse(REFUSED_FORBIDDEN, problems[0])
        try:
            signed_at = datetime.fromisoformat(signed.signed_at)
        except ValueError as exc:
            raise _refuse(REFUSED_FORBIDDEN, "the signing time is not a valid timestamp") from exc
        if abs(workflow.now() - signed_at) > SIGNATURE_MAX_AGE:
            raise _refuse(REFUSED_CONFLICT, "the signature is too old or from the future; sign again")
        if request.decision == "approve" and self._requirement.blocking_unresolved:
            raise _refuse(
                REFUSED_CONFLICT,
                f"{self._requirement.blocking_unresolved} blocking screening finding(s) must be fixed by the "
                "author or overridden by compliance before approval",
            )

    def _accept_requirement(self, plan: StagePlan, version: VersionSubmitted) -> None:
        try:
            requirement = read_requirement(plan.requirement, plan.signing_keys)
        except SignatureError as exc:
            raise ApplicationError(f"the review service's stage requirement is not valid: {exc}") from exc
        expected = (self._draft_id, version.version, version.content_hash, self._author_id)
        got = (requirement.draft_id, requirement.version, requirement.content_hash, requirement.author_id)
        if got != expected or [s.name for s in requirement.stages] != [s.name for s in plan.stages]:
            raise ApplicationError("the signed stage requirement does not match this version's plan")
        self._keys = dict(plan.signing_keys)
        self._requirement_token = plan.requirement
        self._requirement = requirement

    @workflow.update(name=OVERRIDE_FINDINGS_UPDATE)
    async def override_findings(self, request: FindingsOverride) -> FindingsOverridden:
        assert self._requirement is not None
        cleared = self._requirement.blocking_unresolved
        self._requirement = read_requirement(request.requirement, self._keys)
        self._requirement_token = request.requirement
        self._note = f"blocking findings overridden by {request.overrider_name}: {request.reason}"
        await self._audit(
            request.overrider_id,
            "findings.overridden",
            {"cleared": cleared, "reason": request.reason, "overrider_name": request.overrider_name},
        )
        await self._project()
        return FindingsOverridden(draft_status=self._status)

    @override_findings.validator
    def _check_override(self, request: FindingsOverride) -> None:
        if self._status != "in_review" or self._requirement is None or self._current is None:
            raise _refuse(REFUSED_CONFLICT, f"the draft is not in review (status: {self._status})")
        if "compliance" not in request.overrider_roles:
            raise _refuse(REFUSED_FORBIDDEN, "only compliance reviewers override blocking findings")
        if request.overrider_id == self._author_id:
            raise _refuse(REFUSED_FORBIDDEN, "the author of a draft may not override its findings")
        if not request.reason.strip():
            raise _refuse(REFUSED_INVALID, "an override needs a reason")
        if not self._requirement.blocking_unresolved:
            raise _refuse(REFUSED_CONFLICT, "there are no unresolved blocking findings")
        try:
            renewed = read_requirement(request.requirement, self._keys)
        except SignatureError as exc:
            raise _refuse(REFUSED_FORBIDDEN, f"the renewed requirement is not validly signed: {exc}") from exc
        if renewed.blocking_unresolved or (
            renewed.draft_id,
            renewed.version,
            renewed.content_hash,
            renewed.stages,
        ) != (
            self._requirement.draft_id,
            self._requirement.version,
            self._requirement.content_hash,
            self._requirement.stages,
        ):
            raise _refuse(
                REFUSED_CONFLICT, "the renewed requirement must clear the findings and change nothing else"
            )

    # --- submissions and withdrawal -------------------------------------------------------------

    @workflow.signal(name=SUBMIT_VERSION_SIGNAL)
    def submit_version(self, submitted: VersionSubmitted) -> None:
        self._submissions.append(submitted)

    @workflow.update(name=WITHDRAW_UPDATE)
    async def withdraw(self, request: WithdrawRequest) -> WithdrawAccepted:
        self._withdrawal = request
        self._status = "withdrawn"
        await self._audit(request.actor_id, "draft.withdrawn", {"reason": request.reason})
        await self._project()
        return WithdrawAccepted(status="withdrawn")

    @withdraw.validator
    def _check_withdrawal(self, request: WithdrawRequest) -> None:
        if self._status in FINAL_STATUSES or self._withdrawal is not None:
            raise _refuse(REFUSED_CONFLICT, f"a draft in status {self._status!r} cannot be withdrawn")
        if self._publishing:
            raise _refuse(REFUSED_CONFLICT, "the post is being published; take it down instead")

    @workflow.query(name=STATE_QUERY)
    def state(self) -> DraftStateUpdate:
        return self._snapshot()

    # --- helpers --------------------------------------------------------------------------------

    @property
    def _withdrawn(self) -> bool:
        return self._withdrawal is not None

    def _stage_is_open(self, name: str) -> bool:
        names = list(self._stages)
        me = self._stages[name]
        for earlier in names[: names.index(name)]:
            other = self._stages[earlier]
            sequential = not (me.requirement.parallel and other.requirement.parallel)
            if sequential and other.status != "approved":
                return False
        return True

    def _round_settled(self) -> bool:
        statuses = [s.status for s in self._stages.values()]
        return any(s in ("rejected", "changes_requested") for s in statuses) or all(
            s == "approved" for s in statuses
        )

    def _round_outcome(self) -> str:
        statuses = [s.status for s in self._stages.values()]
        if "rejected" in statuses:
            return "rejected"
        if "changes_requested" in statuses:
            return "changes_requested"
        return "approved"

    async def _transition(self, status: str, action: str, details: dict[str, Any] | None = None) -> None:
        if self._withdrawn:
            return  # the withdrawal handler already recorded the final state
        self._status = status
        await self._audit(SYSTEM_ACTOR, action, {"status": status, **(details or {})})
        await self._project()

    async def _audit(self, actor: str, action: str, details: dict[str, Any]) -> None:
        context: dict[str, Any] = {"workflow_id": workflow.info().workflow_id}
        if self._current is not None:
            context.update(version=self._current.version, content_hash=self._current.content_hash)
        await self._activity(
            APPEND_AUDIT_EVENT,
            AuditEventInput(
                idempotency_key=f"workflow:{workflow.uuid4()}",
                actor=actor,
                action=action,
                subject=f"draft:{self._draft_id}",
                details={**context, **details},
            ),
            AUDIT_TASK_QUEUE,
            AuditEventRecorded,
        )

    def _snapshot(self) -> DraftStateUpdate:
        return DraftStateUpdate(
            draft_id=self._draft_id,
            revision=self._revision,
            status=self._status,
            version=self._current.version if self._current else None,
            content_hash=self._current.content_hash if self._current else None,
            stages=[
                StageSnapshot(
                    stage=name,
                    status=stage.status,
                    roles=list(stage.requirement.roles),
                    decisions=list(stage.decisions),
                )
                for name, stage in self._stages.items()
            ],
            note=self._note,
        )

    async def _project(self) -> None:
        self._revision += 1
        await self._activity(UPDATE_DRAFT_STATE, self._snapshot(), DRAFTS_TASK_QUEUE, None)

    async def _activity(
        self,
        name: str,
        arg: Any,
        task_queue: str,
        result_type: type[Any] | None,
        *,
        start_to_close: timedelta = ACTIVITY_TIMEOUT,
    ) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            task_queue=task_queue,
            result_type=result_type,
            start_to_close_timeout=start_to_close,
            retry_policy=RETRY,
        )
