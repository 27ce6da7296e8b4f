"""Review: the queue a reviewer works from, signed decisions, and screening a text on request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from services.kit.audit_client import AuditClient
from services.kit.clock import utcnow
from services.kit.credentials import CredentialChecker, ReauthenticationRedeemer, decision_binding
from services.kit.errors import (
    ClearpostError,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    UpstreamUnavailable,
)
from services.kit.tokens import Principal
from services.review.channels_client import ChannelStates
from services.review.deciders import refusal, stands_for
from services.review.drafts_client import VersionSource
from services.review.feedback import refresh_allow_list
from services.review.flow_report import Escalation, TaskSpan, week_starts, weekly_flow
from services.review.metrics import SCREENING_SECONDS
from services.review.models import FindingOverride, ReviewTask, Screening
from services.review.policy import REVIEW_ROLES, LoadedPolicy
from services.review.repository import ReviewRepository
from services.review.schemas import (
    DecisionIn,
    DecisionOut,
    DraftFindings,
    FindingOut,
    FlowReport,
    FlowWeek,
    OverrideIn,
    OverrideRecord,
    QueueItem,
    ReviewedFinding,
    ScreeningIn,
    ScreeningOut,
    StageFlowOut,
)
from services.review.screening.engine import Screener
from services.review.screening.findings import BLOCK
from services.review.signing import ReviewSigner, SigningAuthentication
from workflows.client import ApprovalWorkflowClient
from workflows.contracts import (
    DecisionRequest,
    FindingsOverride,
    StageRequirement,
)


def due_first(item: QueueItem) -> tuple[int, datetime, datetime]:
    """The queue's order: what is due soonest (overdue first), then what has no SLA, oldest first."""
    if item.due_at is None:
        return (1, item.opened_at, item.opened_at)
    return (0, item.due_at, item.opened_at)


