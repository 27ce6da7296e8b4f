"""Offboarding end to end: a reviewer approves, the identity provider deactivates them over SCIM,
and within the stated bound every service refuses them, their approval is voided and the stage
re-opens; a colleague approves and the post publishes.

Bounds (docs/security.md): tokens refused everywhere within REVOKED_WITHIN seconds, the approval
voided within VOIDED_WITHIN seconds (the revocation list refresh, then a Temporal update).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.e2e.spine_fixtures import draft_body, wait_for_status
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e

PASSWORD = "offboarding-test-password"
REVOKED_WITHIN = 5.0
VOIDED_WITHIN = 10.0
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def poll(check: Callable[[], Awaitable[bool]], deadline_seconds: float, what: str) -> float:
    """Seconds until `check` held; fails when it does not hold within the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {deadline_seconds} s")


async def new_user(admin: httpx.AsyncClient, role: str) -> dict[str, Any]:
    username = f"{role}-{uuid.uuid4().hex[:8]}@offboarding"
    created = await admin.post(
        "/api/v1/users",
        json={
            "username": username,
            "display_name": f"{role.title()} Tester",
            "password": PASSWORD,
            "roles": [role],
        },
    )
    assert created.status_code == 201, created.text
    user: dict[str, Any] = created.json()
    return user


def login(system: RunningSystem, username: str, *, offline: bool = False) -> dict[str, Any]:
    form = {"username": username, "password": PASSWORD} | ({"scope": "offline_access"} if offline else {})
    response = httpx.post(f"{system.gateway}/api/v1/auth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def approve(system: RunningSystem, username: str, draft: dict[str, Any], stage: str) -> httpx.Response:
    token = login(system, username)["access_token"]
    async with httpx.AsyncClient(base_url=system.gateway, headers=bearer(token), timeout=30) as client:
        return await client.post(
            f"/api/v1/reviews/{draft['id']}/decisions",
            json={
                "stage": stage,
                "decision": "approve",
                "reason": "",
                "password": PASSWORD,
                "content_hash": draft["content_hash"],
            },
        )


async def test_scim_deactivation_revokes_access_and_voids_the_approval(system: RunningSystem) -> None:
    async with system.client("admin@demo") as admin:
        author = await new_user(admin, "author")
        leaving = await new_user(admin, "compliance")
        colleague = await new_user(admin, "compliance")
        legal = await new_user(admin, "legal")
        auditor = await new_user(admin, "auditor")

    author_token = login(system, author["username"])["access_token"]
    async with httpx.AsyncClient(base_url=system.gateway, headers=bearer(author_token), timeout=30) as client:
        created = await client.post("/api/v1/drafts", json=draft_body())
        assert created.status_code == 201, created.text
        assert (await client.post(f"/api/v1/drafts/{created.json()['id']}/submit")).status_code == 200
        draft = await wait_for_status(client, created.json()["id"], "in_review")
    assert [s["stage"] for s in draft["stages"]] == ["compliance", "legal"]

    approved = await approve(system, leaving["username"], draft, "compliance")
    assert approved.status_code == 200, approved.text
    tokens = login(system, leaving["username"], offline=True)
    stolen = tokens["access_token"]
    # Before: the token works at every service.
    checks = {
        "gateway": (system.urls["gateway"], "/api/v1/auth/me"),
        "drafts": (system.urls["drafts"], f"/api/v1/drafts/{draft['id']}"),
        "review": (system.urls["review"], "/api/v1/reviews/queue"),
        "publisher": (system.urls["publisher"], "/api/v1/channels"),
        "audit": (system.urls["audit"], "/api/v1/audit/events"),
    }
    async with httpx.AsyncClient(headers=bearer(stolen), timeout=10) as thief:
        for name, (base, path) in checks.items():
            status = (await thief.get(f"{base}{path}")).status_code
            assert status in (200, 403), f"{name} answered {status} before deactivation"

        scim_token = (system.var_dir / "keys" / "gateway" / "scim-token").read_text().strip()
        async with httpx.AsyncClient(base_url=system.gateway, timeout=10) as idp:
            refused = await idp.patch(
                f"/scim/v2/Users/{leaving['id']}",
                json={
                    "schemas": [SCIM_PATCH],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                },
                headers=bearer("not-the-scim-token"),
            )
            assert refused.status_code == 401
            deactivated = await idp.patch(
                f"/scim/v2/Users/{leaving['id']}",
                json={
                    "schemas": [SCIM_PATCH],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                },
                headers={**bearer(scim_token), "Content-Type": "application/scim+json"},
            )
            assert deactivated.status_code == 200, deactivated.text
            assert deactivated.json()["active"] is False

        async def refused_everywhere() -> bool:
            for name, (base, path) in checks.items():
                response = await thief.get(f"{base}{path}")
                if response.status_code != 401:
                    return False
                if name != "gateway":  # /auth/me reads the account itself and says so in its words
                    assert response.json()["detail"] == "user deactivated"
            return True

        await poll(refused_everywhere, REVOKED_WITHIN, "every service refusing the deactivated user's token")

    async with httpx.AsyncClient(base_url=system.gateway, timeout=10) as anonymous:
        refreshed = await anonymous.post(
            "/api/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 401
        relogin = await anonymous.post(
            "/api/v1/auth/token", data={"username": leaving["username"], "password": PASSWORD}
        )
        assert relogin.status_code == 401

    async with httpx.AsyncClient(base_url=system.gateway, headers=bearer(author_token), timeout=30) as client:

        async def stage_voided() -> bool:
            current = (await client.get(f"/api/v1/drafts/{draft['id']}")).json()
            return bool(current["stages"][0]["status"] == "voided")

        await poll(stage_voided, VOIDED_WITHIN, "the departed reviewer's approval being voided")
        current = (await client.get(f"/api/v1/drafts/{draft['id']}")).json()
        assert current["status"] == "in_review"
        compliance = current["stages"][0]
        assert [d["decision"] for d in compliance["decisions"]] == ["approve", "voided"]

        colleague_token = login(system, colleague["username"])["access_token"]
        async with httpx.AsyncClient(base_url=system.gateway, headers=bearer(colleague_token)) as queue:
            tasks = (await queue.get("/api/v1/reviews/queue")).json()["tasks"]
        assert any(t["draft_id"] == draft["id"] and t["stage"] == "compliance" for t in tasks)

        assert (await approve(system, colleague["username"], draft, "compliance")).status_code == 200
        assert (await approve(system, legal["username"], draft, "legal")).status_code == 200
        published = await wait_for_status(client, draft["id"], "published", "publish_failed")
    assert published["status"] == "published", published

    auditor_token = login(system, auditor["username"])["access_token"]
    async with httpx.AsyncClient(
        base_url=system.gateway, headers=bearer(auditor_token), timeout=30
    ) as client:
        events = (await client.get("/api/v1/audit/events", params={"draft_id": draft["id"]})).json()["events"]
    voided = [e for e in events if e["action"] == "decision.voided"]
    assert len(voided) == 1 and voided[0]["details"]["user_id"] == leaving["id"]
