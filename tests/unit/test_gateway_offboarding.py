"""Offboarding at the gateway: SCIM deactivation, the revocation list, refresh tokens ended, audit.

Every account deactivated here is created by the test (never a demo user).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI

from services.gateway.seed import DEMO_PASSWORD

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit

PASSWORD = "offboarding-password"
SCIM = "/scim/v2/Users"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
INTERNAL = {"X-Clearpost-Service-Token": "test-internal-token"}


def deactivate_op(value: Any = False, path: str | None = "active") -> dict[str, Any]:
    op: dict[str, Any] = {"op": "replace", "value": value}
    if path is not None:
        op["path"] = path
    return {"schemas": [PATCH_SCHEMA], "Operations": [op]}


async def new_user(
    client: httpx.AsyncClient, admin: dict[str, str], role: str = "compliance"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/users",
        json={
            "username": f"{role}-{uuid.uuid4().hex[:8]}@test",
            "display_name": "Leaving Soon",
            "password": PASSWORD,
            "roles": [role],
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


def scim_headers(app: FastAPI) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.scim_token}", "Content-Type": "application/scim+json"}


async def test_scim_needs_its_own_credential(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    admin = await gateway_login.headers("admin@demo")
    for headers in ({}, admin, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = await gateway_client.get(SCIM, headers=headers)
        assert response.status_code == 401, headers
        body = response.json()
        assert body["status"] == "401" and body["error"] == "unauthorized"


async def test_scim_token_comes_from_a_file_under_var_keys(gateway_app: FastAPI) -> None:
    path = gateway_app.state.settings.service_keys_dir("gateway") / "scim-token"
    assert path.read_text().strip() == gateway_app.state.scim_token
    assert path.stat().st_mode & 0o077 == 0


async def test_scim_list_filter_get(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, gateway_login: GatewayLogin
) -> None:
    admin = await gateway_login.headers("admin@demo")
    user = await new_user(gateway_client, admin)
    headers = scim_headers(gateway_app)
    listed = await gateway_client.get(
        SCIM, params={"filter": f'userName eq "{user["username"]}"'}, headers=headers
    )
    assert listed.status_code == 200
    assert listed.headers["content-type"].startswith("application/scim+json")
    body = listed.json()
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == user["id"]
    assert body["Resources"][0]["active"] is True
    paged = (await gateway_client.get(SCIM, params={"startIndex": 2, "count": 3}, headers=headers)).json()
    assert paged["startIndex"] == 2 and paged["itemsPerPage"] == 3
    one = await gateway_client.get(f"{SCIM}/{user['id']}", headers=headers)
    assert one.json()["userName"] == user["username"]
    missing = await gateway_client.get(f"{SCIM}/nobody", headers=headers)
    assert missing.status_code == 404 and missing.json()["status"] == "404"
    bad_filter = await gateway_client.get(SCIM, params={"filter": "title pr"}, headers=headers)
    assert bad_filter.status_code == 422 and bad_filter.json()["scimType"] == "invalidSyntax"
    upper = await gateway_client.get(
        SCIM, params={"filter": f'USERNAME EQ "{user["username"]}"'}, headers=headers
    )
    assert upper.json()["totalResults"] == 1


async def test_scim_patch_deactivates_revokes_and_lists_the_user(
    gateway_client: httpx.AsyncClient,
    gateway_app: FastAPI,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
) -> None:
    admin = await gateway_login.headers("admin@demo")
    user = await new_user(gateway_client, admin)
    signed_in = await gateway_client.post(
        "/api/v1/auth/token",
        data={"username": user["username"], "password": PASSWORD, "scope": "offline_access"},
    )
    access, refresh = signed_in.json()["access_token"], signed_in.json()["refresh_token"]
    assert (
        await gateway_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
    ).status_code == 200

    patched = await gateway_client.patch(
        f"{SCIM}/{user['id']}", json=deactivate_op(), headers=scim_headers(gateway_app)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False

    listed = await gateway_client.get("/internal/v1/revocations", headers=INTERNAL)
    assert [r["user_id"] for r in listed.json()["revoked"]] == [user["id"]]
    assert (await gateway_client.get("/internal/v1/revocations")).status_code == 401

    await gateway_app.state.revocations.refresh()
    me = await gateway_client.get("/api/v1/users", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401 and me.json()["detail"] == "user deactivated"
    refreshed = await gateway_client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert refreshed.status_code == 401
    deactivated = [e for e in gateway_audit.events if e["action"] == "user.deactivated"]
    assert len(deactivated) == 1
    assert deactivated[0]["actor"] == "system:scim"
    assert (
        deactivated[0]["details"]["via"] == "scim"
        and deactivated[0]["details"]["refresh_tokens_revoked"] == 1
    )

    # Reactivation through SCIM (string booleans, as some providers send them) takes the user off the list.
    again = await gateway_client.patch(
        f"{SCIM}/{user['id']}",
        json=deactivate_op({"active": "True"}, path=None),
        headers=scim_headers(gateway_app),
    )
    assert again.json()["active"] is True
    assert (await gateway_client.get("/internal/v1/revocations", headers=INTERNAL)).json()["revoked"] == []
    assert "user.reactivated" in gateway_audit.actions()


async def test_scim_delete_deactivates_and_keeps_the_account(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, gateway_login: GatewayLogin
) -> None:
    admin = await gateway_login.headers("admin@demo")
    user = await new_user(gateway_client, admin)
    deleted = await gateway_client.delete(f"{SCIM}/{user['id']}", headers=scim_headers(gateway_app))
    assert deleted.status_code == 204
    kept = await gateway_client.get(f"{SCIM}/{user['id']}", headers=scim_headers(gateway_app))
    assert kept.status_code == 200 and kept.json()["active"] is False
    login = await gateway_client.post(
        "/api/v1/auth/token", data={"username": user["username"], "password": PASSWORD}
    )
    assert login.status_code == 401


async def test_scim_patch_refuses_what_it_does_not_support(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, gateway_login: GatewayLogin
) -> None:
    admin = await gateway_login.headers("admin@demo")
    user = await new_user(gateway_client, admin)
    headers = scim_headers(gateway_app)
    # Anything but `active` (path form or object form), any op but replace/add, another schema: the
    # request does not match the documented PatchOp and is refused whole, in the SCIM error shape.
    cases = [
        deactivate_op(path="userName"),
        deactivate_op(value="maybe"),
        deactivate_op(value={"active": False, "userName": "x"}, path=None),
        {"schemas": ["urn:other"], "Operations": [{"op": "replace", "path": "active", "value": False}]},
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "active"}]},
        {"schemas": [PATCH_SCHEMA]},
    ]
    for body in cases:
        response = await gateway_client.patch(f"{SCIM}/{user['id']}", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["scimType"] == "invalidSyntax"
        assert response.headers["content-type"].startswith("application/scim+json")
    still = await gateway_client.get(f"{SCIM}/{user['id']}", headers=headers)
    assert still.json()["active"] is True


async def test_admin_api_deactivation_is_listed_too(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_audit: RecordingAudit
) -> None:
    admin = await gateway_login.headers("admin@demo")
    user = await new_user(gateway_client, admin)
    patched = await gateway_client.patch(f"/api/v1/users/{user['id']}", json={"active": False}, headers=admin)
    assert patched.status_code == 200
    listed = (await gateway_client.get("/internal/v1/revocations", headers=INTERNAL)).json()["revoked"]
    assert [r["user_id"] for r in listed] == [user["id"]]
    event = next(e for e in gateway_audit.events if e["action"] == "user.deactivated")
    assert event["details"]["via"] == "api"
    # The demo password still works for others: only the deactivated account is affected.
    assert (await gateway_login.token_response("legal@demo", DEMO_PASSWORD)).status_code == 200
