"""Signed stage requirements and signed decisions, and the rule that a set of them approves a post.

The review service signs both records (services/kit/tokens.sign_record, its own ES256 key). The
workflow's decide validator checks each decision with these functions before accepting it, and
the publisher checks the full set again, on its own, before every post: a buggy or compromised
workflow still cannot publish content without valid signatures from distinct, authorized,
non-author signers. Everything here is pure and clock-free, so it is safe in workflow code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.kit.tokens import DECISION_TYPE, REQUIREMENT_TYPE, SignatureError, verify_record

MEANINGS = {
    "approve": "I approve this exact content for publication.",
    "reject": "I reject this content; it must not be published.",
    "request_changes": "I request changes before this content can be published.",
}


@dataclass(frozen=True)
class SignedStage:
    name: str
    roles: tuple[str, ...]
    # Distinct approvals the stage needs (records signed before quorums existed: 1).
    quorum: int = 1


@dataclass(frozen=True)
class Requirement:
    draft_id: str
    version: int
    content_hash: str
    author_id: str
    policy_version: str
    stages: tuple[SignedStage, ...]
    blocking_unresolved: int
    # When it was signed (a retired key verifies only what it signed before its retirement) and
    # the categories of the review service's own screening of this version, which the publisher
    # hands to the drafts service's consent check. Records signed before these existed read as
    # "" and ().
    signed_at: str = ""
    categories: tuple[str, ...] = ()
    # How long the approved content may stay live (the policy's `lifetimes`; 0: no limit) and what
    # happens at the end: "pull" (taken down) or "re_review" (taken down, and back to review).
    lifetime_days: int = 0
    on_expiry: str = ""


@dataclass(frozen=True)
class SignedDecision:
    draft_id: str
    version: int
    content_hash: str
    stage: str
    decision: str
    meaning: str
    signer_id: str
    signer_name: str
    signer_roles: tuple[str, ...]
    signer_active: bool
    signed_at: str
    reason: str
    # How the signer proved who they were at signing: `password` (re-entered) or `oidc` (the
    # organization's identity provider authenticated them again, with its acr, amr and auth_time).
    # A record from before this was signed names no method: it was a password.
    auth_method: str = "password"
    auth_acr: str = ""
    auth_amr: tuple[str, ...] = ()
    auth_time: str = ""


def _field(claims: dict[str, Any], name: str, kind: type) -> Any:
    value = claims.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SignatureError(f"signed record lacks a valid {name!r}")
    return value


def requirement_claims(requirement: Requirement) -> dict[str, Any]:
    return {
        "type": "stage-requirement",
        "draft_id": requirement.draft_id,
        "version": requirement.version,
        "content_hash": requirement.content_hash,
        "author_id": requirement.author_id,
        "policy_version": requirement.policy_version,
        # A stage of one approval is signed as before quorums existed (the same record).
        "stages": [
            {"name": s.name, "roles": list(s.roles), **({"quorum": s.quorum} if s.quorum != 1 else {})}
            for s in requirement.stages
        ],
        "blocking_unresolved": requirement.blocking_unresolved,
        "signed_at": requirement.signed_at,
        "categories": list(requirement.categories),
        "lifetime_days": requirement.lifetime_days,
        "on_expiry": requirement.on_expiry,
    }


def decision_claims(decision: SignedDecision) -> dict[str, Any]:
    return {
        "type": "decision",
        "draft_id": decision.draft_id,
        "version": decision.version,
        "content_hash": decision.content_hash,
        "stage": decision.stage,
        "decision": decision.decision,
        "meaning": decision.meaning,
        "signer_id": decision.signer_id,
        "signer_name": decision.signer_name,
        "signer_roles": list(decision.signer_roles),
        "signer_active": decision.signer_active,
        "signed_at": decision.signed_at,
        "reason": decision.reason,
        "auth_method": decision.auth_method,
        **(
            {
                "auth_acr": decision.auth_acr,
                "auth_amr": list(decision.auth_amr),
                "auth_time": decision.auth_time,
            }
            if decision.auth_method != "password"
            else {}
        ),
    }


def read_requirement(token: str, keys: dict[str, dict[str, Any]]) -> Requirement:
    claims = verify_record(token, keys, typ=REQUIREMENT_TYPE)
    if claims.get("type") != "stage-requirement":
        raise SignatureError("not a stage requirement")
    stages = _field(claims, "stages", list)
    if not stages:
        # A requirement of no stages would let a post through with no approval at all.
        raise SignatureError("the requirement names no stage")
    parsed = []
    for stage in stages:
        if not isinstance(stage, dict) or not isinstance(stage.get("name"), str):
            raise SignatureError("requirement names a malformed stage")
        roles = stage.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise SignatureError(f"stage {stage['name']!r} names no roles")
        quorum = stage.get("quorum", 1)
        if not isinstance(quorum, int) or isinstance(quorum, bool) or quorum < 1:
            raise SignatureError(f"stage {stage['name']!r} names no valid quorum")
        parsed.append(SignedStage(stage["name"], tuple(roles), quorum))
    return Requirement(
        draft_id=_field(claims, "draft_id", str),
        version=_field(claims, "version", int),
        content_hash=_field(claims, "content_hash", str),
        author_id=_field(claims, "author_id", str),
        policy_version=_field(claims, "policy_version", str),
        stages=tuple(parsed),
        blocking_unresolved=_field(claims, "blocking_unresolved", int),
        signed_at=_optional(claims, "signed_at", str, ""),
        categories=tuple(_strings(_optional(claims, "categories", list, []), "categories")),
        lifetime_days=_optional(claims, "lifetime_days", int, 0),
        on_expiry=_optional(claims, "on_expiry", str, ""),
    )


def _optional(claims: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    """A claim added after records were first signed: absent in older records, typed when present."""
    return default if name not in claims else _field(claims, name, kind)


def _strings(values: list[Any], name: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise SignatureError(f"signed record lacks valid {name}")
    return values


def read_decision(token: str, keys: dict[str, dict[str, Any]]) -> SignedDecision:
    claims = verify_record(token, keys, typ=DECISION_TYPE)
    if claims.get("type") != "decision":
        raise SignatureError("not a decision record")
    roles = _field(claims, "signer_roles", list)
    if not all(isinstance(r, str) for r in roles):
        raise SignatureError("signed record lacks valid signer roles")
    decision = SignedDecision(
        draft_id=_field(claims, "draft_id", str),
        version=_field(claims, "version", int),
        content_hash=_field(claims, "content_hash", str),
        stage=_field(claims, "stage", str),
        decision=_field(claims, "decision", str),
        meaning=_field(claims, "meaning", str),
        signer_id=_field(claims, "signer_id", str),
        signer_name=_field(claims, "signer_name", str),
        signer_roles=tuple(roles),
        signer_active=_field(claims, "signer_active", bool),
        signed_at=_field(claims, "signed_at", str),
        reason=_field(claims, "reason", str),
        auth_method=_optional(claims, "auth_method", str, "password"),
        auth_acr=_optional(claims, "auth_acr", str, ""),
        auth_amr=tuple(_strings(_optional(claims, "auth_amr", list, []), "auth_amr")),
        auth_time=_optional(claims, "auth_time", str, ""),
    )
    if MEANINGS.get(decision.decision) != decision.meaning:
        raise SignatureError("the signed meaning does not match the decision")
    return decision


def decision_problems(requirement: Requirement, decision: SignedDecision) -> list[str]:
    """Why this one decision may not count for `requirement` (empty when it may)."""
    problems = []
    if (decision.draft_id, decision.version, decision.content_hash) != (
        requirement.draft_id,
        requirement.version,
        requirement.content_hash,
    ):
        problems.append("the decision was signed for other content than the version under review")
    stage = next((s for s in requirement.stages if s.name == decision.stage), None)
    if stage is None:
        problems.append(f"stage {decision.stage!r} is not required for this version")
    elif not set(decision.signer_roles) & set(stage.roles):
        problems.append(
            f"the signer does not hold a role that decides {stage.name} ({', '.join(stage.roles)})"
        )
    if decision.signer_id == requirement.author_id:
        problems.append("the author of a draft may not sign a decision on it")
    if not decision.signer_active:
        problems.append("the signer was not an active user when signing")
    return problems


def approval_problems(requirement: Requirement, decisions: list[SignedDecision]) -> list[str]:
    """Why `decisions` do not approve publishing the requirement's content (empty when they do)."""
    problems: list[str] = []
    if not requirement.stages:
        problems.append("the requirement names no stage; a post needs at least one approval")
    if requirement.blocking_unresolved:
        problems.append(f"{requirement.blocking_unresolved} blocking screening finding(s) are unresolved")
    by_stage: dict[str, list[SignedDecision]] = {}
    for decision in decisions:
        problems.extend(f"{decision.stage}: {p}" for p in decision_problems(requirement, decision))
        if decision.decision != "approve":
            problems.append(f"{decision.stage}: the decision is {decision.decision}, not approve")
        by_stage.setdefault(decision.stage, []).append(decision)
    for stage in requirement.stages:
        got = len(by_stage.get(stage.name, []))
        if got == 0:
            problems.append(f"{stage.name}: no signed approval")
        elif got < stage.quorum:
            problems.append(f"{stage.name}: {got} of the {stage.quorum} approvals it needs")
        elif got > stage.quorum:
            problems.append(f"{stage.name}: more decisions than the {stage.quorum} it needs")
    signers = [d.signer_id for d in decisions]
    if len(set(signers)) != len(signers):
        problems.append("one person signed more than one stage")
    return problems
