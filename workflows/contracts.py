"""What workflows and service activities exchange: names, task queues and one dataclass each way.

Workflows call activities by these names on these queues and never import a service; services
register their activities under the same names. Inputs and results carry ids, hashes and
statuses, never post text: the text stays in the drafts service and is fetched by whoever
needs it over the internal HTTP API, so Temporal history holds no patient data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW_TASK_QUEUE = "clearpost-workflows"
DRAFTS_TASK_QUEUE = "clearpost-drafts"
REVIEW_TASK_QUEUE = "clearpost-review"
PUBLISHER_TASK_QUEUE = "clearpost-publisher"
AUDIT_TASK_QUEUE = "clearpost-audit"

POST_APPROVAL_WORKFLOW = "PostApprovalWorkflow"
LIVE_POST_WORKFLOW = "LivePostWorkflow"

# Activity names
SCREEN_DRAFT_VERSION = "screen_draft_version"
PLAN_REVIEW_STAGES = "plan_review_stages"
OPEN_REVIEW_TASKS = "open_review_tasks"
CLOSE_REVIEW_TASKS = "close_review_tasks"
RECORD_DECISION = "record_decision"
# A reminder, an escalation or an expired review, kept in the review service's notice outbox.
RECORD_REVIEW_NOTICE = "record_review_notice"
UPDATE_DRAFT_STATE = "update_draft_state"
PUBLISH_POST = "publish_post"
APPEND_AUDIT_EVENT = "append_audit_event"
CHECK_CONSENT = "check_consent"
LIVE_POST_PLAN = "live_post_plan"
TAKE_DOWN_POST = "take_down_post"
TAKEDOWN_FAILED = "takedown_failed"

# Signal / update / query names
SUBMIT_VERSION_SIGNAL = "submit_version"
DECIDE_UPDATE = "decide"
WITHDRAW_UPDATE = "withdraw"
OVERRIDE_FINDINGS_UPDATE = "override_findings"
VOID_APPROVALS_UPDATE = "void_approvals"
STATE_QUERY = "state"
CONSENT_REVOKED_SIGNAL = "consent_revoked"
# A live post must come down now (an emergency takedown, or a revoked consent).
TAKEDOWN_SIGNAL = "takedown"
# The publisher lifted the pause that held this draft's post: try publishing again now.
PUBLISHING_RESUMED_SIGNAL = "publishing_resumed"
# The publish activity's answer while a pause covers one of the post's channels (nothing was posted).
PUBLISHING_PAUSED = "PublishingPaused"

DECISIONS = ("approve", "reject", "request_changes")

# Refusal types carried by ApplicationError from update validators; the API maps them to HTTP.
REFUSED_FORBIDDEN = "Forbidden"
REFUSED_CONFLICT = "Conflict"
REFUSED_INVALID = "Invalid"


def workflow_id_for(draft_id: str) -> str:
    return f"draft-{draft_id}"


def live_post_workflow_id(draft_id: str) -> str:
    return f"live-post-{draft_id}"


# --- workflow input, signals, updates ------------------------------------------------------------


@dataclass
class PostApprovalInput:
    draft_id: str
    author_id: str
    # How long publishing may keep retrying a channel that fails for now (down, busy) before the
    # post ends as publish_failed with the last error: a post never hangs unseen.
    publish_deadline_seconds: int = 86_400


@dataclass
class VersionSubmitted:
    version: int
    content_hash: str
    channels: list[str]
    patient_content: bool
    submitted_by: str
    scheduled_at: str | None = None  # ISO 8601 with offset


@dataclass
class DecisionRequest:
    stage: str
    decision: str
    reason: str
    content_hash: str
    decider_id: str
    decider_name: str
    decider_roles: list[str]
    # The review service's signed decision record (JWS, see workflows/signatures.py).
    signed: str = ""


@dataclass
class DecisionAccepted:
    stage: str
    decision: str
    stage_status: str
    draft_status: str
    decided_at: str


@dataclass
class WithdrawRequest:
    actor_id: str
    reason: str = ""


@dataclass
class WithdrawAccepted:
    status: str


@dataclass
class VoidApprovals:
    """Update: a reviewer was offboarded; their approvals of the version under review no longer count.

    Each such stage shows `voided` and is open again until someone else decides it; a scheduled post
    goes back to review. Refused (nothing changes) when the draft is final, being published, or
    holds no approval of theirs.
    """

    user_id: str
    reason: str


@dataclass
class ApprovalsVoided:
    stages: list[str]
    draft_status: str


@dataclass
class PostApprovalResult:
    draft_id: str
    status: str
    version: int | None
    content_hash: str | None


@dataclass
class ConsentRevoked:
    """Signal: a consent this draft relies on was revoked (by the drafts service, at once).

    The workflow takes the draft out of the path to publication: in review -> back to
    changes_requested (open review tasks closed); scheduled/approved -> unscheduled, back to
    changes_requested; a publish not yet started does not happen. The reason is the compliance
    officer's and travels encrypted like every payload.
    """

    consent_id: str
    reason: str = ""
    revoked_by: str = ""
    revoked_at: str = ""  # ISO 8601 with offset


# --- snapshots the workflow projects to the drafts service ---------------------------------------


@dataclass
class DecisionSnapshot:
    decider: str
    decider_name: str
    decision: str
    reason: str
    at: str
    content_hash: str


@dataclass
class StageSnapshot:
    stage: str
    status: str  # pending | approved | rejected | changes_requested | voided | closed
    roles: list[str]
    decisions: list[DecisionSnapshot] = field(default_factory=list)
    # Distinct approvals of the version under review so far, of the `quorum` the stage needs.
    approvals: int = 0
    quorum: int = 1
    # When the stage's SLA passes (ISO 8601), "" without one; whether it was escalated.
    due_at: str = ""
    escalated: bool = False


@dataclass
class DraftStateUpdate:
    draft_id: str
    revision: int  # increases with every projection; the drafts service ignores older ones
    status: str
    version: int | None
    content_hash: str | None
    stages: list[StageSnapshot] = field(default_factory=list)
    note: str = ""


# --- review activities ---------------------------------------------------------------------------


@dataclass
class ScreenVersionInput:
    draft_id: str
    version: int
    content_hash: str
    patient_content: bool


@dataclass
class ScreenVersionResult:
    screening_id: str
    # What the text says. An image no valid consent covers is a consent_missing finding of the
    # stored screening (counted in finding_count and blocking), not a category here: the consent
    # gate checks images itself, and a photo must not turn the post into a patient story.
    categories: list[str]
    products: list[str]
    finding_count: int
    blocking: bool


@dataclass
class PlanStagesInput:
    draft_id: str
    version: int
    content_hash: str
    patient_content: bool
    categories: list[str]
    products: list[str]
    author_id: str = ""
    screening_id: str = ""


@dataclass
class StageRequirement:
    name: str
    roles: list[str]
    parallel: bool = True
    # How many distinct deciders must approve (1: any one holder of the roles).
    quorum: int = 1
    # The named people who decide (user ids or usernames; their delegates stand in for them while
    # they are away); empty: any holder of the roles.
    deciders: list[str] = field(default_factory=list)


@dataclass
class StageTiming:
    stage: str
    sla_seconds: int = 0  # 0: no SLA
    # Reminders this long after the round opened, each sent once.
    reminder_seconds: list[int] = field(default_factory=list)
    # The policy names whom to escalate to once the SLA passes (the review service knows whom).
    escalates: bool = False


@dataclass
class ReviewSchedule:
    """The review policy's timers for one round, read by the review service from its policy."""

    stages: list[StageTiming] = field(default_factory=list)
    # A round not approved this long after it opened goes back to the author (0: never); when set,
    # a round still open at the version's scheduled time goes back too.
    approval_expiry_seconds: int = 0


