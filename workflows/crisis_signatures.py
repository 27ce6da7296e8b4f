"""The crisis lane's signed records and the rule a set of them must meet before an emergency post.

The review service signs a start record (who started it, why, for which exact content, the window
and quorum of the policy at that moment, the categories of its own screening) and one approval
record per co-signer, after each re-entered their password. The workflow's update validator checks
each approval with these functions; the publisher checks the whole set again, on its own keys,
before it posts (services/publisher/crisis.py). Pure and clock-free: the caller passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.kit.tokens import SignatureError, verify_record

CRISIS_START_TYPE = "clearpost-crisis-start+jws"
CRISIS_APPROVAL_TYPE = "clearpost-crisis-approval+jws"
CRISIS_ROLE = "crisis"
CRISIS_MEANING = "I approve publishing this exact content now, as an emergency, before its full review."


@dataclass(frozen=True)
class CrisisStart:
    crisis_id: str
    draft_id: str
    version: int
    content_hash: str
    channels: tuple[str, ...]
    author_id: str
    starter_id: str
    starter_name: str
    starter_roles: tuple[str, ...]
    reason: str
    started_at: str
    window_seconds: int
    approvers: int
    after_review_seconds: int
    categories: tuple[str, ...]

    @property
    def window_ends_at(self) -> datetime:
        return datetime.fromisoformat(self.started_at) + timedelta(seconds=self.window_seconds)


@dataclass(frozen=True)
class CrisisApproval:
    crisis_id: str
    draft_id: str
    version: int
    content_hash: str
    meaning: str
    signer_id: str
    signer_name: str
    signer_roles: tuple[str, ...]
    signer_active: bool
    signed_at: str


def start_claims(start: CrisisStart) -> dict[str, Any]:
    return {
        "type": "crisis-start",
        "crisis_id": start.crisis_id,
        "draft_id": start.draft_id,
        "version": start.version,
        "content_hash": start.content_hash,
        "channels": list(start.channels),
        "author_id": start.author_id,
        "starter_id": start.starter_id,
        "starter_name": start.starter_name,
        "starter_roles": list(start.starter_roles),
        "reason": start.reason,
        "signed_at": start.started_at,
        "window_seconds": start.window_seconds,
        "approvers": start.approvers,
        "after_review_seconds": start.after_review_seconds,
        "categories": list(start.categories),
    }


def approval_claims(approval: CrisisApproval) -> dict[str, Any]:
    return {
        "type": "crisis-approval",
        "crisis_id": approval.crisis_id,
        "draft_id": approval.draft_id,
        "version": approval.version,
        "content_hash": approval.content_hash,
        "meaning": approval.meaning,
        "signer_id": approval.signer_id,
        "signer_name": approval.signer_name,
        "signer_roles": list(approval.signer_roles),
        "signer_active": approval.signer_active,
        "signed_at": approval.signed_at,
    }


def _field(claims: dict[str, Any], name: str, kind: type) -> Any:
    value = claims.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SignatureError(f"signed crisis record lacks a valid {name!r}")
    return value


def _strings(claims: dict[str, Any], name: str) -> tuple[str, ...]:
    values = _field(claims, name, list)
    if not all(isinstance(v, str) for v in values):
        raise SignatureError(f"signed crisis record lacks valid {name}")
    return tuple(values)


def _time(value: str, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SignatureError(f"signed crisis record's {name} is not a timestamp") from exc
    if when.tzinfo is None:
        raise SignatureError(f"signed crisis record's {name} has no offset")
    return when


def read_start(token: str, keys: dict[str, dict[str, Any]]) -> CrisisStart:
    claims = verify_record(token, keys, typ=CRISIS_START_TYPE)
    if claims.get("type") != "crisis-start":
        raise SignatureError("not a crisis start record")
    start = CrisisStart(
        crisis_id=_field(claims, "crisis_id", str),
        draft_id=_field(claims, "draft_id", str),
        version=_field(claims, "version", int),
        content_hash=_field(claims, "content_hash", str),
        channels=_strings(claims, "channels"),
        author_id=_field(claims, "author_id", str),
        starter_id=_field(claims, "starter_id", str),
        starter_name=_field(claims, "starter_name", str),
        starter_roles=_strings(claims, "starter_roles"),
        reason=_field(claims, "reason", str),
        started_at=_field(claims, "signed_at", str),
        window_seconds=_field(claims, "window_seconds", int),
        approvers=_field(claims, "approvers", int),
        after_review_seconds=_field(claims, "after_review_seconds", int),
        categories=_strings(claims, "categories"),
    )
    _time(start.started_at, "start time")
    if start.window_seconds < 1 or start.after_review_seconds < 1:
        raise SignatureError("signed crisis record names no valid window")
    # Fewer than two co-signers would not be the lane the policy allows.
    if start.approvers < 2:
        raise SignatureError("signed crisis record names fewer than two approvers")
    if not start.channels:
        raise SignatureError("signed crisis record names no channel")
    return start


def read_approval(token: str, keys: dict[str, dict[str, Any]]) -> CrisisApproval:
    claims = verify_record(token, keys, typ=CRISIS_APPROVAL_TYPE)
    if claims.get("type") != "crisis-approval":
        raise SignatureError("not a crisis approval record")
    approval = CrisisApproval(
        crisis_id=_field(claims, "crisis_id", str),
        draft_id=_field(claims, "draft_id", str),
        version=_field(claims, "version", int),
        content_hash=_field(claims, "content_hash", str),
        meaning=_field(claims, "meaning", str),
        signer_id=_field(claims, "signer_id", str),
        signer_name=_field(claims, "signer_name", str),
        signer_roles=_strings(claims, "signer_roles"),
        signer_active=_field(claims, "signer_active", bool),
        signed_at=_field(claims, "signed_at", str),
    )
    if approval.meaning != CRISIS_MEANING:
        raise SignatureError("the signed meaning is not the crisis approval's")
    _time(approval.signed_at, "signing time")
    return approval


def start_problems(start: CrisisStart) -> list[str]:
    problems = []
    if CRISIS_ROLE not in start.starter_roles:
        problems.append("the starter did not hold the crisis role when starting")
    if not start.reason.strip():
        problems.append("the crisis post names no reason")
    return problems


def approval_problems(start: CrisisStart, approval: CrisisApproval) -> list[str]:
    """Why this one approval may not count for the crisis post (empty when it may)."""
    problems = []
    if (approval.crisis_id, approval.draft_id, approval.version, approval.content_hash) != (
        start.crisis_id,
        start.draft_id,
        start.version,
        start.content_hash,
    ):
        problems.append("the approval was signed for other content than this crisis post")
    if CRISIS_ROLE not in approval.signer_roles:
        problems.append("the signer did not hold the crisis role when signing")
    if approval.signer_id == start.starter_id:
        problems.append("the starter of a crisis post may not approve it")
    if approval.signer_id == start.author_id:
        problems.append("the author of the draft may not approve its crisis post")
    if not approval.signer_active:
        problems.append("the signer was not an active user when signing")
    signed_at = _time(approval.signed_at, "signing time")
    if not _time(start.started_at, "start time") <= signed_at <= start.window_ends_at:
        problems.append("the approval was not signed within the crisis window")
    return problems


def quorum_problems(start: CrisisStart, approvals: list[CrisisApproval]) -> list[str]:
    """Why `approvals` do not let the crisis post go out (empty when they do)."""
    problems = list(start_problems(start))
    for approval in approvals:
        problems.extend(f"{approval.signer_name}: {p}" for p in approval_problems(start, approval))
    signers = [a.signer_id for a in approvals]
    if len(set(signers)) != len(signers):
        problems.append("one person signed more than one approval")
    if len(set(signers)) < start.approvers:
        problems.append(f"{len(set(signers))} of the {start.approvers} distinct approvals it needs")
    return problems
