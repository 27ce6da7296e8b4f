from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class ScreeningOut(BaseModel):
    policy_version: str
    flag: bool
    categories: list[str]
    products: list[str]
    findings: list[FindingOut]


class PolicyOut(BaseModel):
    version: str
    name: str
    document: dict[str, Any]