@dataclass
class StagePlan:
    policy_version: str
    stages: list[StageRequirement]
    # The signed stage requirement (JWS) and the review service's published public keys.
    requirement: str = ""
    signing_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Absent from plans made before review SLAs existed: no timers.
    schedule: ReviewSchedule | None = None
    # The draft's purpose, as the drafts service records it: an approved `crisis_template` is
    # recorded as a template approval, never published (workflows/crisis_templates.py).
    purpose: str = "post"


@dataclass
class NoticeDue:
    """A reminder, an escalation or an expired review, for the review service's outbox. Whom it
    goes to the review service decides from its own policy, tasks and delegations; `n` numbers
    the reminders of a stage, so (draft, version, stage, kind, n) names a notice once."""

    draft_id: str
    version: int
    content_hash: str
    stage: str  # "" for the whole draft (kinds expired, approved, published, taken_down)
    kind: str  # reminder | escalation | expired | approved | published | taken_down
    n: int
    due_at: str  # ISO 8601: when the timer was due
    reason: str = ""


@dataclass
class NoticeRecorded:
    notice_id: str
    recipients: list[str] = field(default_factory=list)


@dataclass
class FindingsOverride:
    """A compliance reviewer clears the blocking findings: the review service re-signs the
    requirement with none unresolved."""

    requirement: str
    overrider_id: str
    overrider_name: str
    overrider_roles: list[str]
    reason: str


