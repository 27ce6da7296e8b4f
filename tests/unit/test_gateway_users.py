"""Admin user management and the demo seed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.gateway.config import GatewaySettings
from services.gateway.models import User
from services.gateway.seed import DEMO_USERS, DemoDisabled, seed_demo, seed_demo_users
from tests.database import DatabaseFactory

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit


NEW_USER = {
    "username": "reviewer@clinic",
    "display_name": "Robin Reviewer",
    "password": "a-long-enough-secret",
    "roles": ["legal", "compliance"],
}


async def find_user(app: FastAPI, username: str) -> User | None:
    async with app.state.sessionmaker() as session:
        result = await session.execute(select(User).where(User.username == username))
        return result.scalar_one_or_none()


async def test_admin_creates_user_who_can_log_in(
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
    gateway_app: FastAPI,
) -> None:
    admin = await gateway_login.headers("admin@demo")

    response = await gateway_client.post("/api/v1/users", json=NEW_USER, headers=admin)

    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "username", "display_name", "roles", "active", "created_at", "updated_at"}
    assert created["roles"] == ["compliance", "legal"]
    assert created["active"] is True
    me = await gateway_client.get(
        "/api/v1/auth/me", headers=await gateway_login.headers("reviewer@clinic", NEW_USER["password"])
    )
    assert me.json()["display_name"] == "Robin Reviewer"
    admin_user = await find_user(gateway_app, "admin@demo")
    assert admin_user is not None
    event = next(e for e in gateway_audit.events if e["action"] == "user.created")
    assert event["actor"] == admin_user.id
    assert event["subject"] == f"user:{created['id']}"
    assert NEW_USER["password"] not in repr(event)
    assert "password_hash" not in repr(event)


async def test_admin_lists_users_without_hashes(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    response = await gateway_client.get("/api/v1/users", headers=await gateway_login.headers("admin@demo"))

    assert response.status_code == 200
    users = response.json()["users"]
    assert sorted(u["username"] for u in users) == sorted(name for name, _, _ in DEMO_USERS)
    assert "argon2" not in response.text
    assert all("password_hash" not in u for u in users)


async def test_admin_patches_user(
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
    gateway_app: FastAPI,
) -> None:
    admin = await gateway_login.headers("admin@demo")
    target = await find_user(gateway_app, "author2@demo")
    assert target is not None

    response = await gateway_client.patch(
        f"/api/v1/users/{target.id}",
        json={"display_name": "Sam Senior-Author", "roles": ["author", "publisher"], "password": "x" * 16},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Sam Senior-Author"
    assert response.json()["roles"] == ["author", "publisher"]
    event = gateway_audit.events[-1]
    assert event["action"] == "user.updated"
    assert event["details"]["changed"] == {
        "display_name": "Sam Senior-Author",
        "roles": ["author", "publisher"],
    }
    assert event["details"]["password_changed"] is True
    assert "x" * 16 not in repr(event)
    assert (await gateway_login.token_response("author2@demo")).status_code == 401
    assert (await gateway_login.token_response("author2@demo", "x" * 16)).status_code == 200


async def test_deactivated_user_cannot_log_in(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_app: FastAPI
) -> None:
    target = await find_user(gateway_app, "legal@demo")
    assert target is not None

    response = await gateway_client.patch(
        f"/api/v1/users/{target.id}",
        json={"active": False},
        headers=await gateway_login.headers("admin@demo"),
    )

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert (await gateway_login.token_response("legal@demo")).status_code == 401


async def test_admin_cannot_lock_themselves_out(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_app: FastAPI
) -> None:
    admin = await find_user(gateway_app, "admin@demo")
    assert admin is not None
    headers = await gateway_login.headers("admin@demo")

    for change in ({"active": False}, {"roles": ["auditor"]}):
        response = await gateway_client.patch(f"/api/v1/users/{admin.id}", json=change, headers=headers)
        assert response.status_code == 409


async def test_patch_unknown_user_is_404(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    response = await gateway_client.patch(
        "/api/v1/users/does-not-exist",
        json={"active": False},
        headers=await gateway_login.headers("admin@demo"),
    )
    assert response.status_code == 404


@pytest.mark.parametrize("username", ["legal@demo", "publisher@demo", "authorreviewer@demo"])
async def test_non_admin_is_forbidden(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, username: str
) -> None:
    headers = await gateway_login.headers(username)

    assert (await gateway_client.get("/api/v1/users", headers=headers)).status_code == 403
    assert (await gateway_client.post("/api/v1/users", json=NEW_USER, headers=headers)).status_code == 403
    patched = await gateway_client.patch("/api/v1/users/x", json={"active": False}, headers=headers)
    assert patched.status_code == 403


async def test_anonymous_is_unauthorized(gateway_client: httpx.AsyncClient) -> None:
    assert (await gateway_client.get("/api/v1/users")).status_code == 401
    assert (await gateway_client.post("/api/v1/users", json=NEW_USER)).status_code == 401
    assert (await gateway_client.patch("/api/v1/users/x", json={"active": False})).status_code == 401


@pytest.mark.parametrize("username", ["legal@demo", "Legal@Demo"])
async def test_duplicate_username_conflicts(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, username: str
) -> None:
    response = await gateway_client.post(
        "/api/v1/users",
        json={**NEW_USER, "username": username},
        headers=await gateway_login.headers("admin@demo"),
    )
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"roles": ["legal", "superuser"]}, "roles", "unknown role(s) superuser"),
        ({"password": "short-pass"}, "password", "at least 12 characters"),
        ({"roles": []}, "roles", "at least 1 item"),
        ({"username": "has space"}, "username", "pattern"),
    ],
)
async def test_invalid_user_is_422(
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    change: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    response = await gateway_client.post(
        "/api/v1/users", json={**NEW_USER, **change}, headers=await gateway_login.headers("admin@demo")
    )

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid"
    problem = body["detail"][0]
    assert problem["loc"][-1] == field
    assert reason in problem["msg"]


async def test_patch_with_bad_role_or_short_password_is_422(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_app: FastAPI
) -> None:
    target = await find_user(gateway_app, "auditor@demo")
    assert target is not None
    admin = await gateway_login.headers("admin@demo")

    for change in ({"roles": ["root"]}, {"password": "tooshort"}):
        response = await gateway_client.patch(f"/api/v1/users/{target.id}", json=change, headers=admin)
        assert response.status_code == 422, change


async def test_audit_outage_fails_and_rolls_back_user_changes(
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
    gateway_app: FastAPI,
) -> None:
    admin = await gateway_login.headers("admin@demo")
    target = await find_user(gateway_app, "compliance@demo")
    assert target is not None
    gateway_audit.down = True

    created = await gateway_client.post("/api/v1/users", json=NEW_USER, headers=admin)
    patched = await gateway_client.patch(f"/api/v1/users/{target.id}", json={"active": False}, headers=admin)

    assert created.status_code == 503
    assert created.json()["error"] == "upstream_unavailable"
    assert patched.status_code == 503
    assert await find_user(gateway_app, NEW_USER["username"]) is None
    unchanged = await find_user(gateway_app, "compliance@demo")
    assert unchanged is not None and unchanged.active is True


async def test_seed_is_idempotent_and_leaves_existing_users_alone(gateway_app: FastAPI) -> None:
    async with gateway_app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == "legal@demo"))).scalar_one()
        user.display_name = "Lena Renamed"
        await session.commit()

    async with gateway_app.state.sessionmaker() as session:
        created = await seed_demo_users(session)
        await session.commit()

    assert created == []
    async with gateway_app.state.sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    assert count == len(DEMO_USERS)
    renamed = await find_user(gateway_app, "legal@demo")
    assert renamed is not None and renamed.display_name == "Lena Renamed"


async def test_seed_demo_creates_missing_users_once(
    tmp_path: Path, database: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in database("gateway").settings_env().items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings(var_dir=tmp_path, demo=True)

    first = await asyncio.to_thread(seed_demo, settings)
    second = await asyncio.to_thread(seed_demo, settings)

    assert sorted(first) == sorted(name for name, _, _ in DEMO_USERS)
    assert second == []


def test_seed_demo_refuses_outside_demo_mode(tmp_path: Path) -> None:
    settings = GatewaySettings(var_dir=tmp_path, demo=False)

    with pytest.raises(DemoDisabled):
        seed_demo(settings)
    assert not (tmp_path / "gateway.db").exists()


@pytest.mark.parametrize("value", [0, 1, "false", "true", "no"])
async def test_request_booleans_are_json_booleans_only(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_app: FastAPI, value: object
) -> None:
    target = await find_user(gateway_app, "legal@demo")
    assert target is not None

    response = await gateway_client.patch(
        f"/api/v1/users/{target.id}",
        json={"active": value},
        headers=await gateway_login.headers("admin@demo"),
    )

    assert response.status_code == 422, response.text
    assert (await gateway_login.token_response("legal@demo")).status_code == 200  # nothing changed
