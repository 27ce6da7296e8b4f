"""SCIM 2.0 Groups: role changes made at the identity provider take effect without a sign-in."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit

pytest_plugins = ["tests.unit.gateway_fixtures"]

GROUPS = "/scim/v2/Groups"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PASSWORD = "group-member-password"


@pytest.fixture
def gateway_env(gateway_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLEARPOST_OIDC_ROLE_MAP", json.dumps({"clearpost-legal": ["legal"], "ward-7": []}))
    return gateway_env


def scim(app: FastAPI) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.scim_token}", "Content-Type": "application/scim+json"}


async def new_author(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/users",
        json={
            "username": f"author-{uuid.uuid4().hex[:8]}@test",
            "display_name": "Grace Group",
            "password": PASSWORD,
            "roles": ["author"],
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def test_removing_a_user_from_its_group_ends_that_role_without_a_sign_in(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
) -> None:
    admin = await gateway_login.headers("admin@demo")
    user = await new_author(gateway_client, admin)
    created = await gateway_client.post(
        GROUPS,
        json={"displayName": "clearpost-legal", "members": [{"value": user["id"]}]},
        headers=scim(gateway_app),
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["members"] == [{"value": user["id"]}]
    tokens = await gateway_client.post(
        "/api/v1/auth/token",
        data={"username": user["username"], "password": PASSWORD, "scope": "offline_access"},
    )
    assert jwt.get_unverified_claims(tokens.json()["access_token"])["roles"] == ["author", "legal"]
    bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    assert (await gateway_client.get("/api/v1/auth/me", headers=bearer)).status_code == 200

    removed = await gateway_client.patch(
        f"{GROUPS}/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user["id"]}"]'}],
        },
        headers=scim(gateway_app),
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["members"] == []
    changed = [e for e in gateway_audit.events if e["action"] == "user.roles_changed"]
    assert changed[-1]["details"]["removed"] == ["legal"] and changed[-1]["details"]["via"] == "scim"

    # Within the revocation list's refresh (as for a deactivation), the old token is refused.
    await gateway_app.state.revocations.refresh()
    assert (await gateway_client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    listed = await gateway_client.get(
        "/internal/v1/revocations", headers={"X-Clearpost-Service-Token": "test-internal-token"}
    )
    assert user["id"] in [e["user_id"] for e in listed.json()["tokens_revoked"]]
    # The admin's role stays: it came from Clearpost, not from the group.
    users = (await gateway_client.get("/api/v1/users", headers=admin)).json()["users"]
    assert next(u for u in users if u["id"] == user["id"])["roles"] == ["author"]


async def test_groups_are_created_replaced_patched_and_deleted(
    gateway_app: FastAPI, gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    admin = await gateway_login.headers("admin@demo")
    first, second = await new_author(gateway_client, admin), await new_author(gateway_client, admin)
    headers = scim(gateway_app)
    group = (await gateway_client.post(GROUPS, json={"displayName": "ward-7"}, headers=headers)).json()
    duplicate = await gateway_client.post(GROUPS, json={"displayName": "ward-7"}, headers=headers)
    assert duplicate.status_code == 409
    added = await gateway_client.patch(
        f"{GROUPS}/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": first["id"]}]}],
        },
        headers=headers,
    )
    assert [m["value"] for m in added.json()["members"]] == [first["id"]]
    replaced = await gateway_client.put(
        f"{GROUPS}/{group['id']}",
        json={"displayName": "clearpost-legal", "members": [{"value": second["id"]}]},
        headers=headers,
    )
    assert replaced.status_code == 200 and replaced.json()["displayName"] == "clearpost-legal"
    assert [m["value"] for m in replaced.json()["members"]] == [second["id"]]
    users = {u["id"]: u for u in (await gateway_client.get("/api/v1/users", headers=admin)).json()["users"]}
    assert users[second["id"]]["roles"] == ["author", "legal"] and users[first["id"]]["roles"] == ["author"]
    found = await gateway_client.get(
        GROUPS, params={"filter": 'displayName eq "clearpost-legal"'}, headers=headers
    )
    assert found.json()["totalResults"] == 1
    unknown = await gateway_client.patch(
        f"{GROUPS}/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "nobody"}]}],
        },
        headers=headers,
    )
    assert unknown.status_code == 404
    assert (await gateway_client.delete(f"{GROUPS}/{group['id']}", headers=headers)).status_code == 204
    users = {u["id"]: u for u in (await gateway_client.get("/api/v1/users", headers=admin)).json()["users"]}
    assert users[second["id"]]["roles"] == ["author"]
    assert (await gateway_client.get(f"{GROUPS}/{group['id']}", headers=headers)).status_code == 404
    assert (await gateway_client.get(GROUPS, headers=admin)).status_code == 401
