"""What the comment workflows and the services' activities exchange (docs/comments.md).

Like workflows/contracts.py: names, one dataclass each way, ids and categories only. A comment's
text stays sealed in the publisher and is fetched by the review service over the internal API
when it screens it, so Temporal history holds no patient data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COMMENT_INGEST_WORKFLOW = "CommentIngestWorkflow"
AE_CASE_WORKFLOW = "AdverseEventCaseWorkflow"

# Activities (publisher queue)
INGEST_COMMENTS = "ingest_comments"
RECORD_COMMENT_SCREENING = "record_comment_screening"
# Activities (review queue)
SCREEN_COMMENT = "screen_comment"
OPEN_AE_CASE = "open_ae_case"
RECORD_CASE_CLOCK = "record_case_clock"

# A network pushed news of a comment (Meta's webhook): poll now, not at the next interval.
POLL_NOW_SIGNAL = "poll_now"
# Signals to a case's workflow, sent by the review service once it has recorded the step.
CASE_HANDED_OFF_SIGNAL = "case_handed_off"
CASE_CLOSED_SIGNAL = "case_closed"

# Categories that open work; the others only show in the moderation inbox.
ADVERSE_EVENT = "adverse_event"
PHI = "phi"

HANDOFF_CLOCK = "handoff"
REGULATORY_CLOCK = "regulatory"
REMINDER = "reminder"
ESCALATION = "escalation"


def ingest_workflow_id(account: str) -> str:
    return f"comment-ingest-{account}"


def case_workflow_id(comment_id: str) -> str:
    return f"ae-case-{comment_id}"


@dataclass
class CommentIngestInput:
    account: str
    poll_seconds: int = 300
    # Rounds before the run continues as new, so its history stays short.
    rounds_per_run: int = 50


@dataclass
class UnscreenedComment:
    comment_id: str
    network: str
    read_at: str  # ISO 8601, UTC: day 0 of a case


@dataclass
class CommentIngestResult:
    """The account's comments not screened yet (new ones and any a crash left unscreened), and
    until when a network's rate limit holds the next read (ISO 8601; empty when not limited)."""

    comments: list[UnscreenedComment] = field(default_factory=list)
    retry_at: str = ""


@dataclass
class ScreenCommentInput:
    comment_id: str


@dataclass
class CommentScreeningResult:
    comment_id: str
    screening_id: str
    categories: list[str] = field(default_factory=list)


@dataclass
class CommentScreeningRecord:
    comment_id: str
    screening_id: str
    categories: list[str] = field(default_factory=list)


@dataclass
class AeCaseInput:
    comment_id: str
    screening_id: str
    read_at: str


@dataclass
class CaseClock:
    """One moment a case's workflow waits for: a reminder or escalation of one clock."""

    clock: str  # HANDOFF_CLOCK or REGULATORY_CLOCK
    kind: str  # REMINDER or ESCALATION
    at: str  # ISO 8601


@dataclass
class AeCasePlan:
    case_id: str
    status: str
    clocks: list[CaseClock] = field(default_factory=list)


@dataclass
class CaseClockEvent:
    case_id: str
    clock: str
    kind: str


@dataclass
class CaseStep:
    """A signal's payload: who recorded the step (the record itself is the review service's)."""

    actor: str = ""
