from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MAX_BODY_CHARS = 20_000


class DraftIn(BaseModel):
    """A new draft or a new version of one: everything the content hash covers, plus routing."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    channels: list[str] = Field(min_length=1, max_length=10)
    patient_content: bool = False
    consent_id: str | None = Field(default=None, max_length=64)
    scheduled_at: AwareDatetime | None = None

    @field_validator("channels")
    @classmethod
    def _distinct_channels(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


class DecisionOut(BaseModel):
    decider: str
    decider_name: str = ""
    decision: str
    reason: str
    at: str
    content_hash: str


class StageOut(BaseModel):
    stage: str
    status: str
    roles: list[str] = []
    decisions: list[DecisionOut] = []


class DraftOut(BaseModel):
    id: str
    version: int
    content_hash: str
    status: str
    title: str
    body: str
    channels: list[str]
    patient_content: bool
    consent_id: str | None
    scheduled_at: datetime | None
    author_id: str
    author_name: str
    stages: list[StageOut]
    note: str
    created_at: datetime
    updated_at: datetime


class DraftSummary(BaseModel):
    id: str
    version: int
    status: str
    title: str
    channels: list[str]
    author_id: str
    author_name: str
    updated_at: datetime


class DraftList(BaseModel):
    drafts: list[DraftSummary]


class VersionContent(BaseModel):
    """What other services read to screen, review or publish one exact version."""

    draft_id: str
    version: int
    title: str
    body: str
    channels: list[str]
    patient_content: bool
    consent_id: str | None
    media_digests: list[str]
    content_hash: str
    author_id: str
    created_at: datetime
    extra: dict[str, Any] = {}


class VersionOut(BaseModel):
    """One version of a draft as its readers see it (for comparing versions)."""

    version: int
    title: str
    body: str
    channels: list[str]
    patient_content: bool
    consent_id: str | None
    scheduled_at: datetime | None
    content_hash: str
    created_at: datetime


class VersionList(BaseModel):
    draft_id: str
    versions: list[VersionOut]
