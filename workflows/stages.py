"""The stage rules of PostApprovalWorkflow, pure and clock-free (the workflow passes its own now).

A round's stages, when a stage is open to a decision, when a round is settled and how, and the
check that a decision carries the review service's signature over exactly the facts it claims.
Nothing here awaits or touches Temporal state, so moving it out of the workflow class changed no
history (the saved histories replay unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.exceptions import ApplicationError

from services.kit.tokens import SignatureError
from workflows.contracts import (
    REFUSED_CONFLICT,
    REFUSED_FORBIDDEN,
    DecisionRequest,
    DecisionSnapshot,
    StageRequirement,
)
from workflows.signatures import Requirement, decision_problems, read_decision

# A signed decision must reach the workflow within this long of its signing.
SIGNATURE_MAX_AGE = timedelta(minutes=10)
STAGE_STATUS_FOR = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}


@dataclass
class Stage:
    requirement: StageRequirement
    status: str = "pending"
    decisions: list[DecisionSnapshot] = field(default_factory=list)


def refuse(kind: str, message: str) -> ApplicationError:
    """A validator's refusal: final, typed per contract (the API maps it to 403/409/422)."""
    return ApplicationError(message, type=kind, non_retryable=True)


def stage_is_open(stages: Mapping[str, Stage], name: str) -> bool:
    """A stage waits for every earlier stage it is sequential with to approve."""
    names = list(stages)
    me = stages[name]
    for earlier in names[: names.index(name)]:
        other = stages[earlier]
        sequential = not (me.requirement.parallel and other.requirement.parallel)
        if sequential and other.status != "approved":
            return False
    return True


def all_approved(stages: Mapping[str, Stage]) -> bool:
    return bool(stages) and all(s.status == "approved" for s in stages.values())


def round_settled(stages: Mapping[str, Stage]) -> bool:
    """One rejection or request for changes settles a round; otherwise every stage must approve."""
    statuses = [s.status for s in stages.values()]
    return any(s in ("rejected", "changes_requested") for s in statuses) or all(
        s == "approved" for s in statuses
    )


def round_outcome(stages: Mapping[str, Stage]) -> str:
    statuses = [s.status for s in stages.values()]
    if "rejected" in statuses:
        return "rejected"
    if "changes_requested" in statuses:
        return "changes_requested"
    return "approved"


def check_signed_decision(
    request: DecisionRequest, requirement: Requirement, keys: dict[str, dict[str, Any]], now: datetime
) -> None:
    """Refuse (raise) unless the decision carries the review service's signature over exactly these
    facts, fits the signed requirement, was signed within SIGNATURE_MAX_AGE of `now`, and (for an
    approval) no blocking finding is left unresolved."""
    try:
        signed = read_decision(request.signed, keys)
    except SignatureError as exc:
        raise refuse(REFUSED_FORBIDDEN, f"the decision is not validly signed: {exc}") from exc
    claimed = (request.stage, request.decision, request.content_hash, request.decider_id, request.reason)
    if (
        signed.stage,
        signed.decision,
        signed.content_hash,
        signed.signer_id,
        signed.reason,
    ) != claimed or set(signed.signer_roles) != set(request.decider_roles):
        raise refuse(REFUSED_FORBIDDEN, "the signed record does not match the decision it came with")
    problems = decision_problems(requirement, signed)
    if problems:
        raise refuse(REFUSED_FORBIDDEN, problems[0])
    try:
        signed_at = datetime.fromisoformat(signed.signed_at)
    except ValueError as exc:
        raise refuse(REFUSED_FORBIDDEN, "the signing time is not a valid timestamp") from exc
    if abs(now - signed_at) > SIGNATURE_MAX_AGE:
        raise refuse(REFUSED_CONFLICT, "the signature is too old or from the future; sign again")
    if request.decision == "approve" and requirement.blocking_unresolved:
        raise refuse(
            REFUSED_CONFLICT,
            f"{requirement.blocking_unresolved} blocking screening finding(s) must be fixed by the "
            "author or overridden by compliance before approval",
        )
