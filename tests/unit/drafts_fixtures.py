"""The drafts service's app on a migrated database, with tokens and a fake channel list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.drafts.activities import DraftActivities
from services.drafts.main import app as drafts_app
from services.kit.auth import StaticKeySet
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from tests.database import DatabaseFactory, DatabaseTarget
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import DraftStateUpdate

INTERNAL_TOKEN = "test-internal-token"


AUTHOR = "author-1"


DRAFT = {
    "title": "Flu shots this Saturday",
    "body": "Walk-in flu vaccinations 9-12 at the Main St clinic.",
    "channels": ["sandbox"],
}


@dataclass
class FakeChannels:
    """Stands in for the publisher's channel list; remembers whose token asked."""

    configured: set[str] = field(default_factory=lambda: {"sandbox"})
    tokens: list[str] = field(default_factory=list)

    async def names(self, bearer_token: str, *, including: Collection[str] = ()) -> set[str]:
        self.tokens.append(bearer_token)
        return set(self.configured)


@dataclass
class DraftsApi:
    app: FastAPI
    target: DatabaseTarget
    http: httpx.AsyncClient
    key: SigningKey
    audit: RecordingAudit
    channels: FakeChannels

    def token(self, *roles: str, user_id: str = AUTHOR) -> str:
        principal = Principal(
            user_id=user_id, username=f"{user_id}@test", name=f"Name of {user_id}", roles=frozenset(roles)
        )
        return issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
        )

    def as_user(self, *roles: str, user_id: str = AUTHOR) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, user_id=user_id)}"}

    async def create(self, user_id: str = AUTHOR, **overrides: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/drafts", json={**DRAFT, **overrides}, headers=self.as_user("author", user_id=user_id)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def project(self, draft_id: str, revision: int, status: str, **fields: Any) -> bool:
        """Apply the workflow's projection the way its worker does: through the activity."""
        activities = DraftActivities(self.app.state.sessionmaker, self.app.state.audit, self.channels)
        update = DraftStateUpdate(
            draft_id=draft_id,
            revision=revision,
            status=status,
            version=fields.pop("version", 1),
            content_hash=fields.pop("content_hash", None),
            **fields,
        )
        return await activities.update_draft_state(update)


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[DraftsApi]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    target = database("drafts")
    for name, value in target.settings_env().items():
        monkeypatch.setenv(name, value)
    async with drafts_app.router.lifespan_context(drafts_app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        audit, channels = RecordingAudit(), FakeChannels()
        drafts_app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        drafts_app.state.audit = audit
        drafts_app.state.channels = channels
        transport = httpx.ASGITransport(app=drafts_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield DraftsApi(drafts_app, target, http, key, audit, channels)
