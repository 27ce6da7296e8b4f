"""The publisher's own check, before every post, that the content was approved as required.

It does not trust the workflow: it verifies the review service's signed stage requirement for
the exact content hash it is about to publish and a signed approval for every stage that
requirement names, from distinct, authorized, non-author signers (workflows/signatures.py). The
author the requirement names must be the one the drafts service records, and the drafts
service's consent gate must pass now, asked by the publisher itself: neither fact is taken from
the workflow, whose input and activity answers anyone with Temporal access could shape.
A refusal is audited and is final for that request.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from services.kit.audit_client import AuditRecorder
from services.kit.auth import KeySet
from services.kit.tokens import SignatureError
from workflows.contracts import PublishRequest
from workflows.signatures import (
    Requirement,
    SignedDecision,
    approval_problems,
    read_decision,
    read_requirement,
)

APPROVAL_REFUSED = "ApprovalRefused"


class ApprovalGate:
    def __init__(self, review_keys: KeySet, audit: AuditRecorder) -> None:
        self._keys = review_keys
        self._audit = audit

    @property
    def audit(self) -> AuditRecorder:
        return self._audit

    async def check(self, request: PublishRequest, *, author_id: str) -> Requirement:
        """The verified requirement, or an audited, final refusal."""
        requirement, problems = await self.problems(request, author_id=author_id)
        if requirement is None or problems:
            await self.refuse(request, problems)
        assert requirement is not None
        return requirement

    async def refuse(self, request: PublishRequest, problems: list[str]) -> None:
        await self._audit.append(
            actor="service:publisher",
            action="publish.refused",
            subject=f"draft:{request.draft_id}",
            details={"version": request.version, "content_hash": request.content_hash, "problems": problems},
            idempotency_key=f"publisher:refused:{request.draft_id}:{request.version}:{request.content_hash}",
        )
        raise ApplicationError(
            "refused to publish without valid signed approvals: " + "; ".join(problems),
            type=APPROVAL_REFUSED,
            non_retryable=True,
        )

    async def problems(
        self, request: PublishRequest, *, author_id: str
    ) -> tuple[Requirement | None, list[str]]:
        if not request.requirement:
            return None, ["no signed stage requirement came with the request"]
        for refresh in (False, True):
            keys = await self._keys.keys(refresh=refresh)
            try:
                requirement = read_requirement(request.requirement, keys)
                decisions: list[SignedDecision] = [read_decision(token, keys) for token in request.approvals]
            except SignatureError as exc:
                if refresh or "unknown key" not in str(exc):
                    return None, [f"a signature does not verify: {exc}"]
                continue
            problems = []
            if (requirement.draft_id, requirement.version, requirement.content_hash) != (
                request.draft_id,
                request.version,
                request.content_hash,
            ):
                problems.append("the signed requirement is for other content than this request")
            if requirement.author_id != author_id:
                problems.append(
                    f"the signed requirement names author {requirement.author_id!r}; "
                    f"the drafts service records {author_id!r}"
                )
            return requirement, problems + approval_problems(requirement, decisions)
        return None, ["the review service's keys could not be read"]  # pragma: no cover - loop returns
