"""The crisis lane's API shapes (pydantic at the edge)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CrisisStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    draft_id: str = Field(min_length=1, max_length=36)
    version: int = Field(ge=1)
    reason: str = Field(min_length=3, max_length=2000)
    # The starter's password, re-entered: the start record is their electronic signature.
    password: str = Field(min_length=1, max_length=1024)


class CrisisApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The content hash the co-signer saw: the signature binds exactly that content.
    content_hash: str = Field(min_length=64, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class CrisisApprovalOut(BaseModel):
    signer_id: str
    signer_name: str
    signed_at: datetime


class CrisisPostOut(BaseModel):
    id: str
    draft_id: str
    version: int
    content_hash: str
    channels: list[str]
    starter_id: str
    starter_name: str
    reason: str
    status: str
    started_at: datetime
    window_ends_at: datetime
    approvers: int
    approvals: list[CrisisApprovalOut]
    published_at: datetime | None
    after_review_due_at: datetime | None
    outcome: str
    outcome_reason: str
    closed_at: datetime | None
    # Seconds left in the co-signers' window and in the after-review (0 when over or not started).
    window_seconds_left: int
    after_review_seconds_left: int


class CrisisPosts(BaseModel):
    posts: list[CrisisPostOut]
