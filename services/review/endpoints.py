from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from services.kit.auth import CurrentPrincipal, require_roles
from services.review.deps import DelegationServiceDep, FeedbackServiceDep, ReviewServiceDep
from services.review.flow_report import FLOW_ROLES, MAX_WEEKS
from services.review.schemas import (
    DecisionIn,
    DecisionOut,
    DelegationIn,
    DelegationOut,
    Delegations,
    DraftFeedback,
    DraftFindings,
    FeedbackIn,
    FlowReport,
    MarkOut,
    OverrideIn,
    PolicyOut,
    ProposalDecisionIn,
    ProposalOut,
    Proposals,
    Queue,
    ScreeningIn,
    ScreeningOut,
)

router = APIRouter(prefix="/api/v1", tags=["review"])


@router.get("/reviews/keys")
async def review_signing_keys(request: Request) -> dict[str, list[dict[str, Any]]]:
    """Every public key the review service has signed requirements and decisions with, retired ones
    with their `retired_at` (public; revoked keys are not listed)."""
    return {"keys": list((await request.app.state.published_keys.keys()).values())}


@router.get("/reviews/queue", response_model=Queue)
async def review_queue(
    principal: CurrentPrincipal,
    service: ReviewServiceDep,
    stage: str | None = Query(default=None, max_length=64),
) -> Queue:
    """Review tasks the caller may decide: the soonest due first, then those without an SLA, oldest first."""
    return Queue(tasks=await service.queue(principal, stage=stage))


@router.get(
    "/reviews/flow",
    response_model=FlowReport,
    dependencies=[require_roles(*FLOW_ROLES)],
)
async def review_flow(
    service: ReviewServiceDep,
    weeks: int = Query(default=8, ge=1, le=MAX_WEEKS, description="how many ISO weeks, this one last"),
) -> FlowReport:
    """Per stage and per week: tasks waiting, decided, median and p90 hours to a decision, SLA
    breaches and escalations."""
    return await service.flow(weeks)


@router.post(
    "/reviews/delegations",
    response_model=DelegationOut,
    status_code=201,
    dependencies=[require_roles("compliance", "legal", "medical")],
)
async def create_delegation(
    data: DelegationIn, principal: CurrentPrincipal, service: DelegationServiceDep
) -> DelegationOut:
    """While the caller is away, `delegate` decides for them on the stages that name them; audited."""
    return await service.create(data, principal)


@router.get(
    "/reviews/delegations",
    response_model=Delegations,
    dependencies=[require_roles("compliance", "legal", "medical")],
)
async def list_delegations(principal: CurrentPrincipal, service: DelegationServiceDep) -> Delegations:
    """The caller's delegations, and those in force that name them as the delegate."""
    return await service.mine(principal)


@router.delete(
    "/reviews/delegations/{delegation_id}",
    response_model=DelegationOut,
    dependencies=[require_roles("compliance", "legal", "medical")],
)
async def cancel_delegation(
    delegation_id: str, principal: CurrentPrincipal, service: DelegationServiceDep
) -> DelegationOut:
    """End one of the caller's delegations now; audited."""
    return await service.cancel(delegation_id, principal)


@router.post("/reviews/{draft_id}/decisions", response_model=DecisionOut)
async def decide(
    draft_id: str, data: DecisionIn, principal: CurrentPrincipal, service: ReviewServiceDep
) -> DecisionOut:
    """Approve, reject or request changes on one stage, bound to `content_hash`; signed by password, or
    for an SSO user by `reauthentication`, the gateway's proof of a fresh sign-in at the identity
    provider for this decision (docs/identity.md)."""
    return await service.decide(draft_id, data, principal)


@router.get("/reviews/{draft_id}/findings", response_model=DraftFindings)
async def draft_findings(
    draft_id: str, principal: CurrentPrincipal, service: ReviewServiceDep
) -> DraftFindings:
    """The screening findings (with spans) of the version under review, and any overrides."""
    return await service.findings(draft_id, principal)


@router.post("/reviews/{draft_id}/overrides", response_model=DraftFindings)
async def override_findings(
    draft_id: str, data: OverrideIn, principal: CurrentPrincipal, service: ReviewServiceDep
) -> DraftFindings:
    """Compliance lets blocking findings stand (one by index, or all of one rule); reason required, signed."""
    return await service.override(draft_id, data, principal)


@router.post(
    "/reviews/{draft_id}/feedback",
    response_model=MarkOut,
    status_code=201,
    dependencies=[require_roles("compliance", "legal", "medical")],
)
async def mark_screening(
    draft_id: str, data: FeedbackIn, principal: CurrentPrincipal, service: FeedbackServiceDep
) -> MarkOut:
    """A reviewer marks a finding of the current screening wrong (a PHI one may propose "this is
    ours" for the allow-list) or a passage it missed, bound to `content_hash`; audited."""
    return await service.mark(draft_id, data, principal)


@router.get(
    "/reviews/{draft_id}/feedback",
    response_model=DraftFeedback,
    dependencies=[require_roles("admin", "auditor", "compliance", "legal", "medical")],
)
async def screening_feedback(
    draft_id: str, principal: CurrentPrincipal, service: FeedbackServiceDep
) -> DraftFeedback:
    """Every reviewer's mark on the draft's screenings (reviewers, auditors, admins)."""
    return await service.marks(draft_id, principal)


@router.get(
    "/screenings/allow-list/proposals",
    response_model=Proposals,
    dependencies=[require_roles("admin", "auditor", "compliance")],
)
async def allow_list_proposals(
    principal: CurrentPrincipal,
    service: FeedbackServiceDep,
    status: Literal["pending", "approved", "rejected", "all"] = "pending",
) -> Proposals:
    """Allow-list entries proposed by "this is ours" marks (compliance, auditors, admins)."""
    return Proposals(proposals=await service.proposals(principal, None if status == "all" else status))


@router.post(
    "/screenings/allow-list/proposals/{proposal_id}/approve",
    response_model=ProposalOut,
    dependencies=[require_roles("compliance")],
)
async def approve_allow_list_proposal(
    proposal_id: str, data: ProposalDecisionIn, principal: CurrentPrincipal, service: FeedbackServiceDep
) -> ProposalOut:
    """A compliance reviewer other than the proposer approves: every later screening allows the value."""
    return await service.decide_proposal(proposal_id, True, data, principal)


@router.post(
    "/screenings/allow-list/proposals/{proposal_id}/reject",
    response_model=ProposalOut,
    dependencies=[require_roles("compliance")],
)
async def reject_allow_list_proposal(
    proposal_id: str, data: ProposalDecisionIn, principal: CurrentPrincipal, service: FeedbackServiceDep
) -> ProposalOut:
    """A compliance reviewer other than the proposer rejects the proposal, with a reason."""
    return await service.decide_proposal(proposal_id, False, data, principal)


@router.post("/screenings", response_model=ScreeningOut)
async def screen_text(data: ScreeningIn, _: CurrentPrincipal, service: ReviewServiceDep) -> ScreeningOut:
    """Screen a text with the current policy (nothing is stored)."""
    return await service.screen_text(data)


@router.get(
    "/policy",
    response_model=PolicyOut,
    dependencies=[require_roles("admin", "compliance", "legal", "medical")],
)
async def current_policy(request: Request) -> PolicyOut:
    policy = request.app.state.policy
    return PolicyOut(version=policy.version, name=policy.policy.name, document=policy.document)
