from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DecisionIn(BaseModel):
    """A reviewer's decision: bound to the content hash they saw, signed by re-entering the password."""

    model_config = ConfigDict(extra="forbid")

    stage: str = Field(min_length=1, max_length=64)
    decision: Literal["approve", "reject", "request_changes"]
    reason: str = Field(default="", max_length=4000)
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    password: str = Field(min_length=1, max_length=1024, repr=False)


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


class Queue(BaseModel):
    tasks: list[QueueItem]


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)
    kind: Literal["post", "comment"] = "post"
    patient_content: bool = False
    consent_on_file: bool = False


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


class OverrideIn(BaseModel):
    """Let blocking findings stand: one by its index, or every blocking finding of one rule."""

    model_config = ConfigDict(extra="forbid")

    finding_index: int | None = Field(default=None, ge=0)
    finding_rule: str | None = Field(default=None, min_length=1, max_length=120)
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    reason: str = Field(min_length=1, max_length=4000)
    password: str = Field(min_length=1, max_length=1024, repr=False)

    @model_validator(mode="after")
    def _one_target(self) -> OverrideIn:
        if (self.finding_index is None) == (self.finding_rule is None):
            raise ValueError("name exactly one of finding_index or finding_rule")
        if not self.reason.strip():
            raise ValueError("a reason is required")
        return self


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
