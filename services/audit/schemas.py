from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_LIST_LIMIT = 500
MAX_LIST_LIMIT = 5000
HEX64 = r"^[0-9a-f]{64}$"


class AuditEventIn(BaseModel):
    """One event to append; the same idempotency key always names the same event.

    Who, what, why and from where beyond the required four: each is optional so older producers
    keep working, and (when left out) taken from the well-known `details` keys documented in
    docs/audit.md. `at` is never accepted: the time is the audit server's.
    """

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=1, max_length=200)
    actor: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=100)
    subject: str = Field(min_length=1, max_length=300)
    details: dict[str, Any] = Field(default_factory=dict)
    actor_name: str | None = Field(default=None, max_length=200)
    actor_roles: list[str] | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=4000)
    service: str | None = Field(default=None, max_length=50)
    request_id: str | None = Field(default=None, max_length=100)
    trace_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    content_hash: str | None = Field(default=None, pattern=HEX64)
    before: Any = None
    after: Any = None


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
    actor_name: str | None = None
    actor_roles: list[str] | None = None
    reason: str | None = None
    service: str | None = None
    request_id: str | None = None
    trace_id: str | None = None
    content_hash: str | None = None
    before: Any = None
    after: Any = None


class AuditEventList(BaseModel):
    events: list[AuditEventOut]


class VerifyResult(BaseModel):
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str | None = None


class TreeHeadOut(BaseModel):
    """A signed tree head: Ed25519 over the message docs/audit.md defines."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    proof: list[str]


class PublicKeySet(BaseModel):
    """JWKS-style: the audit service's Ed25519 public key(s), plus the PEM for tools that want it."""

    keys: list[dict[str, str]]
    pem: str
