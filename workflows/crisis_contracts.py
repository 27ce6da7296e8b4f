"""What the crisis lane's workflow and its activities exchange: names and one dataclass each way.

The emergency post of docs/crisis-lane.md: CrisisPostWorkflow (`crisis-<crisis id>`) waits for the
co-signers' signed approvals, has the publisher post once the quorum signed, opens the normal
review afterwards and has the publisher take the post down unless that review approves in time.
Inputs carry ids, hashes and signed records, never post text (the payload codec encrypts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CRISIS_POST_WORKFLOW = "CrisisPostWorkflow"

# The review service's activities (REVIEW_TASK_QUEUE).
RECORD_CRISIS_STEP = "record_crisis_step"
OPEN_CRISIS_AFTER_REVIEW = "open_crisis_after_review"
CRISIS_AFTER_REVIEW_STATE = "crisis_after_review_state"
# The publisher's activities (PUBLISHER_TASK_QUEUE).
PUBLISH_CRISIS_POST = "publish_crisis_post"
TAKE_DOWN_CRISIS_POST = "take_down_crisis_post"

CRISIS_APPROVE_UPDATE = "crisis_approve"
CRISIS_STATE_QUERY = "crisis_state"

# What the after-review's draft status means for the crisis post.
AFTER_REVIEW_KEEPS = ("approved", "scheduled", "published", "publish_failed")
AFTER_REVIEW_TAKES_DOWN = ("rejected", "changes_requested", "withdrawn")


def crisis_workflow_id(crisis_id: str) -> str:
    return f"crisis-{crisis_id}"


@dataclass
class CrisisPostInput:
    crisis_id: str
    # The review service's signed start record (workflows/crisis_signatures.py) and the public keys
    # to check it and each approval with; the publisher checks everything again with its own copy.
    start: str
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The longest wait between two readings of the after-review's progress (the first come sooner).
    poll_seconds: int = 600


@dataclass
class CrisisApproveRequest:
    signer_id: str
    # The review service's signed approval record, made after the signer re-entered their password.
    signed: str


@dataclass
class CrisisApproved:
    approvals: int
    needed: int
    status: str


@dataclass
class CrisisState:
    crisis_id: str
    status: str
    approvals: int
    needed: int
    window_ends_at: str
    after_review_due_at: str = ""
    outcome: str = ""


@dataclass
class CrisisStep:
    """A step of the crisis post the review service records (status and audit event, once)."""

    crisis_id: str
    # expired | published | publish_failed | after_review_opened | kept | taken_down | takedown_failed
    step: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CrisisRef:
    crisis_id: str


@dataclass
class AfterReviewState:
    # The after-review draft's status as its PostApprovalWorkflow reports it ("" when none runs).
    status: str
    note: str = ""


@dataclass
class CrisisPublishRequest:
    crisis_id: str
    draft_id: str
    version: int
    content_hash: str
    channels: list[str]
    start: str
    approvals: list[str] = field(default_factory=list)


@dataclass
class CrisisTakedown:
    crisis_id: str
    draft_id: str
    reason: str


@dataclass
class CrisisTakedownAccepted:
    request_id: str
    # "requested", or "not_live" when nothing of it was live any more (taken down by hand before).
    status: str


@dataclass
class CrisisPostResult:
    crisis_id: str
    status: str
    outcome: str = ""
