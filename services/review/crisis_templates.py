"""Pre-approved crisis templates in the review service (docs/crisis-lane.md).

A `crisis_template` draft passes the full normal review once. When its workflow reaches approval
it asks this service to record the template (`record_template_approval`): the approvals are
checked again here (the signed requirement and one signed approval per stage, for the exact
version the drafts service holds, which must be a template), and a template approval is signed
with the text, channels and the places and phones the policy allows now. A crisis holder then
publishes from it alone (`use`): password, typed values checked against the signed approval and
the policy's phones now, the filled text stored by the drafts service as the holder's own draft,
screened here, a signed use, and CrisisTemplatePostWorkflow, whose publisher activity checks it
all again. Audited: `template.approved`, `template.used`, `template.published` /
`template.publish_failed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.audit_client import AuditRecorder
from services.kit.canonical import version_hash
from services.kit.clock import utcnow
from services.kit.credentials import CredentialChecker
from services.kit.db import session_scope
from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable, UpstreamUnavailable
from services.kit.tokens import Principal, SignatureError
from services.review.crisis import screen_for_crisis
from services.review.crisis_template_models import ACTIVE, CrisisTemplate, CrisisTemplateUse
from services.review.crisis_template_repository import CrisisTemplateRepository
from services.review.crisis_template_schemas import TemplateOut, TemplateUseIn, TemplateUseOut
from services.review.drafts_client import TemplateFiller, VersionSource
from services.review.policy import LoadedPolicy
from services.review.screening.engine import Screener
from services.review.signing import ReviewSigner
from workflows.crisis_client import CrisisWorkflowClient
from workflows.crisis_template_contracts import (
    RECORD_TEMPLATE_APPROVAL,
    RECORD_TEMPLATE_POST_STEP,
    TemplateApprovalInput,
    TemplateApproved,
    TemplatePostInput,
    TemplatePostStep,
)
from workflows.crisis_templates import (
    CRISIS_ROLE,
    TEMPLATE_APPROVAL_TYPE,
    TEMPLATE_PURPOSE,
    TEMPLATE_USE_TYPE,
    TemplateApproval,
    TemplateUse,
    approval_claims,
    fill,
    normalized_phone,
    read_approval,
    use_claims,
    value_problems,
    variables_of,
)
from workflows.signatures import approval_problems, read_decision, read_requirement

TEMPLATE_ACTOR = "system:crisis"
POST_STEPS = {"published": "template.published", "publish_failed": "template.publish_failed"}


def _refuse(message: str, kind: str = "ApprovalRefused") -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def phones_now(policy: LoadedPolicy, approved: Sequence[str]) -> tuple[str, ...]:
    """The approved phones still on the policy's list: a number struck from it is refused at once."""
    allowed = {normalized_phone(p) for p in policy.policy.crisis.templates.phones}
    return tuple(p for p in approved if normalized_phone(p) in allowed)


