"""The crisis lane's rules in the review service (docs/crisis-lane.md): who may start an emergency
post and who may co-sign it, the signed records, and what the report lists.

Every fact the gates rely on is this service's or read from its owner now: the content and author
from the drafts service, roles from the verified token, the password from the gateway, the window
and quorum from the policy. The workflow (workflows/crisis_post.py) and the publisher
(services/publisher/crisis.py) check the signatures again on their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.canonical import version_hash
from services.kit.clock import utcnow
from services.kit.credentials import CredentialChecker
from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable, UpstreamUnavailable
from services.kit.tokens import Principal
from services.review.crisis_models import AWAITING, CrisisApproval, CrisisPost
from services.review.crisis_repository import CrisisRepository
from services.review.crisis_schemas import CrisisApprovalOut, CrisisApproveIn, CrisisPostOut, CrisisStartIn
from services.review.drafts_client import VersionSource
from services.review.policy import LoadedPolicy
from services.review.screening.engine import Screener
from services.review.screening.findings import BLOCK
from services.review.signing import ReviewSigner
from workflows.client import ApprovalWorkflowClient
from workflows.crisis_client import CrisisWorkflowClient
from workflows.crisis_contracts import CrisisApproveRequest, CrisisPostInput
from workflows.crisis_signatures import (
    CRISIS_APPROVAL_TYPE,
    CRISIS_MEANING,
    CRISIS_ROLE,
    CRISIS_START_TYPE,
    CrisisStart,
    approval_claims,
    start_claims,
)
from workflows.crisis_signatures import (
    CrisisApproval as SignedCrisisApproval,
)

# Who sees crisis posts and the report: the crisis holders, reviewers, publishers and oversight.
CRISIS_READERS = ("crisis", "publisher", "compliance", "legal", "medical", "auditor", "admin")
# The normal review may be open for the draft only in these states when a crisis post starts
# (a draft never submitted, back with its author, or finished without being published).
STARTABLE_REVIEW_STATES = ("", "draft", "changes_requested", "rejected", "withdrawn")


def screen_for_crisis(policy: LoadedPolicy, screener: Screener | None, content: dict[str, Any]) -> list[str]:
    """The review service's own screening of a crisis text: the lane does not override a blocking
    finding (PHI, a missing consent); 422 with the categories when there is one."""
    outcome = (screener or Screener(policy)).screen(
        f"{content['title']}\n{content['body']}",
        patient_content=bool(content.get("patient_content")),
        consent_on_file=bool(content.get("consent_on_file", content.get("consent_id") is not None)),
        kind="post",
    )
    if outcome.blocking:
        blocking = sorted({f.category for f in outcome.findings if f.severity == BLOCK})
        raise Unprocessable(
            "the text has blocking screening findings the crisis lane does not override: "
            + ", ".join(blocking),
            code="blocking_findings",
        )
    return list(outcome.categories)


class CrisisService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        policy: LoadedPolicy,
        audit: AuditRecorder,
        credentials: CredentialChecker | None,
        signer: ReviewSigner | None,
        drafts: VersionSource | None,
        screener: Screener | None,
        workflows: CrisisWorkflowClient,
        approvals: ApprovalWorkflowClient,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = CrisisRepository(session)
        self._policy = policy
        self._audit = audit
        self._credentials = credentials
        self._signer = signer
        self._drafts = drafts
        self._screener = screener
        self._workflows = workflows
        self._approvals = approvals
        self._clock = clock

    # --- start ----------------------------------------------------------------------------------

    async def start(self, data: CrisisStartIn, principal: Principal) -> CrisisPostOut:
        if not principal.has_any(CRISIS_ROLE):
            raise Forbidden("only holders of the crisis role start an emergency post", code="refused")
        if self._credentials is None or self._signer is None or self._drafts is None:
            raise UpstreamUnavailable("crisis posts are unavailable: the service is not connected")
        if not self._workflows.connected:
            raise UpstreamUnavailable(
                "crisis posts are unavailable: the service is not connected to Temporal"
            )
        if await self._repo.open_for_draft(data.draft_id) is not None:
            raise Conflict(f"draft {data.draft_id} has a crisis post under way already", code="crisis_open")
        await self._repo.release_connection()
        if not await self._credentials.confirms(principal.username, data.password):
            raise Forbidden(
                "the password did not match; the crisis post was not signed", code="signature_failed"
            )
        content = await self._drafts.get_version(data.draft_id, data.version)
        recomputed = version_hash(content)
        if recomputed != content["content_hash"]:
            raise Conflict("the stored version does not match its content hash", code="content_mismatch")
        if not content["channels"]:
            raise Unprocessable("the version names no channel to post to", code="no_channels")
        if content.get("purpose", "post") != "post":
            raise Conflict(
                f"draft {data.draft_id} is a {content['purpose']}: a template is published through "
                "POST /api/v1/crisis/templates/{id}/posts once its review approved it",
                code="not_a_post",
            )
        categories = screen_for_crisis(self._policy, self._screener, content)
        await self._normal_review_allows(data.draft_id)
        crisis = self._policy.policy.crisis
        now = self._clock()
        start = CrisisStart(
            crisis_id=str(uuid.uuid4()),
            draft_id=data.draft_id,
            version=data.version,
            content_hash=recomputed,
            channels=tuple(str(c) for c in content["channels"]),
            author_id=str(content["author_id"]),
            starter_id=principal.user_id,
            starter_name=principal.name,
            starter_roles=tuple(sorted(principal.roles)),
            reason=data.reason.strip(),
            started_at=now.isoformat(),
            window_seconds=int(crisis.window.total_seconds()),
            approvers=crisis.approvers,
            after_review_seconds=int(crisis.after_review_within.total_seconds()),
            categories=tuple(sorted(categories)),
        )
        token = self._signer.record(start_claims(start), typ=CRISIS_START_TYPE)
        row = CrisisPost(
            id=start.crisis_id,
            draft_id=start.draft_id,
            version=start.version,
            content_hash=start.content_hash,
            channels=list(start.channels),
            author_id=start.author_id,
            starter_id=start.starter_id,
            starter_name=start.starter_name,
            reason=start.reason,
            started_at=now,
            window_ends_at=start.window_ends_at,
            approvers=start.approvers,
            after_review_seconds=start.after_review_seconds,
            start_record=token,
            status=AWAITING,
            outcome="",
            outcome_reason="",
        )
        self._repo.add(row)
        await self._repo.flush()
        await self._repo.release_connection()
        # Long enough for the window, publishing, the after-review and its takedown.
        runs_at_most = crisis.window + crisis.after_review_within + timedelta(days=1)
        await self._workflows.start(
            CrisisPostInput(start.crisis_id, token, self._signer.public_keys), runs_at_most=runs_at_most
        )
        await self._audit.append(
            actor=principal,
            action="crisis.started",
            subject=f"draft:{start.draft_id}",
            details={
                "crisis_id": start.crisis_id,
                "version": start.version,
                "content_hash": start.content_hash,
                "channels": list(start.channels),
                "reason": start.reason,
                "window_ends_at": start.window_ends_at.isoformat(),
                "approvers": start.approvers,
            },
            idempotency_key=f"crisis:{start.crisis_id}:started",
        )
        return self._out(row, [])

    async def _normal_review_allows(self, draft_id: str) -> None:
        try:
            status = (await self._approvals.state(draft_id)).status
        except NotFound:
            status = ""
        if status not in STARTABLE_REVIEW_STATES:
            raise Conflict(
                f"draft {draft_id} is {status} in its normal review; a crisis post needs a draft "
                "that is not in review or published",
                code="in_review",
            )

    # --- approve --------------------------------------------------------------------------------

    async def approve(self, crisis_id: str, data: CrisisApproveIn, principal: Principal) -> CrisisPostOut:
        if not principal.has_any(CRISIS_ROLE):
            raise Forbidden("only holders of the crisis role approve an emergency post", code="refused")
        if self._credentials is None or self._signer is None:
            raise UpstreamUnavailable("crisis posts are unavailable: the service is not connected")
        row = await self._get(crisis_id)
        now = self._clock()
        if row.status != AWAITING:
            raise Conflict(f"crisis post {crisis_id} is {row.status}; it takes no approvals", code="refused")
        if now > row.window_ends_at:
            raise Conflict(f"the window of crisis post {crisis_id} has passed", code="window_passed")
        if principal.user_id == row.starter_id:
            raise Forbidden("the starter of a crisis post may not approve it", code="refused")
        if principal.user_id == row.author_id:
            raise Forbidden("the author of the draft may not approve its crisis post", code="refused")
        approvals = await self._repo.approvals([row.id])
        if any(a.signer_id == principal.user_id for a in approvals):
            raise Conflict("you approved this crisis post already", code="already_approved")
        if data.content_hash != row.content_hash:
            raise Conflict(
                "the content hash is not the crisis post's: the content changed or another version was "
                "shown; nothing was signed",
                code="content_changed",
            )
        await self._repo.release_connection()
        if not await self._credentials.confirms(principal.username, data.password):
            raise Forbidden(
                "the password did not match; the approval was not signed", code="signature_failed"
            )
        record = SignedCrisisApproval(
            crisis_id=row.id,
            draft_id=row.draft_id,
            version=row.version,
            content_hash=row.content_hash,
            meaning=CRISIS_MEANING,
            signer_id=principal.user_id,
            signer_name=principal.name,
            signer_roles=tuple(sorted(principal.roles)),
            signer_active=True,
            signed_at=now.isoformat(),
        )
        token = self._signer.record(approval_claims(record), typ=CRISIS_APPROVAL_TYPE)
        approval = CrisisApproval(
            id=str(uuid.uuid4()),
            crisis_id=row.id,
            signer_id=principal.user_id,
            signer_name=principal.name,
            signed_at=now,
            record=token,
        )
        self._repo.add(approval)
        await self._repo.flush()
        await self._repo.release_connection()
        # The workflow's validator checks the signature again; its refusal rolls this row back.
        accepted = await self._workflows.approve(row.id, CrisisApproveRequest(principal.user_id, token))
        await self._audit.append(
            actor=principal,
            action="crisis.approved",
            subject=f"draft:{row.draft_id}",
            details={
                "crisis_id": row.id,
                "version": row.version,
                "content_hash": row.content_hash,
                "approvals": accepted.approvals,
                "needed": accepted.needed,
                "signature": token.rpartition(".")[2][:32],
            },
            idempotency_key=f"crisis:{row.id}:approved:{principal.user_id}",
        )
        return self._out(row, [*approvals, approval])

    # --- reads ----------------------------------------------------------------------------------

    async def get(self, crisis_id: str) -> CrisisPostOut:
        row = await self._get(crisis_id)
        return self._out(row, await self._repo.approvals([row.id]))

    async def list(self) -> list[CrisisPostOut]:
        rows = await self._repo.all()
        approvals = await self._repo.approvals([r.id for r in rows])
        return [self._out(r, [a for a in approvals if a.crisis_id == r.id]) for r in rows]

    async def _get(self, crisis_id: str) -> CrisisPost:
        row = await self._repo.get(crisis_id)
        if row is None:
            raise NotFound(f"crisis post {crisis_id} does not exist")
        return row

    def _out(self, row: CrisisPost, approvals: Sequence[CrisisApproval]) -> CrisisPostOut:
        now = self._clock()
        window_left = (row.window_ends_at - now).total_seconds() if row.status == AWAITING else 0
        review_left = 0.0
        if row.after_review_due_at is not None and row.closed_at is None:
            review_left = (row.after_review_due_at - now).total_seconds()
        return CrisisPostOut(
            id=row.id,
            draft_id=row.draft_id,
            version=row.version,
            content_hash=row.content_hash,
            channels=list(row.channels),
            starter_id=row.starter_id,
            starter_name=row.starter_name,
            reason=row.reason,
            status=row.status,
            started_at=row.started_at,
            window_ends_at=row.window_ends_at,
            approvers=row.approvers,
            approvals=[
                CrisisApprovalOut(signer_id=a.signer_id, signer_name=a.signer_name, signed_at=a.signed_at)
                for a in approvals
            ],
            published_at=row.published_at,
            after_review_due_at=row.after_review_due_at,
            outcome=row.outcome,
            outcome_reason=row.outcome_reason,
            closed_at=row.closed_at,
            window_seconds_left=max(int(window_left), 0),
            after_review_seconds_left=max(int(review_left), 0),
        )