class ReviewService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        policy: LoadedPolicy,
        audit: AuditClient,
        temporal: Client | None = None,
        credentials: CredentialChecker | None = None,
        reauthentications: ReauthenticationRedeemer | None = None,
        screener: Screener | None = None,
        signer: ReviewSigner | None = None,
        drafts: VersionSource | None = None,
        channels: ChannelStates | None = None,
    ) -> None:
        self._channels = channels
        self._repo = ReviewRepository(session)
        self._policy = policy
        self._audit = audit
        self._approvals = ApprovalWorkflowClient(temporal)
        self._credentials = credentials
        self._reauthentications = reauthentications
        self._screener = screener
        self._signer = signer
        self._drafts = drafts

    async def queue(self, principal: Principal, *, stage: str | None = None) -> list[QueueItem]:
        """Open tasks the caller may decide: their role (a named stage: they are named, or stand in
        for someone named who is away), not their own draft, not a second stage; with when each
        is due, whether it is overdue and whether it was escalated."""
        now = utcnow()
        decided = await self._repo.stages_decided_by(principal.user_id)
        delegations = await self._repo.delegations_active(now)
        tasks = [
            task
            for task in await self._repo.open_tasks()
            if (stage is None or task.stage == stage)
            and refusal(task, principal, delegations, now) is None
            and not decided.get(task.draft_id, set()) - {task.stage}
        ]
        escalated = {
            (n.draft_id, n.version, n.stage)
            for n in await self._repo.notices_for([t.draft_id for t in tasks])
            if n.kind == "escalation"
        }
        items: list[QueueItem] = []
        for task in tasks:
            screening = await self._repo.screening(task.screening_id) if task.screening_id else None
            approvals = await self._repo.approvals_of(task.draft_id, task.version, task.stage)
            on_behalf = [
                name
                for name in stands_for(principal, task.deciders, delegations, now)
                if name not in (principal.user_id, principal.username)
            ]
            items.append(
                QueueItem(
                    draft_id=task.draft_id,
                    version=task.version,
                    content_hash=task.content_hash,
                    stage=task.stage,
                    roles=task.roles,
                    author_id=task.author_id,
                    policy_version=task.policy_version,
                    opened_at=task.opened_at,
                    finding_count=len(screening.findings) if screening else 0,
                    categories=screening.categories if screening else [],
                    due_at=task.due_at,
                    overdue=task.due_at is not None and task.due_at <= now,
                    escalated=(task.draft_id, task.version, task.stage) in escalated,
                    approvals=len({a.decider_id for a in approvals}),
                    quorum=task.quorum,
                    deciders=list(task.deciders),
                    on_behalf_of=on_behalf,
                )
            )
        return sorted(items, key=due_first)

    async def flow(self, weeks: int) -> FlowReport:
        """Per stage and per ISO week: waiting, decided, median and p90 hours to a decision, SLA
        breaches and escalations (services/review/flow_report.py)."""
        now = utcnow()
        starts = week_starts(now, weeks)
        since = datetime.combine(starts[0], time.min, tzinfo=UTC)
        tasks = [TaskSpan(*row) for row in await self._repo.task_spans(since)]
        escalations = [Escalation(*row) for row in await self._repo.escalations_since(since)]
        flows = weekly_flow(tasks, escalations, list(self._policy.policy.stages), starts, now)
        return FlowReport(
            generated_at=now,
            weeks=[row.week for row in flows[0].weeks] if flows else [s.isoformat() for s in starts],
            stages=[StageFlowOut(stage=f.stage, weeks=[FlowWeek(**vars(w)) for w in f.weeks]) for f in flows],
        )

    async def require_in_queue(self, principal: Principal, draft_id: str, stage: str) -> None:
        """403 unless the caller's queue holds this stage of this draft (the rule to claim it)."""
        if not any(i.draft_id == draft_id for i in await self.queue(principal, stage=stage)):
            raise Forbidden(f"the {stage} stage of this draft is not in your queue")

    async def decidable_task(
        self, draft_id: str, version: int, author_id: str, stage: str, principal: Principal
    ) -> ReviewTask:
        """The open task of `stage` on the draft's current `version` that `principal` may decide, or
        the 403/404/409 that explains why not (the review UI shows it before anyone signs)."""
        tasks = {t.stage: t for t in await self._repo.open_tasks_for(draft_id) if t.version == version}
        task = tasks.get(stage)
        stages = self._policy.policy.stages
        roles = list(task.roles) if task else list(stages[stage].roles) if stage in stages else []
        if not roles:
            raise NotFound(f"there is no {stage!r} stage")
        if not principal.has_any(*roles):
            raise Forbidden(
                f"the {stage} stage is decided by {', '.join(roles)}; your roles are "
                f"{', '.join(sorted(principal.roles)) or 'none'}"
            )
        if author_id == principal.user_id:
            raise Forbidden("authors do not review their own drafts")
        if task is None:
            raise Conflict(f"the {stage} stage is not waiting for a decision on the current version")
        await self._refuse_ineligible(task, principal)
        decided = (await self._repo.stages_decided_by(principal.user_id)).get(draft_id, set())
        if decided - {stage}:
            raise Forbidden(f"you decided the {', '.join(sorted(decided))} stage of this draft already")
        return task

    async def decide(self, draft_id: str, data: DecisionIn, principal: Principal) -> DecisionOut:
        try:
            return await self._decide(draft_id, data, principal)
        except ClearpostError as exc:
            if exc.status_code in (403, 404, 409, 422):
                await self._repo.release_connection()
                await self._audit.append(
                    actor=principal,
                    action="decision.refused",
                    subject=f"draft:{draft_id}",
                    details={
                        "stage": data.stage,
                        "decision": data.decision,
                        "content_hash": data.content_hash,
                        "refusal": exc.code,
                        "reason": exc.detail,
                    },
                )
            raise

    async def _refuse_approval_to_unusable_channels(self, draft_id: str) -> None:
        """An approval for an account that is expired, revoked, missing scopes or unreachable is refused
        with the reason before anyone signs (the publisher's fact, asked now)."""
        if self._channels is None or self._drafts is None:
            return
        tasks = await self._repo.open_tasks_for(draft_id)
        if not tasks:
            return
        await self._repo.release_connection()
        content = await self._drafts.get_version(draft_id, tasks[-1].version)
        problems = await self._channels.unusable([str(c) for c in content.get("channels", [])])
        if problems:
            listed = "; ".join(f"{name}: {why}" for name, why in problems.items())
            raise Conflict(
                f"this post cannot be approved while a channel it goes to cannot take it: {listed}",
                code="channel_unusable",
            )

    async def _decide(self, draft_id: str, data: DecisionIn, principal: Principal) -> DecisionOut:
        if not principal.has_any(*REVIEW_ROLES):
            raise Forbidden("only legal, compliance and medical reviewers decide", code="refused")
        if self._credentials is None or not self._approvals.connected:
            raise UpstreamUnavailable("decisions are unavailable: the service is not connected")
        if data.decision == "approve":
            await self._refuse_approval_over_blocking_findings(draft_id, data.content_hash)
            await self._refuse_approval_to_unusable_channels(draft_id)
        # No pooled connection is held across a call to another service or to Temporal: the
        # update below waits for this service's own record_decision activity (issue #13).
        await self._repo.release_connection()
        authentication = SigningAuthentication()
        if data.password is not None and not await self._credentials.confirms(
            principal.username, data.password
        ):
            raise Forbidden(
                "the password did not match; the decision was not signed", code="signature_failed"
            )
        tasks = await self._repo.open_tasks_for(draft_id)
        if not tasks or self._signer is None or self._drafts is None:
            raise NotFound(f"draft {draft_id} has no review in progress")
        if data.reauthentication is not None:
            authentication = await self._reauthenticated(draft_id, tasks[-1].version, data, principal)
        task = next((t for t in tasks if t.stage == data.stage and t.version == tasks[-1].version), None)
        if task is not None:
            # Named deciders and their delegates are this service's facts; the workflow counts
            # distinct approvals of the same hash toward the stage's quorum.
            await self._refuse_ineligible(task, principal)
        await self._repo.release_connection()
        # The author is the drafts service's fact, checked here as well as in the workflow and the
        # publisher: nothing a Temporal client put into the workflow decides who may sign.
        if await self._drafts.author_of(draft_id, tasks[-1].version) == principal.user_id:
            raise Forbidden("the author of a draft may not decide on it", code="refused")
        # The signature binds the content hash the reviewer saw; a stale one is refused by the
        # workflow, which knows the version under review.
        signed = self._signer.decision(
            draft_id=draft_id,
            version=tasks[-1].version,
            content_hash=data.content_hash,
            stage=data.stage,
            decision=data.decision,
            reason=data.reason,
            signer=principal,
            signed_at=utcnow(),
            authentication=authentication,
        )
        await self._repo.release_connection()
        request = DecisionRequest(
            stage=data.stage,
            decision=data.decision,
            reason=data.reason,
            content_hash=data.content_hash,
            decider_id=principal.user_id,
            decider_name=principal.name,
            decider_roles=sorted(principal.roles),
            signed=signed,
        )
        accepted = await self._approvals.decide(draft_id, request)
        return DecisionOut(
            draft_id=draft_id,
            stage=accepted.stage,
            decision=accepted.decision,
            stage_status=accepted.stage_status,
            draft_status=accepted.draft_status,
            decided_at=accepted.decided_at,
            content_hash=data.content_hash,
        )

    async def _reauthenticated(
        self, draft_id: str, version: int, data: DecisionIn, principal: Principal
    ) -> SigningAuthentication:
        """The identity provider's fresh authentication of this signer for exactly this decision."""
        if self._reauthentications is None or data.reauthentication is None:
            raise UpstreamUnavailable("signing through the identity provider is not connected here")
        await self._repo.release_connection()
        binding = decision_binding(
            draft_id=draft_id, version=version, content_hash=data.content_hash, stage=data.stage
        )
        done = await self._reauthentications.redeem(
            data.reauthentication, user_id=principal.user_id, binding=binding
        )
        if done is None:
            raise Forbidden(
                "the identity provider's re-authentication is unknown, used, expired or for another"
                " decision; nothing was signed",
                code="signature_failed",
            )
        return SigningAuthentication(method=done.method, acr=done.acr, amr=done.amr, auth_time=done.auth_time)

    async def _refuse_ineligible(self, task: ReviewTask, principal: Principal) -> None:
        now = utcnow()
        why = refusal(task, principal, await self._repo.delegations_active(now), now)
        if why is not None:
            raise Forbidden(why, code="refused")

    async def screen_text(self, data: ScreeningIn) -> ScreeningOut:
        screener = self._screener or Screener(self._policy)
        # With the allow-list entries compliance approved, whichever process approved them.
        await refresh_allow_list(self._repo, screener)
        await self._repo.release_connection()
        with SCREENING_SECONDS.labels("api").time():
            outcome = screener.screen(
                data.text,
                patient_content=data.patient_content,
                consent_on_file=data.consent_on_file,
                kind=data.kind,
            )
        return ScreeningOut(
            policy_version=screener.policy.version,
            flag=bool(outcome.findings),
            blocking=outcome.blocking,
            categories=outcome.categories,
            products=outcome.products,
            drugs=outcome.drugs,
            findings=[FindingOut(**f.as_dict()) for f in outcome.findings],
        )

    # --- blocking findings ----------------------------------------------------------------------

    async def _under_review(self, draft_id: str) -> tuple[ReviewTask, Screening]:
        """The open review of a draft and the screening its tasks were opened with."""
        tasks = await self._repo.open_tasks_for(draft_id)
        if not tasks:
            raise NotFound(f"draft {draft_id} has no review in progress")
        task = tasks[-1]
        screening = await self._repo.screening(task.screening_id) if task.screening_id else None
        if screening is None:
            raise NotFound(f"draft {draft_id} version {task.version} has no stored screening")
        return task, screening

    async def _findings(self, draft_id: str) -> DraftFindings:
        task, screening = await self._under_review(draft_id)
        return await self._reviewed(draft_id, screening, task.version, task.content_hash, under_review=True)

    async def _reviewed(
        self, draft_id: str, screening: Screening, version: int, content_hash: str, *, under_review: bool
    ) -> DraftFindings:
        overrides = {o.finding_index: o for o in await self._repo.overrides(screening.id)}
        findings = []
        for index, raw in enumerate(screening.findings):
            override = overrides.get(index)
            findings.append(
                ReviewedFinding(
                    index=index,
                    **raw,
                    overridden=None
                    if override is None
                    else OverrideRecord(
                        finding_index=index,
                        finding_rule=override.finding_rule,
                        reason=override.reason,
                        reviewer_id=override.reviewer_id,
                        reviewer_name=override.reviewer_name,
                        policy_version=override.policy_version,
                        created_at=override.created_at,
                    ),
                )
            )
        unresolved = sum(1 for f in findings if f.severity == BLOCK and f.overridden is None)
        return DraftFindings(
            draft_id=draft_id,
            version=version,
            content_hash=content_hash,
            screening_id=screening.id,
            policy_version=screening.policy_version,
            categories=screening.categories,
            findings=findings,
            unresolved_blocking=unresolved,
            under_review=under_review,
        )

    async def findings(self, draft_id: str, principal: Principal) -> DraftFindings:
        """What the screening found in the version under review (else in the draft's latest screened
        version, e.g. one the consent gate sent back); reviewers, auditors, admins, the author."""
        if await self._repo.open_tasks_for(draft_id):
            result = await self._findings(draft_id)
            task, _ = await self._under_review(draft_id)
            author_id: str | None = task.author_id
        else:
            screening = await self._repo.latest_draft_screening(draft_id)
            if screening is None or screening.version is None or screening.content_hash is None:
                raise NotFound(f"draft {draft_id} has no review in progress and no screening")
            result = await self._reviewed(
                draft_id, screening, screening.version, screening.content_hash, under_review=False
            )
            author_id = screening.author_id
        if not (principal.has_any(*REVIEW_ROLES, "admin", "auditor") or author_id == principal.user_id):
            raise Forbidden("only reviewers, auditors, admins and the draft's author see its findings")
        return result

    async def _refuse_approval_over_blocking_findings(self, draft_id: str, content_hash: str) -> None:
        try:
            current = await self._findings(draft_id)
        except NotFound:
            return  # nothing under review here: the workflow answers with its own refusal
        if current.content_hash == content_hash and current.unresolved_blocking:
            rules = sorted({f.rule for f in current.findings if f.severity == BLOCK and f.overridden is None})
            raise Conflict(
                f"{current.unresolved_blocking} blocking screening finding(s) are unresolved "
                f"({', '.join(rules)}): a compliance reviewer must override them with a reason, "
                "or the author must change the text",
                code="blocking_findings",
            )

    async def override(self, draft_id: str, data: OverrideIn, principal: Principal) -> DraftFindings:
        """A compliance reviewer lets blocking findings stand, with a reason; audited, password-signed."""
        if not principal.has_any("compliance"):
            raise Forbidden("only compliance reviewers override blocking findings")
        current = await self._findings(draft_id)
        task, _ = await self._under_review(draft_id)
        if task.author_id == principal.user_id:
            raise Forbidden("the author of a draft may not override its findings")
        if data.content_hash != current.content_hash:
            raise Conflict(
                f"the content changed: the override names {data.content_hash[:12]}…, "
                f"the version under review is {current.content_hash[:12]}…",
                code="stale",
            )
        blocking = [f for f in current.findings if f.severity == BLOCK and f.overridden is None]
        if data.finding_index is not None:
            targets = [f for f in blocking if f.index == data.finding_index]
            if not targets:
                raise Unprocessable(f"finding {data.finding_index} is not an unresolved blocking finding")
        else:
            targets = [f for f in blocking if f.rule == data.finding_rule]
            if not targets:
                raise Unprocessable(f"no unresolved blocking finding has the rule {data.finding_rule!r}")
        if self._credentials is None:
            raise UpstreamUnavailable("overrides are unavailable: the service is not connected")
        await self._repo.release_connection()
        if not await self._credentials.confirms(principal.username, data.password):
            raise Forbidden(
                "the password did not match; the override was not signed", code="signature_failed"
            )
        added: list[FindingOverride] = []
        for finding in targets:
            added.append(
                FindingOverride(
                    id=str(uuid.uuid4()),
                    screening_id=current.screening_id,
                    draft_id=draft_id,
                    version=current.version,
                    content_hash=current.content_hash,
                    finding_index=finding.index,
                    finding_rule=finding.rule,
                    reason=data.reason,
                    reviewer_id=principal.user_id,
                    reviewer_name=principal.name,
                    policy_version=self._policy.version,
                    created_at=utcnow(),
                )
            )
            self._repo.add(added[-1])
        await self._repo.flush()
        # The audit trail names the finding by index, rule and category, never the matched text (PHI).
        await self._audit.append(
            actor=principal,
            action="finding.overridden",
            subject=f"draft:{draft_id}",
            details={
                "version": current.version,
                "content_hash": current.content_hash,
                "screening_id": current.screening_id,
                "findings": [{"index": f.index, "rule": f.rule, "category": f.category} for f in targets],
                "reason": data.reason,
                "policy_version": self._policy.version,
            },
        )
        result = await self._findings(draft_id)
        if result.unresolved_blocking == 0:
            try:
                await self._renew_requirement(draft_id, result, principal, data.reason)
            except ClearpostError:
                # The overrides were committed before the workflow was asked; it did not take the
                # renewed requirement, so they are taken back and the reviewer can try again.
                await self._repo.remove(added)
                await self._repo.release_connection()
                raise
        return result

    async def _renew_requirement(
        self, draft_id: str, findings: DraftFindings, principal: Principal, reason: str
    ) -> None:
        """Every blocking finding is cleared: re-sign the requirement and hand it to the workflow,
        which alone decides whether approvals may now proceed."""
        if not self._approvals.connected or self._signer is None:
            raise UpstreamUnavailable("overrides are unavailable: the service is not connected")
        tasks = [t for t in await self._repo.tasks_for_version(draft_id, findings.version)]
        order = list(self._policy.policy.stages)
        tasks.sort(key=lambda t: order.index(t.stage) if t.stage in order else len(order))
        requirement = self._signer.requirement(
            draft_id=draft_id,
            version=findings.version,
            content_hash=findings.content_hash,
            author_id=tasks[0].author_id,
            policy_version=tasks[0].policy_version,
            stages=[StageRequirement(t.stage, list(t.roles), quorum=t.quorum) for t in tasks],
            blocking_unresolved=0,
            signed_at=utcnow(),
            categories=list(findings.categories),
        )
        override = FindingsOverride(
            requirement=requirement,
            overrider_id=principal.user_id,
            overrider_name=principal.name,
            overrider_roles=sorted(principal.roles),
            reason=reason,
        )
        # The audited override is committed before the workflow is asked: its handler runs this
        # service's activities, which need the pool (and, on SQLite, the write lock) (issue #13).
        await self._repo.release_connection()
        await self._approvals.override_findings(draft_id, override)
