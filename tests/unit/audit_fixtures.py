"""The audit service's app on a migrated database (SQLite and PostgreSQL), with tokens and raw SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.audit.main import app
from services.audit.signed_formats import TrustedKeys, load_public_keys
from services.kit.auth import INTERNAL_HEADER, StaticKeySet
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from tests.database import DatabaseFactory

INTERNAL_TOKEN = "test-internal-token"
DRAFT = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@dataclass
class AuditApp:
    client: httpx.AsyncClient
    key: SigningKey
    var_dir: Path

    def bearer(self, *roles: str, user_id: str = "u-auditor", name: str = "Audrey Auditor") -> dict[str, str]:
        principal = Principal(user_id=user_id, username=user_id, name=name, roles=frozenset(roles))
        token = issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
        )
        return {"Authorization": f"Bearer {token}"}

    async def append(self, n: int, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "idempotency_key": f"test:{n}",
            "actor": f"user:{n % 3}",
            "action": "draft.created" if n % 2 else "review.opened",
            "subject": f"draft:{DRAFT}" if n % 2 else "user:7",
            "details": {"n": n, "note": "é ✓", "service": "drafts"},
        }
        body.update(overrides)
        response = await self.client.post(
            "/internal/v1/events", json=body, headers={INTERNAL_HEADER: INTERNAL_TOKEN}
        )
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    async def sql(self, statement: str, **params: Any) -> None:
        async with app.state.sessionmaker() as session:
            await session.execute(text(statement), params)
            await session.commit()

    async def export(self, **params: Any) -> bytes:
        headers = self.bearer("auditor")
        response = await self.client.get("/api/v1/audit/export", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.content

    async def public_key_file(self, tmp_path: Path) -> Path:
        response = await self.client.get("/api/v1/audit/public-key")
        path = tmp_path / "audit-key.json"
        path.write_bytes(response.content)
        return path

    async def trusted_keys(self, tmp_path: Path) -> TrustedKeys:
        return load_public_keys(await self.public_key_file(tmp_path))


@pytest.fixture
async def audit_app(
    tmp_path: Path, database: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AuditApp]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    # No gateway: not the default address either, where another run's gateway may answer with its
    # own revocation list (a parallel `make test` or `make run`).
    monkeypatch.setenv("CLEARPOST_GATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    monkeypatch.setenv("CLEARPOST_AUDIT_TREE_HEAD_EVERY_EVENTS", "4")
    monkeypatch.setenv("CLEARPOST_AUDIT_EXPORT_BATCH_SIZE", "3")
    for name, value in database("audit").settings_env().items():
        monkeypatch.setenv(name, value)
    async with app.router.lifespan_context(app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield AuditApp(client=client, key=key, var_dir=tmp_path / "var")
