"""Review: the queue a reviewer works from, signed decisions, and screening a text on request."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.kit.audit_client import AuditClient
from services.kit.errors import ClearpostError, Forbidden, NotFound, UpstreamUnavailable
from services.kit.temporal import is_not_found, refusal_to_error
from services.kit.tokens import Principal
from services.review.credentials import CredentialChecker
from services.review.policy import REVIEW_ROLES, LoadedPolicy
from services.review.repository import ReviewRepository
from services.review.schemas import (
    DecisionIn,
    DecisionOut,
    FindingOut,
    QueueItem,
    ScreeningIn,
    ScreeningOut,
)
from services.review.screening import Screener
from workflows.contracts import DECIDE_UPDATE, DecisionAccepted, DecisionRequest, workflow_id_for


def now() -> datetime:
    return datetime.now(UTC)


class ReviewService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        policy: LoadedPolicy,
        audit: AuditClient,
        temporal: Client | None = None,
        credentials: CredentialChecker | None = None,
    ) -> None:
        self._repo = ReviewRepository(session)
        self._policy = policy
        self._audit = audit
        self._temporal = temporal
        self._credentials = credentials

    async def queue(self, principal: Principal, *, stage: str | None = None) -> list[QueueItem]:
        """Open tasks the caller may decide: their role, not their own draft, not a second stage."""
        decided = await self._repo.stages_decided_by(principal.user_id)
        items: list[QueueItem] = []
        for task in await self._repo.open_tasks():
            if stage is not None and task.stage != stage:
                continue
            if not principal.has_any(*task.roles) or task.author_id == principal.user_id:
                continue
            if decided.get(task.draft_id, set()) - {task.stage}:
                continue
            screening = await self._repo.screening(task.screening_id) if task.screening_id else None
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
                )
            )
        return items

    async def decide(self, draft_id: str, data: DecisionIn, principal: Principal) -> DecisionOut:
        try:
            return await self._decide(draft_id, data, principal)
        except ClearpostError as exc:
            if exc.status_code in (403, 404, 409, 422):
                await self._audit.append(
                    actor=principal.user_id,
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

    async def _decide(self, draft_id: str, data: DecisionIn, principal: Principal) -> DecisionOut:
        if not principal.has_any(*REVIEW_ROLES):
            raise Forbidden("only legal, compliance and medical reviewers decide", code="refused")
        if self._credentials is None or self._temporal is None:
            raise UpstreamUnavailable("decisions are unavailable: the service is not connected")
        if not await self._credentials.confirms(principal.username, data.password):
            raise Forbidden(
                "the password did not match; the decision was not signed", code="signature_failed"
            )
        handle = self._temporal.get_workflow_handle(workflow_id_for(draft_id))
        request = DecisionRequest(
            stage=data.stage,
            decision=data.decision,
            reason=data.reason,
            content_hash=data.content_hash,
            decider_id=principal.user_id,
            decider_name=principal.name,
            decider_roles=sorted(principal.roles),
        )
        try:
            accepted = await handle.execute_update(DECIDE_UPDATE, request, result_type=DecisionAccepted)
        except WorkflowUpdateFailedError as exc:
            raise refusal_to_error(exc) from exc
        except RPCError as exc:
            if is_not_found(exc):
                raise NotFound(f"draft {draft_id} has no review in progress") from exc
            raise UpstreamUnavailable(f"the workflow engine did not take the decision: {exc}") from exc
        return DecisionOut(
            draft_id=draft_id,
            stage=accepted.stage,
            decision=accepted.decision,
            stage_status=accepted.stage_status,
            draft_status=accepted.draft_status,
            decided_at=accepted.decided_at,
            content_hash=data.content_hash,
        )

    def screen_text(self, data: ScreeningIn) -> ScreeningOut:
        outcome = Screener(self._policy).screen(
            data.text, patient_content=data.patient_content, consent_on_file=data.consent_on_file
        )
        return ScreeningOut(
            policy_version=self._policy.version,
            flag=bool(outcome.findings),
            categories=outcome.categories,
            products=outcome.products,
            findings=[FindingOut(**f.as_dict()) for f in outcome.findings],
        )
