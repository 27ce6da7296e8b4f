from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_LIST_LIMIT = 500
MAX_LIST_LIMIT = 5000


class AuditEventIn(BaseModel):
    """One event to append; the same idempotency key always names the same event."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=1, max_length=200)
    actor: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=100)
    subject: str = Field(min_length=1, max_length=300)
    details: dict[str, Any] = Field(default_factory=dict)


class AuditEventAppended(BaseModel):
    seq: int
    hash: str
    at: str


class AuditEventOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    draft_id: str | None
    details: dict[str, Any]
    idempotency_key: str
    prev_hash: str
    hash: str


class AuditEventList(BaseModel):
    events: list[AuditEventOut]


class VerifyResult(BaseModel):
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str | None = None
