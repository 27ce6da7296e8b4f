"""The review service's screening and decision API with a fake workflow engine and drafts service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.service import RPCError, RPCStatusCode

from services.kit.tokens import Principal, SigningKey, issue_access_token
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import (
    OVERRIDE_FINDINGS_UPDATE,
    DecisionAccepted,
    FindingsOverridden,
    FindingsOverride,
)

PASSWORD = "right-password"


AUTHOR = Principal("u-author", "author@t", "Avery Author", frozenset({"author"}))


COMPLIANCE = Principal("u-comp", "compliance@t", "Casey Compliance", frozenset({"compliance"}))


LEGAL = Principal("u-legal", "legal@t", "Lena Legal", frozenset({"legal"}))


@dataclass
class FakeTemporal:
    decisions: list[Any] = field(default_factory=list)
    overrides: list[FindingsOverride] = field(default_factory=list)
    down: bool = False  # the workflow engine does not answer

    def get_workflow_handle(self, workflow_id: str) -> FakeTemporal:
        return self

    async def execute_update(self, name: str, request: Any, result_type: Any = None) -> Any:
        if self.down:
            raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
        if name == OVERRIDE_FINDINGS_UPDATE:
            self.overrides.append(request)
            return FindingsOverridden("in_review")
        self.decisions.append(request)
        return DecisionAccepted(
            request.stage, request.decision, "approved", "in_review", "2026-01-01T10:00:00+00:00"
        )


class Versions:
    def __init__(self, content: dict[str, Any]) -> None:
        self.content = content

    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]:
        return self.content

    async def author_of(self, draft_id: str, version: int) -> str:
        return str(self.content["author_id"])


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    key: SigningKey
    audit: RecordingAudit
    temporal: FakeTemporal
    hash: str

    def auth(self, principal: Principal) -> dict[str, str]:
        token = issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=600
        )
        return {"Authorization": f"Bearer {token}"}
