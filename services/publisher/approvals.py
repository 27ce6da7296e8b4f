"""The publisher's own check, before every post, that the content was approved as required.

It does not trust the workflow: it verifies the review service's signed stage requirement for
the exact content hash it is about to publish and a signed approval for every stage that
requirement names, from distinct, authorized, non-author signers (workflows/signatures.py).
A refusal is audited and is final for that request.
"""

from __future__ import annotations

from typing import Any, Protocol

from temporalio.exceptions import ApplicationError

from services.kit.auth import KeySet
from services.kit.tokens import SignatureError
from workflows.contracts import PublishRequest
from workflows.signatures import SignedDecision, approval_problems, read_decision, read_requirement

APPROVAL_REFUSED = "ApprovalRefused"


class AuditRecorder(Protocol):
    async def append(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]: ...


class ApprovalGate:
    def __init__(self, review_keys: KeySet, audit: AuditRecorder) -> None:
        self._keys = review_keys
        self._audit = audit

    async def check(self, request: PublishRequest) -> None:
        problems = await self.problems(request)
        if not problems:
            return
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

    async def problems(self, request: PublishRequest) -> list[str]:
        if not request.requirement:
            return ["no signed stage requirement came with the request"]
        for refresh in (False, True):
            keys = await self._keys.keys(refresh=refresh)
            try:
                requirement = read_requirement(request.requirement, keys)
                decisions: list[SignedDecision] = [read_decision(token, keys) for token in request.approvals]
            except SignatureError as exc:
                if refresh or "unknown key" not in str(exc):
                    return [f"a signature does not verify: {exc}"]
                continue
            problems = []
            if (requirement.draft_id, requirement.version, requirement.content_hash) != (
                request.draft_id,
                request.version,
                request.content_hash,
            ):
                problems.append("the signed requirement is for other content than this request")
            return problems + approval_problems(requirement, decisions)
        return ["the review service's keys could not be read"]  # pragma: no cover - loop returns
