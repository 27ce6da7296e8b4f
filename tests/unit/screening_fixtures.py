"""The review service's screening and decision API with a fake workflow engine and drafts service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.service import RPCError, RPCStatusCode

from services.kit.auth import StaticKeySet
from services.kit.canonical import content_hash
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from services.review.activities import ReviewActivities
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import FakeChannelStates
from workflows.contracts import (
    OVERRIDE_FINDINGS_UPDATE,
    DecisionAccepted,
    FindingsOverridden,
    FindingsOverride,
    OpenReviewTasksInput,
    ScreenVersionInput,
    StageRequirement,
)

PASSWORD = "right-password"


AUTHOR = Principal("u-author", "author@t", "Avery Author", frozenset({"author"}))


COMPLIANCE = Principal("u-comp", "compliance@t", "Casey Compliance", frozenset({"compliance"}))


LEGAL = Principal("u-legal", "legal@t", "Lena Legal", frozenset({"legal"}))


COMPLIANCE_2 = Principal("u-comp2", "compliance2@t", "Riley Second", frozenset({"compliance"}))


AUDITOR = Principal("u-aud", "auditor@t", "Audrey Auditor", frozenset({"auditor"}))


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


class AcceptingCredentials:
    async def confirms(self, username: str, password: str) -> bool:
        return password == PASSWORD


@asynccontextmanager
async def review_api_under_review(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database: DatabaseFactory,
    *,
    title: str,
    body: str,
    draft_id: str = "d-1",
) -> AsyncIterator[Api]:
    """The review app, with version 1 of `draft_id` screened by its own engine and under review
    (compliance and legal stages open), the drafts service faked with that version."""
    from services.review.main import app as review_app

    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "t")
    for name, value in database("review").settings_env().items():
        monkeypatch.setenv(name, value)
    async with review_app.router.lifespan_context(review_app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        audit, temporal = RecordingAudit(), FakeTemporal()
        state = review_app.state
        state.key_set = StaticKeySet({key.kid: key.public_jwk})
        state.audit, state.credentials, state.temporal = audit, AcceptingCredentials(), temporal
        state.channel_states = FakeChannelStates()
        digest = content_hash(title=title, body=body, channels=["sandbox"], media_digests=[])
        content = {
            "title": title,
            "body": body,
            "channels": ["sandbox"],
            "media_digests": [],
            "content_hash": digest,
            "consent_id": None,
            "patient_content": False,
            "author_id": AUTHOR.user_id,
        }
        state.drafts = Versions(content)
        activities = ReviewActivities(
            state.sessionmaker, state.policy, Versions(content), screener=state.screener, signer=state.signer
        )
        screened = await activities.screen_draft_version(ScreenVersionInput(draft_id, 1, digest, False))
        stages = [StageRequirement("compliance", ["compliance"]), StageRequirement("legal", ["legal"])]
        await activities.open_review_tasks(
            OpenReviewTasksInput(
                draft_id, 1, digest, AUTHOR.user_id, state.policy.version, stages, screened.screening_id
            )
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=review_app), base_url="http://test"
        ) as http:
            yield Api(review_app, http, key, audit, temporal, digest)
