"""The drafts service's consent API on a migrated database, with a fake workflow engine."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.drafts.activities import DraftActivities
from services.kit.tokens import Principal, SigningKey, issue_access_token
from tests.unit.drafts_fixtures import FakeChannels, RecordingAudit
from workflows.contracts import DraftStateUpdate

INTERNAL_TOKEN = "test-internal-token"


AUTHOR, OTHER_AUTHOR, COMPLIANCE, LEGAL = "author-1", "author-2", "comp-1", "legal-1"


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


STORY = {
    "title": "Maria's story",
    "body": "After her knee surgery Maria walked the 5K with our rehab team.",
    "channels": ["sandbox"],
    "patient_content": True,
}


def record(**overrides: Any) -> dict[str, Any]:
    return {
        "patient_ref": "MRN-0042",
        "first_name": "Maria",
        "last_name": "Lopez",
        "name_use": "first_name",
        "story_use": True,
        "channels": ["sandbox"],
        "media_digests": [],
        "collected_by": "Sam Social",
        "collected_on": "2026-01-10",
        "expires_on": (date.today() + timedelta(days=365)).isoformat(),
        **overrides,
    }


@dataclass
class FakeHandle:
    workflow_id: str
    sent: list[tuple[str, str, Any]]

    async def signal(self, name: str, arg: Any) -> None:
        self.sent.append((self.workflow_id, name, arg))


@dataclass
class FakeTemporal:
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(workflow_id, self.sent)


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    key: SigningKey
    audit: RecordingAudit
    temporal: FakeTemporal
    var_dir: Path

    def headers(self, *roles: str, user_id: str = AUTHOR) -> dict[str, str]:
        principal = Principal(user_id=user_id, username=f"{user_id}@t", name=user_id, roles=frozenset(roles))
        token = issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
        )
        return {"Authorization": f"Bearer {token}"}

    @property
    def compliance(self) -> dict[str, str]:
        return self.headers("compliance", user_id=COMPLIANCE)

    async def consent(self, form: bytes = PDF, **overrides: Any) -> httpx.Response:
        return await self.http.post(
            "/api/v1/consents",
            data={"record": json.dumps(record(**overrides))},
            files={"form": ("signed.pdf", form, "application/pdf")},
            headers=self.compliance,
        )

    async def consent_id(self, **overrides: Any) -> str:
        response = await self.consent(**overrides)
        assert response.status_code == 201, response.text
        consent_id: str = response.json()["id"]
        return consent_id

    async def draft(self, **overrides: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/drafts", json={**STORY, **overrides}, headers=self.headers("author")
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def upload(
        self, draft_id: str, data: bytes, name: str = "photo.jpg", **form: str
    ) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/drafts/{draft_id}/media",
            files={"file": (name, data, "image/jpeg")},
            data=form,
            headers=self.headers("author"),
        )

    async def project(self, draft_id: str, status: str, revision: int = 1) -> None:
        activities = DraftActivities(self.app.state.sessionmaker, self.audit, FakeChannels())
        await activities.update_draft_state(DraftStateUpdate(draft_id, revision, status, 1, None))

    def gate(self) -> DraftActivities:
        return DraftActivities(self.app.state.sessionmaker, self.audit, FakeChannels(), self.app.state.sealer)
