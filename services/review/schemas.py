from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema


class DecisionIn(BaseModel):
    """A reviewer's decision: bound to the content hash they saw, signed by re-entering the password
    or (a user of the organization's identity provider) by a fresh re-authentication there."""

    # Exactly one credential: the schema says so too, so every schema-valid request names one.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"title": "Signed by password", "required": ["password"]},
                {"title": "Signed through the identity provider", "required": ["reauthentication"]},
            ]
        },
    )

    stage: str = Field(min_length=1, max_length=64)
    decision: Literal["approve", "reject", "request_changes"]
    reason: str = Field(default="", max_length=4000)
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    # One of the two: the password re-entered, or (a user of the organization's identity provider)
    # the gateway's one-time proof that the provider authenticated them again for this decision.
    password: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=1024, repr=False)
    reauthentication: str | SkipJsonSchema[None] = Field(
        default=None, min_length=16, max_length=128, repr=False
    )

    @model_validator(mode="after")
    def _one_credential(self) -> DecisionIn:
        if (self.password is None) == (self.reauthentication is None):
            raise ValueError("sign with either password or reauthentication")
        return self


class DecisionOut(BaseModel):
    draft_id: str
    stage: str
    decision: str
    stage_status: str
    draft_status: str
    decided_at: str
    content_hash: str


class QueueItem(BaseModel):
    draft_id: str
    version: int
    content_hash: str
    stage: str
    roles: list[str]
    author_id: str
    policy_version: str
    opened_at: datetime
    finding_count: int
    categories: list[str]
    # When the stage's SLA passes (null: no SLA), whether it has, and whether it was escalated.
    due_at: datetime | None = None
    overdue: bool = False
    escalated: bool = False
    # Distinct approvals of this version so far, of the quorum the stage needs.
    approvals: int = 0
    quorum: int = 1
    # The named people who decide the stage (empty: any holder of `roles`), and those of them the
    # caller stands in for as their delegate.
    deciders: list[str] = []
    on_behalf_of: list[str] = []


class Queue(BaseModel):
    tasks: list[QueueItem]


class FlowWeek(BaseModel):
    week: str  # ISO week, e.g. 2026-W49
    starts: date  # its Monday (UTC)
    waiting: int  # open at the end of the week (now, for this week)
    decided: int
    median_hours: float | None  # from the round opening to the decision, tasks decided that week
    p90_hours: float | None
    breaches: int  # SLAs that passed that week with the stage undecided
    escalations: int


class StageFlowOut(BaseModel):
    stage: str
    weeks: list[FlowWeek]


class FlowReport(BaseModel):
    generated_at: datetime
    weeks: list[str]
    stages: list[StageFlowOut]


class DelegationIn(BaseModel):
    """Who decides for the caller (user id or username) from `starts_at` until `ends_at`."""

    model_config = ConfigDict(extra="forbid")

    delegate: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class DelegationOut(BaseModel):
    id: str
    delegator_id: str
    delegator_name: str
    delegate: str
    starts_at: datetime
    ends_at: datetime
    cancelled_at: datetime | None
    active: bool


class Delegations(BaseModel):
    given: list[DelegationOut]
    received: list[DelegationOut]


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    kind: Literal["post", "comment"] = "post"
    patient_content: StrictBool = False
    consent_on_file: StrictBool = False


class FindingOut(BaseModel):
    category: str
    severity: str
    start: int
    end: int
    text: str
    rule: str
    explanation: str
    # Set on image findings (consent_missing for an image no valid consent covers); no text span.
    media_digest: str | None = None


class ScreeningOut(BaseModel):
    policy_version: str
    flag: bool
    blocking: bool
    categories: list[str]
    products: list[str]
    drugs: list[str]
    findings: list[FindingOut]


# A character that is not white space (Python's str.isspace), spelled out so the pattern means the
# same in the schema (ECMA-262 regular expressions, whose \s differs) and in the check below.
NOT_BLANK = r"[^\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NOT_BLANK = re.compile(NOT_BLANK)


class _Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    reason: str = Field(min_length=1, max_length=4000, json_schema_extra={"pattern": NOT_BLANK})
    password: str = Field(min_length=1, max_length=1024, repr=False)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not _NOT_BLANK.search(value):
            raise ValueError("a reason is required")
        return value


class OverrideByIndex(_Override):
    """Let one blocking finding stand, named by its index."""

    finding_index: int = Field(ge=0)
    finding_rule: None = Field(default=None, description="null or left out")


class OverrideByRule(_Override):
    """Let every unresolved blocking finding of one rule stand."""

    finding_rule: str = Field(min_length=1, max_length=120)
    finding_index: None = Field(default=None, description="null or left out")


