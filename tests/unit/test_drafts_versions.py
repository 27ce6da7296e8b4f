"""GET /api/v1/drafts/{id}/versions: every version, for the draft's readers only (the review UI's diff)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.drafts.main import app as drafts_app
from services.kit.auth import StaticKeySet
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from tests.database import DatabaseFactory

DRAFT = {"title": "Flu shots", "body": "Walk-in flu vaccinations on Saturday.", "channels": ["sandbox"]}


class NoAudit:
    async def append(self, **event: Any) -> dict[str, Any]:
        return {"seq": 1}


class OneChannel:
    async def names(self, bearer_token: str, *, including: Collection[str] = ()) -> set[str]:
        return {"sandbox"}


def headers(key: SigningKey, user_id: str, *roles: str) -> dict[str, str]:
    principal = Principal(user_id=user_id, username=f"{user_id}@t", name=user_id, roles=frozenset(roles))
    token = issue_access_token(
        key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, SigningKey]]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "t")
    for name, value in database("drafts").settings_env().items():
        monkeypatch.setenv(name, value)
    async with drafts_app.router.lifespan_context(drafts_app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        drafts_app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        drafts_app.state.audit = NoAudit()
        drafts_app.state.channels = OneChannel()
        transport = httpx.ASGITransport(app=drafts_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, key


async def test_versions_list_every_version_oldest_first(client: tuple[httpx.AsyncClient, SigningKey]) -> None:
    http, key = client
    author = headers(key, "a-1", "author")
    draft = (await http.post("/api/v1/drafts", json=DRAFT, headers=author)).json()
    revised = await http.put(
        f"/api/v1/drafts/{draft['id']}",
        json={**DRAFT, "body": "Walk-in flu shots on Sunday."},
        headers=author,
    )
    assert revised.status_code == 200

    for reader in (author, headers(key, "r-1", "compliance"), headers(key, "x-1", "auditor")):
        response = await http.get(f"/api/v1/drafts/{draft['id']}/versions", headers=reader)
        assert response.status_code == 200, response.text
        versions = response.json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        assert versions[0]["body"] == DRAFT["body"]
        assert versions[1]["body"] == "Walk-in flu shots on Sunday."
        assert versions[1]["content_hash"] == revised.json()["content_hash"]


async def test_versions_refused_to_other_authors_and_missing_drafts(
    client: tuple[httpx.AsyncClient, SigningKey],
) -> None:
    http, key = client
    draft = (await http.post("/api/v1/drafts", json=DRAFT, headers=headers(key, "a-1", "author"))).json()

    other = await http.get(f"/api/v1/drafts/{draft['id']}/versions", headers=headers(key, "a-2", "author"))
    missing = await http.get("/api/v1/drafts/nope/versions", headers=headers(key, "r-1", "legal"))
    anonymous = await http.get(f"/api/v1/drafts/{draft['id']}/versions")

    assert (other.status_code, other.json()["error"]) == (403, "forbidden")
    assert missing.status_code == 404
    assert anonymous.status_code == 401
