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

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as TemporalTimeout

with workflow.unsafe.imports_passed_through():
    from services.kit.tokens import SignatureError
    from workflows.contracts import (
        APPEND_AUDIT_EVENT,
        AUDIT_TASK_QUEUE,
        CHECK_CONSENT,
        CLOSE_REVIEW_TASKS,
        CONSENT_REVOKED_SIGNAL,
        DECIDE_UPDATE,
        DECISIONS,
        DRAFTS_TASK_QUEUE,
        OPEN_REVIEW_TASKS,
        OVERRIDE_FINDINGS_UPDATE,
        PLAN_REVIEW_STAGES,
        POST_APPROVAL_WORKFLOW,
        PUBLISH_POST,
        PUBLISHER_TASK_QUEUE,
        PUBLISHING_PAUSED,
        PUBLISHING_RESUMED_SIGNAL,
        RECORD_DECISION,
        RECORD_REVIEW_NOTICE,
        REFUSED_CONFLICT,
        REFUSED_FORBIDDEN,
        REFUSED_INVALID,
        REVIEW_TASK_QUEUE,
        SCREEN_DRAFT_VERSION,
        STATE_QUERY,
        SUBMIT_VERSION_SIGNAL,
        UPDATE_DRAFT_STATE,
        VOID_APPROVALS_UPDATE,
        WITHDRAW_UPDATE,
        ApprovalsVoided,
        AuditEventInput,
        AuditEventRecorded,
        CloseReviewTasksInput,
        ConsentCheckInput,
        ConsentCheckResult,
        ConsentRevoked,
        DecisionAccepted,
        DecisionRecord,
        DecisionRequest,
        DecisionSnapshot,
        DraftStateUpdate,
        FindingsOverridden,
        FindingsOverride,
        NoticeDue,
        NoticeRecorded,
        OpenReviewTasksInput,
        PlanStagesInput,
        PostApprovalInput,
        PostApprovalResult,
        PublishRequest,
        PublishResult,
        ReviewSchedule,
        ScreenVersionInput,
        ScreenVersionResult,
        StagePlan,
        StageSnapshot,
        VersionSubmitted,
        VoidApprovals,
        WithdrawAccepted,
        WithdrawRequest,
    )
    from workflows.crisis_template_contracts import (
        RECORD_TEMPLATE_APPROVAL,
        TemplateApprovalInput,
        TemplateApproved,
    )
    from workflows.crisis_templates import TEMPLATE_PURPOSE
    from workflows.review_timers import (
        EXPIRED,
        DueNotice,
        due_by,
        expires_at,
        next_due,
        round_notices,
        sla_due,
    )
    from workflows.signatures import Requirement, read_requirement
    from workflows.stages import (
        STAGE_STATUS_FOR,
        Stage,
        all_approved,
        check_signed_decision,
        refuse,
        round_outcome,
        round_settled,
        stage_is_open,
    )

SYSTEM_ACTOR = "system:workflow"
FINAL_STATUSES = ("published", "rejected", "withdrawn", "publish_failed", "template_approved")
# Review SLAs, reminders, escalation, approval expiry and quorums (issue #18): rounds opened
# before it keep one approval per stage and no timers.
REVIEW_SLA_PATCH = "review-sla-2026-12"
# The author is told when their draft is approved and when it is published: a notice in the
# review service's outbox (issue #18, notifications). Workflows past these points before it tell nobody.
NOTIFY_PATCH = "notify-post-events-2026-12"
AUTHOR_NOTICES = {"draft.approved": "approved", "post.published": "published"}
# A crisis template's approved review is recorded as a template approval, never published
# (docs/crisis-lane.md). Plans made before it carry no purpose and publish as before.
TEMPLATE_PATCH = "crisis-templates-2026-12"

ACTIVITY_TIMEOUT = timedelta(seconds=30)
TEMPLATE_APPROVAL_DEADLINE = timedelta(hours=1)
# A held post looks again this often whether or not the resume signal arrived.
HOLD_RECHECK = timedelta(minutes=10)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ContentMismatch", "UnknownChannel", "NotFound"],
)