class CrisisTemplateService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        policy: LoadedPolicy,
        audit: AuditRecorder,
        credentials: CredentialChecker | None,
        signer: ReviewSigner | None,
        drafts: TemplateFiller | None,
        screener: Screener | None,
        workflows: CrisisWorkflowClient,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = CrisisTemplateRepository(session)
        self._policy = policy
        self._audit = audit
        self._credentials = credentials
        self._signer = signer
        self._drafts = drafts
        self._screener = screener
        self._workflows = workflows
        self._clock = clock

    # --- reads ----------------------------------------------------------------------------------

    async def list(self, *, active_only: bool = False) -> list[TemplateOut]:
        rows = await self._repo.all(active_only=active_only)
        uses = await self._repo.uses([r.id for r in rows])
        return [self._out(r, [u for u in uses if u.template_row_id == r.id]) for r in rows]

    async def get(self, row_id: str) -> TemplateOut:
        row = await self._get(row_id)
        return self._out(row, await self._repo.uses([row.id]))

    async def _get(self, row_id: str) -> CrisisTemplate:
        row = await self._repo.get(row_id)
        if row is None:
            raise NotFound(f"crisis template {row_id} does not exist")
        return row

    # --- use ------------------------------------------------------------------------------------

    async def use(self, row_id: str, data: TemplateUseIn, principal: Principal) -> TemplateUseOut:
        if not principal.has_any(CRISIS_ROLE):
            raise Forbidden("only holders of the crisis role publish from a template", code="refused")
        if self._credentials is None or self._signer is None or self._drafts is None:
            raise UpstreamUnavailable("crisis templates are unavailable: the service is not connected")
        if not self._workflows.connected:
            raise UpstreamUnavailable(
                "crisis templates are unavailable: the service is not connected to Temporal"
            )
        row = await self._get(row_id)
        if row.status != ACTIVE:
            raise Conflict(
                f"crisis template {row_id} is {row.status}: a later version of it was approved",
                code="template_superseded",
            )
        approval = read_approval(row.approval_record, self._signer.public_keys)
        values = {k: v.strip() for k, v in data.values.items()}
        problems = value_problems(
            approval.variables,
            values,
            places=approval.places,
            phones=phones_now(self._policy, approval.phones),
        )
        if problems:
            raise Unprocessable(
                "the values do not fit the template: " + "; ".join(problems), code="invalid_values"
            )
        await self._repo.release_connection()
        if not await self._credentials.confirms(principal.username, data.password):
            raise Forbidden(
                "the password did not match; nothing was published from the template", code="signature_failed"
            )
        title, body = fill(approval.title, values), fill(approval.body, values)
        screen_for_crisis(
            self._policy,
            self._screener,
            {"title": title, "body": body, "patient_content": False, "consent_on_file": False},
        )
        use_id = str(uuid.uuid4())
        content = await self._drafts.fill_template(
            {
                "draft_id": use_id,
                "template_id": approval.template_id,
                "template_version": approval.version,
                "values": values,
                "author_id": principal.user_id,
                "author_name": principal.name,
            }
        )
        recomputed = version_hash(content)
        if (content["title"], content["body"], recomputed) != (title, body, content["content_hash"]):
            raise Conflict(
                "the drafts service's filled text is not the approved template filled with these values",
                code="content_mismatch",
            )
        now = self._clock()
        use = TemplateUse(
            use_id=use_id,
            template_id=approval.template_id,
            template_version=approval.version,
            template_hash=approval.content_hash,
            draft_id=str(content["draft_id"]),
            version=int(content["version"]),
            content_hash=recomputed,
            channels=tuple(str(c) for c in content["channels"]),
            values=tuple(sorted(values.items())),
            user_id=principal.user_id,
            user_name=principal.name,
            user_roles=tuple(sorted(principal.roles)),
            reason=data.reason.strip(),
            used_at=now.isoformat(),
        )
        token = self._signer.record(use_claims(use), typ=TEMPLATE_USE_TYPE)
        use_row = CrisisTemplateUse(
            id=use_id,
            template_row_id=row.id,
            draft_id=use.draft_id,
            version=use.version,
            content_hash=use.content_hash,
            channels=list(use.channels),
            values=dict(use.values),
            user_id=use.user_id,
            user_name=use.user_name,
            reason=use.reason,
            used_at=now,
            use_record=token,
            status="publishing",
            outcome_reason="",
        )
        self._repo.add(use_row)
        await self._repo.flush()
        await self._repo.release_connection()
        await self._workflows.start_template_post(
            TemplatePostInput(
                use_id=use_id,
                draft_id=use.draft_id,
                version=use.version,
                content_hash=use.content_hash,
                channels=list(use.channels),
                approval=row.approval_record,
                use=token,
            )
        )
        await self._audit.append(
            actor=principal,
            action="template.used",
            subject=f"draft:{use.draft_id}",
            details={
                "use_id": use_id,
                "template_id": approval.template_id,
                "template_version": approval.version,
                "template_hash": approval.content_hash,
                "version": use.version,
                "content_hash": use.content_hash,
                "channels": list(use.channels),
                "values": dict(use.values),
                "reason": use.reason,
                "signature": token.rpartition(".")[2][:32],
            },
            idempotency_key=f"template:{use_id}:used",
        )
        return self._use_out(use_row, approval)

    # --- views ----------------------------------------------------------------------------------

    def _out(self, row: CrisisTemplate, uses: Sequence[CrisisTemplateUse]) -> TemplateOut:
        approval = self._approval_of(row)
        return TemplateOut(
            id=row.id,
            template_id=row.template_id,
            version=row.version,
            content_hash=row.content_hash,
            title=approval.title if approval else row.title,
            body=approval.body if approval else "",
            channels=list(row.channels),
            variables=list(row.variables),
            places=list(row.places),
            phones=list(phones_now(self._policy, row.phones)),
            author_id=row.author_id,
            approvers=list(row.approvers),
            approved_at=row.approved_at,
            status=row.status,
            uses=[self._use_out(u, approval) for u in uses],
        )

    def _approval_of(self, row: CrisisTemplate) -> TemplateApproval | None:
        if self._signer is None:
            return None
        try:
            return read_approval(row.approval_record, self._signer.public_keys)
        except SignatureError:
            return None

    @staticmethod
    def _use_out(use: CrisisTemplateUse, approval: TemplateApproval | None) -> TemplateUseOut:
        return TemplateUseOut(
            id=use.id,
            template_id=approval.template_id if approval else "",
            template_version=approval.version if approval else 0,
            draft_id=use.draft_id,
            version=use.version,
            content_hash=use.content_hash,
            channels=list(use.channels),
            values=dict(use.values),
            title=fill(approval.title, use.values) if approval else "",
            body=fill(approval.body, use.values) if approval else "",
            user_id=use.user_id,
            user_name=use.user_name,
            reason=use.reason,
            used_at=use.used_at,
            status=use.status,
            outcome_reason=use.outcome_reason,
            finished_at=use.finished_at,
        )


