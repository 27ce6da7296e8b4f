"""All five service apps in one process, for the security suites (JWT, authorization matrix, fuzzing).

Temporal is off; each service has its own migrated database (SQLite or PostgreSQL, through the
`database` fixture); audit appends go to a fake; tokens are signed with the gateway's own key and
every other service trusts exactly that key. The revocation list is the test's to fill.
The fixture is `services` in tests/unit/security_fixtures.py (load it with
`pytest_plugins = ["tests.unit.security_fixtures"]`); this module holds what tests import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.audit.main import app as audit_app
from services.drafts.main import app as drafts_app
from services.gateway.main import app as gateway_app
from services.kit.tokens import Principal, SigningKey, issue_access_token
from services.publisher.main import app as publisher_app
from services.review.main import app as review_app
from tests.unit.recording_audit import RecordingAudit

SERVICES: dict[str, FastAPI] = {
    "gateway": gateway_app,
    "drafts": drafts_app,
    "review": review_app,
    "publisher": publisher_app,
    "audit": audit_app,
}
ROLES = (
    "author",
    "legal",
    "compliance",
    "medical",
    "publisher",
    "auditor",
    "admin",
    "crisis",
    "pharmacovigilance",
)
INTERNAL_TOKEN = "security-suite-internal-token"
SCIM_TOKEN = "security-suite-scim-token"
ISSUER, AUDIENCE = "clearpost-gateway", "clearpost"


def principal_for(role: str) -> Principal:
    return Principal(
        user_id=f"u-{role}", username=f"{role}@suite", name=f"{role.title()} Suite", roles=frozenset({role})
    )


@dataclass
class Services:
    apps: dict[str, FastAPI]
    key: SigningKey
    revoked: dict[str, datetime] = field(default_factory=dict)
    audit: RecordingAudit = field(default_factory=RecordingAudit)

    def token(self, role: str, **overrides: Any) -> str:
        return issue_access_token(
            self.key,
            issuer=ISSUER,
            audience=AUDIENCE,
            principal=principal_for(role),
            ttl_seconds=900,
            **overrides,
        )

    def client(self, service: str, token: str | None = None, **headers: str) -> httpx.AsyncClient:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps[service]), base_url="http://test", headers=headers
        )

    async def revoke(self, user_id: str) -> None:
        self.revoked[user_id] = datetime.now(UTC)
        for app in self.apps.values():
            await app.state.revocations.refresh()