@dataclass
class FindingsOverridden:
    draft_status: str


@dataclass
class OpenReviewTasksInput:
    draft_id: str
    version: int
    content_hash: str
    author_id: str
    policy_version: str
    stages: list[StageRequirement]
    screening_id: str = ""
    # Open these stages' tasks again even if they were decided (an approval was voided).
    reopen: bool = False


@dataclass
class CloseReviewTasksInput:
    draft_id: str
    version: int
    stages: list[str] | None = None  # None closes every open task of the version


@dataclass
class DecisionRecord:
    decision_id: str
    draft_id: str
    version: int
    content_hash: str
    stage: str
    decision: str
    reason: str
    decider_id: str
    decider_name: str
    decider_roles: list[str]
    decided_at: str
    policy_version: str


# --- drafts activity: the consent gate ---------------------------------------------------------


@dataclass
class ConsentCheckInput:
    draft_id: str
    version: int
    content_hash: str
    channels: list[str]
    at: str  # ISO 8601 with offset: workflow.now() at the check, so the result is deterministic
    # Patient content as the workflow knows it: the author's flag, and the screening's categories
    # (`consent_missing` makes consent required). Faces in media are known to the drafts service.
    patient_content: bool = False
    screening_categories: list[str] = field(default_factory=list)


@dataclass
class MediaConsent:
    """One image of the version that shows a patient: covered by a valid consent, or why not.

    `why` is one of no_consent, not_named, channel_not_covered, consent_expired, consent_revoked,
    consent_not_found, staff_stock_unconfirmed ("" when covered); `detail` is one sentence naming
    ids and the digest, never the patient.
    """

    digest: str
    covered: bool
    why: str = ""
    consent_id: str | None = None
    detail: str = ""


@dataclass
class ConsentCheckResult:
    ok: bool
    required: bool
    reasons: list[str] = field(default_factory=list)  # one sentence each; ids, never patient names
    consent_ids: list[str] = field(default_factory=list)  # the consents the version relies on
    # Every image that shows a patient (absent from results recorded before it existed).
    media: list[MediaConsent] = field(default_factory=list)


# --- publisher activity --------------------------------------------------------------------------


@dataclass
class PublishRequest:
    draft_id: str
    version: int
    content_hash: str
    channels: list[str]
    # What the publisher checks itself before posting: the signed requirement and one signed
    # approval per stage it names.
    requirement: str = ""
    approvals: list[str] = field(default_factory=list)


@dataclass
class PublicationRef:
    channel: str
    publication_id: str
    status: str


@dataclass
class PublishResult:
    publications: list[PublicationRef]


# --- live posts: expiry and takedown ------------------------------------------------------------


@dataclass
class LivePostInput:
    """Which draft's live post to watch. Everything else (when it expires, what happens then,
    which publications to delete) the publisher reads from its own records."""

    draft_id: str


@dataclass
class LivePostPlan:
    # ISO 8601 expiry, or None for content without a lifetime; status of the publisher's record.
    expires_at: str | None
    on_expiry: str
    status: str


@dataclass
class TakedownRequest:
    """Signal: take the post down. Who asked is recorded by the publisher when the request is
    accepted (the HTTP route, with password re-entry); the signal only carries the request id."""

    request_id: str
    cause: str = "takedown"  # takedown | consent_revoked


@dataclass
class TakedownInput:
    draft_id: str
    # "takedown" (a person asked; the publisher holds who and why), "consent_revoked", "expired".
    cause: str
    request_id: str = ""
    # Why the takedown failed for good (TAKEDOWN_FAILED only).
    reason: str = ""


@dataclass
class TakedownResult:
    status: str  # taken_down | takedown_failed
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


# --- audit activity ------------------------------------------------------------------------------


@dataclass
class AuditEventInput:
    idempotency_key: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    # Who, why and what beyond the actor id (optional; the audit service also lifts them from the
    # well-known details keys decider_name, decider_roles, reason, content_hash).
    actor_name: str | None = None
    actor_roles: list[str] | None = None
    reason: str | None = None
    content_hash: str | None = None


@dataclass
class AuditEventRecorded:
    seq: int
    hash: str