class CrisisTemplateActivities:
    """record_template_approval (PostApprovalWorkflow) and record_template_post_step
    (CrisisTemplatePostWorkflow), on the review service's task queue."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: LoadedPolicy,
        audit: AuditRecorder,
        versions: VersionSource,
        signer: ReviewSigner,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._policy = policy
        self._audit = audit
        self._versions = versions
        self._signer = signer
        self._clock = clock

    @activity.defn(name=RECORD_TEMPLATE_APPROVAL)
    async def record_template_approval(self, request: TemplateApprovalInput) -> TemplateApproved:
        """Check the approvals again, for the version the drafts service holds, and sign the
        template approval once (a retry finds the row and answers the same)."""
        async with session_scope(self._sessionmaker) as session:
            existing = await CrisisTemplateRepository(session).of_version(request.draft_id, request.version)
            if existing is not None:
                return TemplateApproved(existing.template_id, existing.version)
        content = await self._versions.get_version(request.draft_id, request.version)
        if content.get("purpose") != TEMPLATE_PURPOSE:
            raise _refuse(f"draft {request.draft_id} is not a crisis template", "NotATemplate")
        recomputed = version_hash(content)
        if recomputed != request.content_hash or content["content_hash"] != request.content_hash:
            raise _refuse(
                "the stored template version does not match the approved content hash", "ContentMismatch"
            )
        keys = self._signer.public_keys
        try:
            requirement = read_requirement(request.requirement, keys)
            decisions = [read_decision(token, keys) for token in request.approvals]
        except SignatureError as exc:
            raise _refuse(f"a signature of the template's review does not verify: {exc}") from exc
        problems = approval_problems(requirement, decisions)
        if (requirement.draft_id, requirement.version, requirement.content_hash) != (
            request.draft_id,
            request.version,
            request.content_hash,
        ):
            problems.append("the signed requirement is for other content than this template version")
        if requirement.author_id != content["author_id"]:
            problems.append("the signed requirement names another author than the drafts service records")
        if problems:
            await self._audit.append(
                actor=TEMPLATE_ACTOR,
                action="template.refused",
                subject=f"draft:{request.draft_id}",
                details={
                    "version": request.version,
                    "content_hash": request.content_hash,
                    "problems": problems,
                },
                idempotency_key=f"template:{request.draft_id}:{request.version}:refused",
            )
            raise _refuse("the template's approvals do not hold: " + "; ".join(problems))
        crisis = self._policy.policy.crisis.templates
        now = self._clock()
        approval = TemplateApproval(
            template_id=request.draft_id,
            version=request.version,
            content_hash=recomputed,
            title=str(content["title"]),
            body=str(content["body"]),
            channels=tuple(str(c) for c in content["channels"]),
            variables=variables_of(str(content["title"]), str(content["body"])),
            places=tuple(crisis.places),
            phones=tuple(crisis.phones),
            author_id=str(content["author_id"]),
            policy_version=requirement.policy_version,
            approvers=tuple(sorted(d.signer_id for d in decisions)),
            approved_at=now.isoformat(),
        )
        token = self._signer.record(approval_claims(approval), typ=TEMPLATE_APPROVAL_TYPE)
        async with session_scope(self._sessionmaker) as session:
            repo = CrisisTemplateRepository(session)
            await repo.supersede_older(approval.template_id, approval.version)
            repo.add(
                CrisisTemplate(
                    id=str(uuid.uuid4()),
                    template_id=approval.template_id,
                    version=approval.version,
                    content_hash=approval.content_hash,
                    title=approval.title,
                    channels=list(approval.channels),
                    variables=list(approval.variables),
                    places=list(approval.places),
                    phones=list(approval.phones),
                    author_id=approval.author_id,
                    approvers=list(approval.approvers),
                    approved_at=now,
                    approval_record=token,
                    status=ACTIVE,
                )
            )
        await self._audit.append(
            actor=TEMPLATE_ACTOR,
            action="template.approved",
            subject=f"draft:{approval.template_id}",
            details={
                "version": approval.version,
                "content_hash": approval.content_hash,
                "channels": list(approval.channels),
                "variables": list(approval.variables),
                "places": list(approval.places),
                "phones": list(approval.phones),
                "approvers": list(approval.approvers),
                "signature": token.rpartition(".")[2][:32],
            },
            idempotency_key=f"template:{approval.template_id}:{approval.version}:approved",
        )
        return TemplateApproved(approval.template_id, approval.version)

    @activity.defn(name=RECORD_TEMPLATE_POST_STEP)
    async def record_template_post_step(self, step: TemplatePostStep) -> None:
        if step.step not in POST_STEPS:
            raise _refuse(f"unknown template post step {step.step!r}", "Invalid")
        async with session_scope(self._sessionmaker) as session:
            row = await CrisisTemplateRepository(session).use(step.use_id, for_update=True)
            if row is None:
                raise _refuse(f"template post {step.use_id} does not exist", "NotFound")
            row.status = step.step
            row.outcome_reason = step.reason
            row.finished_at = row.finished_at or self._clock()
            draft_id, version, digest = row.draft_id, row.version, row.content_hash
        await self._audit.append(
            actor=TEMPLATE_ACTOR,
            action=POST_STEPS[step.step],
            subject=f"draft:{draft_id}",
            details={
                "use_id": step.use_id,
                "version": version,
                "content_hash": digest,
                "reason": step.reason,
            },
            idempotency_key=f"template:{step.use_id}:{step.step}",
        )

    @property
    def all(self) -> list[Callable[..., Any]]:
        return [self.record_template_approval, self.record_template_post_step]
