from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.kit.auth import StaticKeySet
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from services.publisher.activities import PublisherActivities
from services.publisher.channels import UnknownChannelError
from services.publisher.main import app
from tests.database import DatabaseFactory
from tests.unit.publisher_fixtures import FakeDrafts, approval_gate, configure, draft_version, signed_request


@dataclass
class Api:
    http: httpx.AsyncClient
    key: SigningKey
    drafts: FakeDrafts

    def headers(self, *roles: str) -> dict[str, str]:
        principal = Principal(user_id="u-1", username="casey", name="Casey", roles=frozenset(roles))
        token = issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    configure(monkeypatch, tmp_path, database("publisher"))
    async with app.router.lifespan_context(app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        app.state.drafts = drafts = FakeDrafts()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(http, key, drafts)


async def publish(draft_id: str, version: int) -> str:
    content = draft_version(draft_id, version)
    activities = PublisherActivities(
        app.state.sessionmaker, FakeDrafts(content), app.state.directory, approvals=approval_gate()
    )
    request = signed_request(draft_id, version, content.content_hash, ["sandbox"])
    result = await activities.publish_post(request)
    return result.publications[0].publication_id


async def test_publications_are_listed_by_draft(api: Api) -> None:
    first = await publish("d-1", 1)
    second = await publish("d-1", 2)
    await publish("d-2", 1)
    api.drafts.authors["d-1"] = "u-1"

    response = await api.http.get("/api/v1/publications", params={"draft_id": "d-1"}, headers=api.headers())

    assert response.status_code == 200
    publications = response.json()["publications"]
    assert [(p["id"], p["version"]) for p in publications] == [(first, 1), (second, 2)]
    assert set(publications[0]) == {
        "id",
        "draft_id",
        "version",
        "channel",
        "content_hash",
        "status",
        "external_id",
        "created_at",
        "published_at",
        "network",
        "url",
        "removed_at",
        "removal",
    }
    assert publications[0]["status"] == "published"
    assert publications[0]["content_hash"] == draft_version("d-1", 1).content_hash
    published_at = datetime.fromisoformat(publications[0]["published_at"])
    assert published_at.utcoffset() == timedelta(0)


async def test_a_draft_without_publications_lists_none(api: Api) -> None:
    api.drafts.authors["d-none"] = "u-1"

    response = await api.http.get(
        "/api/v1/publications", params={"draft_id": "d-none"}, headers=api.headers("author")
    )

    assert response.status_code == 200
    assert response.json() == {"publications": []}


async def test_only_those_who_may_read_the_draft_see_its_publications(api: Api) -> None:
    await publish("d-1", 1)
    api.drafts.authors["d-1"] = "someone-else"

    async def listed(*roles: str, draft_id: str = "d-1") -> httpx.Response:
        params = {"draft_id": draft_id}
        return await api.http.get("/api/v1/publications", params=params, headers=api.headers(*roles))

    # Any signed-in user used to get any draft's records; the drafts service's rule decides now.
    for roles in [(), ("author",)]:
        refused = await listed(*roles)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden"
    for role in ("legal", "compliance", "medical", "publisher", "auditor", "admin"):
        allowed = await listed(role)
        assert allowed.status_code == 200, (role, allowed.text)
        assert len(allowed.json()["publications"]) == 1
    assert (await listed("author", draft_id="d-unknown")).status_code == 404
    api.drafts.authors["d-1"] = "u-1"
    assert (await listed("author")).status_code == 200


async def test_draft_id_is_required(api: Api) -> None:
    response = await api.http.get("/api/v1/publications", headers=api.headers())

    assert response.status_code == 422
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize("path", ["/api/v1/publications?draft_id=d-1", "/api/v1/channels"])
async def test_anonymous_callers_are_turned_away(api: Api, path: str) -> None:
    response = await api.http.get(path)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_channels_lists_the_configured_channels(api: Api) -> None:
    response = await api.http.get("/api/v1/channels", headers=api.headers("reviewer"))

    assert response.status_code == 200
    assert response.json() == {
        "channels": [
            {
                "name": "sandbox",
                "max_length": 5000,
                "network": "sandbox",
                "unit": "characters",
                "status": "ok",
                "reason": "",
                "paused": False,
                "usable": True,
                "fold": None,
            }
        ]
    }


async def test_an_unimplemented_configured_channel_stops_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> None:
    configure(monkeypatch, tmp_path, database("publisher"))
    monkeypatch.setenv("CLEARPOST_PUBLISHER_CHANNELS", '["sandbox", "twitter"]')

    with pytest.raises(UnknownChannelError, match="twitter"):
        async with app.router.lifespan_context(app):
            pass