@workflow.defn(name=POST_APPROVAL_WORKFLOW)
class PostApprovalWorkflow:
    @workflow.init
    def __init__(self, request: PostApprovalInput) -> None:
        self._draft_id = request.draft_id
        self._author_id = request.author_id
        self._publish_deadline = timedelta(seconds=request.publish_deadline_seconds)
        self._submissions: list[VersionSubmitted] = []
        self._current: VersionSubmitted | None = None
        self._status = "draft"
        self._note = ""
        self._policy_version = ""
        self._stages: dict[str, Stage] = {}
        self._stage_of_decider: dict[str, str] = {}
        self._withdrawal: WithdrawRequest | None = None
        self._publishing = False
        self._revision = 0
        self._keys: dict[str, dict[str, Any]] = {}
        self._requirement_token = ""
        self._requirement: Requirement | None = None
        # stage -> decider -> their signed approval of the version under review.
        self._approvals: dict[str, dict[str, str]] = {}
        # Offboarded reviewers whose approvals were voided: nothing they signed counts any more.
        self._offboarded: set[str] = set()
        # A consent this draft relies on was revoked: it leaves the path to publication.
        self._revoked: ConsentRevoked | None = None
        self._screened_categories: list[str] = []
        # The publisher lifted a pause that held this post.
        self._resumed = False
        # The round's timers and quorums (REVIEW_SLA_PATCH), the notices sent, the stages escalated.
        self._sla_rules = False
        self._schedule: ReviewSchedule | None = None
        self._round_opened_at: datetime | None = None
        self._notices_sent: set[str] = set()
        self._escalated: set[str] = set()
        self._expired = False
        # What the drafts service says the draft is for, as the review service's plan reported it.
        self._purpose = "post"

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
            while outcome == "approved":
                if self._withdrawn or await self._wait_for_schedule():
                    break
                if self._revoked is not None:
                    await self._consent_revoked_back_to_author()
                    break
                if (
                    self._all_approved()
                    and self._purpose == TEMPLATE_PURPOSE
                    and workflow.patched(TEMPLATE_PATCH)
                ):
                    await self._approve_template(self._current)
                    break
                if self._all_approved():
                    # Consent is checked again immediately before publishing: it may have expired.
                    if await self._consent_holds(self._current, self._screened_categories, "publish.blocked"):
                        if await self._publish(self._current):
                            continue  # a pause held it and was lifted: every check again, then publish
                    break
                # An approval was voided (its reviewer was offboarded): back to review.
                outcome = await self._await_decisions(self._current)
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
        self._revoked = None
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
        self._screened_categories = list(screening.categories)
        if not await self._consent_holds(version, screening.categories, "consent.refused"):
            return "changes_requested"
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
        self._purpose = plan.purpose
        self._policy_version = plan.policy_version
        self._stages = {s.name: Stage(s) for s in plan.stages}
        self._approvals = {}
        self._sla_rules = workflow.patched(REVIEW_SLA_PATCH)
        self._schedule = plan.schedule if self._sla_rules else None
        self._round_opened_at = workflow.now()
        self._notices_sent, self._escalated, self._expired = set(), set(), False
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
        return await self._await_decisions(version)

    async def _await_decisions(self, version: VersionSubmitted) -> str:
        while True:
            await self._wait_for_round(version)
            await self._activity(
                CLOSE_REVIEW_TASKS,
                CloseReviewTasksInput(self._draft_id, version.version),
                REVIEW_TASK_QUEUE,
                None,
            )
            if self._withdrawn:
                return "withdrawn"
            if self._revoked is not None:
                await self._consent_revoked_back_to_author()
                return "changes_requested"
            if self._expired:
                await self._review_expired()
                return "changes_requested"
            if self._round_settled():
                break
            # An approval was voided while the tasks were closing: open the voided stages again.
            await self._reopen_tasks([n for n, s in self._stages.items() if s.status == "voided"])
        outcome = self._round_outcome()
        action = {"approved": "draft.approved", "rejected": "draft.rejected"}.get(
            outcome, "draft.changes_requested"
        )
        await self._transition(outcome, action)
        return outcome

    def _round_over(self) -> bool:
        # Decision handlers audit and project before the round moves on, so the trail keeps order.
        return (
            self._round_settled() or self._withdrawn or self._revoked is not None or self._expired
        ) and workflow.all_handlers_finished()

    async def _wait_for_round(self, version: VersionSubmitted) -> None:
        """Wait until the round settles, is withdrawn or loses its consent, sending each reminder and
        escalation as it falls due; past the approval expiry, `_expired` is set and it returns."""
        while self._schedule is not None and self._round_opened_at is not None and not self._round_over():
            scheduled = datetime.fromisoformat(version.scheduled_at) if version.scheduled_at else None
            notices = round_notices(
                self._schedule,
                self._round_opened_at,
                self._undecided(),
                self._notices_sent,
                expires_at(self._schedule, self._round_opened_at, scheduled),
            )
            for notice in due_by(notices, workflow.now()):
                if self._round_over():
                    return
                if notice.kind == EXPIRED:
                    # Before the first await: a decision arriving now is refused, not half-counted.
                    self._expired = True
                    return
                await self._send_notice(version, notice)
            wake = next_due(notices, workflow.now())
            if wake is None:
                break
            try:
                await workflow.wait_condition(
                    self._round_over, timeout=wake - workflow.now(), timeout_summary="review reminder"
                )
            except TimeoutError:
                continue
        await workflow.wait_condition(self._round_over)

    def _undecided(self) -> set[str]:
        return {name for name, stage in self._stages.items() if stage.status in ("pending", "voided")}

    async def _send_notice(self, version: VersionSubmitted, notice: DueNotice) -> None:
        """Keep a reminder or an escalation in the review service's outbox, and audit it."""
        self._notices_sent.add(notice.key)
        recorded = await self._record_notice(version, notice)
        if notice.kind == "escalation":
            self._escalated.add(notice.stage)
        action = "review.escalated" if notice.kind == "escalation" else "review.reminder"
        await self._audit(
            SYSTEM_ACTOR,
            action,
            {
                "stage": notice.stage,
                "n": notice.n,
                "due_at": notice.due_at.isoformat(),
                "notice_id": recorded.notice_id,
                "recipients": recorded.recipients,
            },
        )
        if notice.kind == "escalation":
            await self._project()

    async def _record_notice(
        self, version: VersionSubmitted, notice: DueNotice, reason: str = ""
    ) -> NoticeRecorded:
        recorded: NoticeRecorded = await self._activity(
            RECORD_REVIEW_NOTICE,
            NoticeDue(
                self._draft_id,
                version.version,
                version.content_hash,
                notice.stage,
                notice.kind,
                notice.n,
                notice.due_at.isoformat(),
                reason,
            ),
            REVIEW_TASK_QUEUE,
            NoticeRecorded,
        )
        return recorded

    async def _review_expired(self) -> None:
        """Nobody approved in time: back to the author with the reason, like a request for changes."""
        assert self._current is not None and self._schedule is not None and self._round_opened_at
        scheduled = datetime.fromisoformat(self._current.scheduled_at) if self._current.scheduled_at else None
        deadline = expires_at(self._schedule, self._round_opened_at, scheduled)
        assert deadline is not None
        if scheduled is not None and deadline == scheduled:
            reason = "the review was not complete by the post's scheduled time"
        else:
            days = self._schedule.approval_expiry_seconds / 86_400
            reason = f"the review was not complete within {days:g} days of opening"
        self._notices_sent.add(DueNotice("", EXPIRED, 1, deadline).key)
        recorded = await self._record_notice(self._current, DueNotice("", EXPIRED, 1, deadline), reason)
        self._note = f"review expired: {reason}"
        await self._transition(
            "changes_requested",
            "draft.review_expired",
            {
                "reason": reason,
                "expired_at": deadline.isoformat(),
                "undecided": sorted(self._undecided()),
                "notice_id": recorded.notice_id,
            },
        )

    async def _wait_for_schedule(self) -> bool:
        """Hold an approved post until its scheduled time; True when it was withdrawn meanwhile
        (False, early, when an approval was voided: the caller sends it back to review)."""
        assert self._current is not None
        if not self._current.scheduled_at:
            return False
        when = datetime.fromisoformat(self._current.scheduled_at)
        delay = when - workflow.now()
        if delay <= timedelta(0) or not self._all_approved():
            return False
        await self._transition("scheduled", "post.scheduled", {"scheduled_at": self._current.scheduled_at})
        try:
            # A voided approval also ends the wait: the post goes back to review.
            await workflow.wait_condition(
                lambda: self._withdrawn or not self._all_approved() or self._revoked is not None,
                timeout=delay,
                timeout_summary="scheduled_at",
            )
        except TimeoutError:
            return False
        return self._withdrawn

    async def _publish(self, version: VersionSubmitted) -> bool:
        """Publish; True when a pause held the post and has since been lifted (try again)."""
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
                    approvals=[token for name in self._stages for token in self._approvals[name].values()],
                ),
                PUBLISHER_TASK_QUEUE,
                PublishResult,
                start_to_close=timedelta(minutes=2),
                schedule_to_close=self._publish_deadline,
            )
        except ActivityError as exc:
            if isinstance(exc.cause, ApplicationError) and exc.cause.type == PUBLISHING_PAUSED:
                self._publishing = False
                return await self._hold(exc.cause.message)
            reason = _failure_reason(exc, self._publish_deadline)
            self._note = f"publishing failed: {reason}"
            await self._transition("publish_failed", "post.publish_failed", {"reason": reason})
            return False
        await self._transition(
            "published",
            "post.published",
            {
                "publications": [
                    {"channel": p.channel, "publication_id": p.publication_id} for p in result.publications
                ]
            },
        )
        return False

    async def _approve_template(self, version: VersionSubmitted) -> None:
        """The review service checks the signed approvals itself and signs the template approval;
        nothing is published (docs/crisis-lane.md)."""
        try:
            approved = await self._activity(
                RECORD_TEMPLATE_APPROVAL,
                TemplateApprovalInput(
                    self._draft_id,
                    version.version,
                    version.content_hash,
                    self._requirement_token,
                    [token for name in self._stages for token in self._approvals[name].values()],
                ),
                REVIEW_TASK_QUEUE,
                TemplateApproved,
                schedule_to_close=TEMPLATE_APPROVAL_DEADLINE,
            )
        except ActivityError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError | TemporalTimeout) else str(cause)
            self._note = f"the template approval was not recorded: {reason}"
            await self._transition("publish_failed", "template.approval_failed", {"reason": reason})
            return
        self._note = "approved as a crisis template: a crisis holder publishes from it"
        await self._transition(
            "template_approved",
            "template.approved",
            {"template_id": approved.template_id, "version": approved.version},
        )

    async def _hold(self, reason: str) -> bool:
        """A pause covers the post's channels: hold (nothing was posted) until the publisher signals
        the resume, looking again every HOLD_RECHECK in case a signal was missed. False when it was
        withdrawn meanwhile."""
        self._note = f"held: {reason}"
        await self._transition("held", "post.held", {"reason": reason})
        self._resumed = False
        try:
            await workflow.wait_condition(
                lambda: (
                    self._resumed or self._withdrawn or self._revoked is not None or not self._all_approved()
                ),
                timeout=HOLD_RECHECK,
                timeout_summary="publishing pause recheck",
            )
        except TimeoutError:
            pass
        return not self._withdrawn

    def _hold_over(self) -> bool:
        return self._resumed or self._withdrawn or self._revoked is not None or not self._all_approved()

    @workflow.signal(name=PUBLISHING_RESUMED_SIGNAL)
    def publishing_resumed(self) -> None:
        self._resumed = True

    async def _consent_holds(self, version: VersionSubmitted, categories: list[str], action: str) -> bool:
        """Patient content needs an active consent covering its names, images and channels."""
        check = await self._activity(
            CHECK_CONSENT,
            ConsentCheckInput(
                self._draft_id,
                version.version,
                version.content_hash,
                list(version.channels),
                workflow.now().isoformat(),
                version.patient_content,
                list(categories),
            ),
            DRAFTS_TASK_QUEUE,
            ConsentCheckResult,
        )
        if check.ok:
            return True
        self._note = "consent: " + "; ".join(check.reasons)
        await self._transition(
            "changes_requested", action, {"reasons": check.reasons, "consent_ids": check.consent_ids}
        )
        return False

    async def _consent_revoked_back_to_author(self) -> None:
        assert self._revoked is not None
        revoked = self._revoked
        if self._current is not None:
            await self._activity(
                CLOSE_REVIEW_TASKS,
                CloseReviewTasksInput(self._draft_id, self._current.version),
                REVIEW_TASK_QUEUE,
                None,
            )
        self._note = f"consent {revoked.consent_id} was revoked" + (
            f": {revoked.reason}" if revoked.reason else ""
        )
        await self._transition(
            "changes_requested",
            "consent.revoked",
            {"consent_id": revoked.consent_id, "revoked_by": revoked.revoked_by},
        )

    @workflow.signal(name=CONSENT_REVOKED_SIGNAL)
    def consent_revoked(self, revoked: ConsentRevoked) -> None:
        if self._status in FINAL_STATUSES or self._publishing or self._withdrawn:
            return  # published posts are taken down by the drafts service; nothing to stop here
        self._revoked = revoked

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
        self._stage_of_decider[request.decider_id] = request.stage
        if request.decision == "approve":
            approvals = self._approvals.setdefault(request.stage, {})
            approvals[request.decider_id] = request.signed
            # A quorum stage stays pending until enough distinct deciders approved this hash.
            stage.status = "approved" if len(approvals) >= self._quorum(stage) else "pending"
        else:
            stage.status = STAGE_STATUS_FOR[request.decision]
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
            raise refuse(REFUSED_CONFLICT, f"the draft is not in review (status: {self._status})")
        if request.decision not in DECISIONS:
            raise refuse(REFUSED_INVALID, f"decision must be one of {', '.join(DECISIONS)}")
        if request.decision != "approve" and not request.reason.strip():
            raise refuse(REFUSED_INVALID, "a reason is required to reject or request changes")
        stage = self._stages.get(request.stage)
        if stage is None:
            required = ", ".join(self._stages) or "none"
            raise refuse(
                REFUSED_CONFLICT, f"stage {request.stage!r} is not required here (required: {required})"
            )
        if request.decider_id == self._author_id:
            raise refuse(REFUSED_FORBIDDEN, "the author of a draft may not decide on it")
        if not set(request.decider_roles) & set(stage.requirement.roles):
            roles = ", ".join(stage.requirement.roles)
            raise refuse(REFUSED_FORBIDDEN, f"the {request.stage} stage is decided by: {roles}")
        earlier = self._stage_of_decider.get(request.decider_id)
        if earlier is not None and earlier != request.stage:
            raise refuse(
                REFUSED_FORBIDDEN,
                f"you already decided the {earlier} stage of this draft; one person decides one stage",
            )
        if request.decider_id in self._offboarded:
            raise refuse(REFUSED_FORBIDDEN, "the decider was offboarded; their decisions no longer count")
        if stage.status not in ("pending", "voided"):
            raise refuse(REFUSED_CONFLICT, f"the {request.stage} stage is already {stage.status}")
        if self._expired:
            raise refuse(REFUSED_CONFLICT, "the review expired; the draft goes back to its author")
        if request.decider_id in self._approvals.get(request.stage, {}):
            raise refuse(
                REFUSED_CONFLICT,
                f"you approved the {request.stage} stage already; its quorum counts distinct people",
            )
        if not self._stage_is_open(request.stage):
            raise refuse(REFUSED_CONFLICT, f"the {request.stage} stage waits for earlier stages")
        if request.content_hash != self._current.content_hash:
            raise refuse(
                REFUSED_CONFLICT,
                f"the content changed: the decision names {request.content_hash[:12]}…, "
                f"the version under review is {self._current.content_hash[:12]}…",
            )
        self._check_signature(request)

    def _check_signature(self, request: DecisionRequest) -> None:
        """The decision must carry the review service's signature over exactly these facts."""
        assert self._requirement is not None
        check_signed_decision(request, self._requirement, self._keys, workflow.now())

    def _accept_requirement(self, plan: StagePlan, version: VersionSubmitted) -> None:
        try:
            requirement = read_requirement(plan.requirement, plan.signing_keys)
        except SignatureError as exc:
            raise ApplicationError(f"the review service's stage requirement is not valid: {exc}") from exc
        expected = (self._draft_id, version.version, version.content_hash)
        got = (requirement.draft_id, requirement.version, requirement.content_hash)
        signed_stages = [(s.name, s.quorum) for s in requirement.stages]
        if got != expected or signed_stages != [(s.name, s.quorum) for s in plan.stages]:
            raise ApplicationError("the signed stage requirement does not match this version's plan")
        # Who wrote the draft is the drafts service's fact, which the review service read and
        # signed; the author named in this workflow's input (anyone with Temporal access can start
        # one) counts for nothing from here on.
        self._author_id = requirement.author_id
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
            raise refuse(REFUSED_CONFLICT, f"the draft is not in review (status: {self._status})")
        if "compliance" not in request.overrider_roles:
            raise refuse(REFUSED_FORBIDDEN, "only compliance reviewers override blocking findings")
        if request.overrider_id == self._author_id:
            raise refuse(REFUSED_FORBIDDEN, "the author of a draft may not override its findings")
        if not request.reason.strip():
            raise refuse(REFUSED_INVALID, "an override needs a reason")
        if not self._requirement.blocking_unresolved:
            raise refuse(REFUSED_CONFLICT, "there are no unresolved blocking findings")
        try:
            renewed = read_requirement(request.requirement, self._keys)
        except SignatureError as exc:
            raise refuse(REFUSED_FORBIDDEN, f"the renewed requirement is not validly signed: {exc}") from exc
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
            raise refuse(
                REFUSED_CONFLICT, "the renewed requirement must clear the findings and change nothing else"
            )

    # --- offboarding ----------------------------------------------------------------------------

    @workflow.update(name=VOID_APPROVALS_UPDATE)
    async def void_approvals(self, request: VoidApprovals) -> ApprovalsVoided:
        """The reviewer was offboarded: their approvals of this round stop counting.

        Each stage they approved shows `voided` (with a `voided` entry in its decision history)
        and is open to another reviewer; their signed approval is dropped, so the publisher never
        receives it. An approved or scheduled post goes back to review.
        """
        assert self._current is not None
        names = self._approved_by(request.user_id)
        voided_at = workflow.now().isoformat()
        for name in names:
            stage = self._stages[name]
            approver = next(d for d in reversed(stage.decisions) if d.decider == request.user_id)
            self._approvals[name].pop(request.user_id, None)
            if stage.status == "approved":
                stage.status = "voided"
            stage.decisions.append(
                DecisionSnapshot(
                    decider=request.user_id,
                    decider_name=approver.decider_name,
                    decision="voided",
                    reason=request.reason,
                    at=voided_at,
                    content_hash=self._current.content_hash,
                )
            )
        self._stage_of_decider.pop(request.user_id, None)
        self._offboarded.add(request.user_id)
        previous = self._status
        if previous in ("approved", "scheduled", "held"):
            self._status = "in_review"
        self._note = f"approval voided: {request.reason}"
        # Everything above runs before the first await: a decision or the publish step sees it.
        await self._reopen_tasks(names)
        await self._audit(
            SYSTEM_ACTOR,
            "decision.voided",
            {
                "user_id": request.user_id,
                "stages": names,
                "reason": request.reason,
                "previous_status": previous,
            },
        )
        await self._project()
        return ApprovalsVoided(stages=names, draft_status=self._status)

    @void_approvals.validator
    def _check_void(self, request: VoidApprovals) -> None:
        if self._status in FINAL_STATUSES or self._withdrawn or self._current is None:
            raise refuse(REFUSED_CONFLICT, f"nothing to void: the draft is {self._status}")
        if self._publishing:
            raise refuse(REFUSED_CONFLICT, "the post is being published; take it down instead")
        if not request.reason.strip():
            raise refuse(REFUSED_INVALID, "voiding approvals needs a reason")
        if not self._approved_by(request.user_id):
            raise refuse(REFUSED_CONFLICT, "this user holds no approval of the version under review")

    async def _reopen_tasks(self, names: list[str]) -> None:
        assert self._current is not None
        await self._activity(
            OPEN_REVIEW_TASKS,
            OpenReviewTasksInput(
                self._draft_id,
                self._current.version,
                self._current.content_hash,
                self._author_id,
                self._policy_version,
                [self._stages[name].requirement for name in names],
                reopen=True,
            ),
            REVIEW_TASK_QUEUE,
            None,
        )

    def _approved_by(self, user_id: str) -> list[str]:
        return [name for name in self._stages if user_id in self._approvals.get(name, {})]

    def _quorum(self, stage: Stage) -> int:
        return stage.requirement.quorum if self._sla_rules else 1

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
            raise refuse(REFUSED_CONFLICT, f"a draft in status {self._status!r} cannot be withdrawn")
        if self._publishing:
            raise refuse(REFUSED_CONFLICT, "the post is being published; take it down instead")

    @workflow.query(name=STATE_QUERY)
    def state(self) -> DraftStateUpdate:
        return self._snapshot()

    # --- helpers --------------------------------------------------------------------------------

    @property
    def _withdrawn(self) -> bool:
        return self._withdrawal is not None

    def _stage_is_open(self, name: str) -> bool:
        return stage_is_open(self._stages, name)

    def _all_approved(self) -> bool:
        return all_approved(self._stages)

    def _round_settled(self) -> bool:
        return round_settled(self._stages)

    def _round_outcome(self) -> str:
        return round_outcome(self._stages)

    async def _transition(self, status: str, action: str, details: dict[str, Any] | None = None) -> None:
        if self._withdrawn:
            return  # the withdrawal handler already recorded the final state
        self._status = status
        await self._audit(SYSTEM_ACTOR, action, {"status": status, **(details or {})})
        await self._project()
        kind = AUTHOR_NOTICES.get(action)
        if kind is not None and self._current is not None and workflow.patched(NOTIFY_PATCH):
            # Numbered by the projection's revision: a draft approved again after a voided
            # approval is a second notice, a retried activity the same one.
            await self._record_notice(self._current, DueNotice("", kind, self._revision, workflow.now()))

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
                    approvals=len(self._approvals.get(name, {})),
                    quorum=self._quorum(stage),
                    due_at=self._due_at(name),
                    escalated=name in self._escalated,
                )
                for name, stage in self._stages.items()
            ],
            note=self._note,
        )

    def _due_at(self, stage: str) -> str:
        if self._schedule is None or self._round_opened_at is None:
            return ""
        due = sla_due(self._schedule, stage, self._round_opened_at)
        return due.isoformat() if due else ""

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
        schedule_to_close: timedelta | None = None,
    ) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            task_queue=task_queue,
            result_type=result_type,
            start_to_close_timeout=start_to_close,
            schedule_to_close_timeout=schedule_to_close,
            retry_policy=RETRY,
        )


def _failure_reason(exc: ActivityError, deadline: timedelta) -> str:
    """Why an activity failed for good: its own refusal, or the deadline and the last error seen."""
    cause = exc.cause
    last = cause.message if isinstance(cause, ApplicationError | TemporalTimeout) else str(cause)
    if exc.retry_state == RetryState.TIMEOUT:
        hours = deadline.total_seconds() / 3600
        return f"the channels did not take the post within {hours:g} hours (last error: {last})"
    return last