def _override_target(value: Any) -> str | None:
    """Which of the two bodies `value` is: the one target it names (a non-null value), else none."""
    if isinstance(value, dict):
        index, rule = value.get("finding_index"), value.get("finding_rule")
    elif isinstance(value, _Override):
        index, rule = getattr(value, "finding_index", None), getattr(value, "finding_rule", None)
    else:
        return None
    if (index is None) == (rule is None):
        return None
    return "index" if index is not None else "rule"


# Let blocking findings stand: one by its index, or every blocking finding of one rule. A oneOf of
# two bodies, so the schema says what the rule is: exactly one of finding_index / finding_rule.
OverrideIn = Annotated[
    Annotated[OverrideByIndex, Tag("index")] | Annotated[OverrideByRule, Tag("rule")],
    Discriminator(
        _override_target,
        custom_error_type="override_target",
        custom_error_message="the body must be an object naming exactly one of finding_index or finding_rule",
    ),
]


class OverrideRecord(BaseModel):
    finding_index: int
    finding_rule: str
    reason: str
    reviewer_id: str
    reviewer_name: str
    policy_version: str
    created_at: datetime


class ReviewedFinding(FindingOut):
    index: int
    overridden: OverrideRecord | None = None


class DraftFindings(BaseModel):
    """The screening of the version under review, its findings with spans, and their overrides.

    With no review open (the consent gate sent the version back, or the round is over) it is the
    draft's latest screening, `under_review` false; its findings cannot be overridden.
    """

    draft_id: str
    version: int
    content_hash: str
    screening_id: str
    policy_version: str
    categories: list[str]
    findings: list[ReviewedFinding]
    unresolved_blocking: int
    under_review: bool = True


class PolicyOut(BaseModel):
    version: str
    name: str
    document: dict[str, Any]


# --- reviewers teach the screener (services/review/feedback.py) ------------------------------------

ScreeningCategory = Literal[
    "phi", "consent_missing", "fda_fair_balance", "fda_unapproved_claim", "adverse_event"
]
# What a wrongly flagged text may be instead: the organization's own (an allow-list field).
AllowListKind = Literal["staff", "address", "phone", "email", "organization", "handle", "domain"]
ALLOW_LIST_KINDS: tuple[str, ...] = ("staff", "address", "phone", "email", "organization", "handle", "domain")


def _not_blank(value: str, what: str) -> str:
    if not _NOT_BLANK.search(value):
        raise ValueError(f"{what} is required")
    return value


class MarkWrongIn(BaseModel):
    """A finding of the current screening is wrong; for a PHI finding, optionally: it is ours."""

    model_config = ConfigDict(extra="forbid")

    mark: Literal["wrong"]
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    finding_index: int = Field(ge=0)
    reason: str = Field(min_length=1, max_length=1000, json_schema_extra={"pattern": NOT_BLANK})
    ours: AllowListKind | None = Field(
        default=None, description="propose the flagged text for the allow-list as the organization's own"
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _not_blank(value, "a reason")


class MarkMissedIn(BaseModel):
    """A passage of the version the screener should have flagged, exactly as it appears in the text."""

    model_config = ConfigDict(extra="forbid")

    mark: Literal["missed"]
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    passage: str = Field(min_length=1, max_length=2000, json_schema_extra={"pattern": NOT_BLANK})
    category: ScreeningCategory
    reason: str = Field(default="", max_length=1000)

    @field_validator("passage")
    @classmethod
    def _passage(cls, value: str) -> str:
        return _not_blank(value, "the passage")


FeedbackIn = Annotated[MarkWrongIn | MarkMissedIn, Field(discriminator="mark")]


class ProposalOut(BaseModel):
    id: str
    mark_id: str
    draft_id: str | None = None
    version: int | None = None
    kind: str
    value: str
    status: str
    proposer_id: str
    proposer_name: str
    created_at: datetime
    decider_id: str | None = None
    decider_name: str | None = None
    decision_reason: str | None = None
    decided_at: datetime | None = None


class MarkOut(BaseModel):
    id: str
    mark: str
    draft_id: str
    version: int
    content_hash: str
    screening_id: str
    category: str
    finding_index: int | None
    finding_rule: str | None
    passage: str
    start: int | None
    reason: str
    reviewer_id: str
    reviewer_name: str
    created_at: datetime
    proposal: ProposalOut | None = None


class DraftFeedback(BaseModel):
    draft_id: str
    marks: list[MarkOut]


class Proposals(BaseModel):
    proposals: list[ProposalOut]


class ProposalDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, json_schema_extra={"pattern": NOT_BLANK})

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _not_blank(value, "a reason")
