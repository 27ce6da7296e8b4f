"""The access review: every user, roles and their sources, last sign-in; JSON and CSV; audited."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit

pytest_plugins = ["tests.unit.gateway_fixtures"]


@pytest.fixture
def gateway_env(gateway_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLEARPOST_OIDC_ROLE_MAP", json.dumps({"clearpost-medical": ["medical"]}))
    return gateway_env


async def test_the_access_review_lists_roles_with_their_source_and_is_audited(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
) -> None:
    admin = await gateway_login.headers("admin@demo")
    legal = (await gateway_client.get("/api/v1/users", headers=admin)).json()["users"]
    legal_id = next(u["id"] for u in legal if u["username"] == "legal@demo")
    scim = {
        "Authorization": f"Bearer {gateway_app.state.scim_token}",
        "Content-Type": "application/scim+json",
    }
    group = await gateway_client.post(
        "/scim/v2/Groups",
        json={"displayName": "clearpost-medical", "members": [{"value": legal_id}]},
        headers=scim,
    )
    assert group.status_code == 201
    await gateway_login.headers("legal@demo")

    report = await gateway_client.get("/api/v1/users/access-review", headers=admin)
    assert report.status_code == 200, report.text
    users = {u["username"]: u for u in report.json()["users"]}
    lena = users["legal@demo"]
    assert lena["roles"] == [{"role": "legal", "source": "local"}, {"role": "medical", "source": "scim"}]
    assert (
        lena["sign_in"] == "local" and lena["last_sign_in_method"] == "password" and lena["last_sign_in_at"]
    )
    assert users["author@demo"]["last_sign_in_at"] is None
    ran = [e for e in gateway_audit.events if e["action"] == "users.access_review"]
    assert ran and ran[-1]["details"] == {"users": len(users), "format": "json"}

    exported = await gateway_client.get(
        "/api/v1/users/access-review", params={"format": "csv"}, headers=admin
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["username"] for r in rows} == set(users)
    assert next(r for r in rows if r["username"] == "legal@demo")["roles"] == "legal (local); medical (scim)"
    assert gateway_audit.actions().count("users.access_review") == 2

    refused = await gateway_client.get(
        "/api/v1/users/access-review", headers=await gateway_login.headers("legal@demo")
    )
    assert refused.status_code == 403
    gateway_audit.down = True
    assert (await gateway_client.get("/api/v1/users/access-review", headers=admin)).status_code == 503


async def test_the_access_review_names_each_reviewers_last_signed_decision(
    gateway_app: FastAPI, gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    from datetime import UTC, datetime

    admin = await gateway_login.headers("admin@demo")
    users = (await gateway_client.get("/api/v1/users", headers=admin)).json()["users"]
    legal_id = next(u["id"] for u in users if u["username"] == "legal@demo")
    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    gateway_app.state.last_decisions.decisions[legal_id] = (when, "approve legal on draft d-1 v2")

    report = (await gateway_client.get("/api/v1/users/access-review", headers=admin)).json()
    by_name = {u["username"]: u for u in report["users"]}
    assert by_name["legal@demo"]["last_decision"] == "approve legal on draft d-1 v2"
    assert datetime.fromisoformat(by_name["legal@demo"]["last_decision_at"]) == when
    assert by_name["author@demo"]["last_decision_at"] is None

    csv_text = (
        await gateway_client.get("/api/v1/users/access-review", params={"format": "csv"}, headers=admin)
    ).text
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert rows["legal@demo"]["last_decision"] == "approve legal on draft d-1 v2"
    assert rows["legal@demo"]["last_decision_at"] == when.isoformat()


async def test_without_the_review_services_answer_there_is_no_access_review(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
) -> None:
    from services.gateway.access_review import ReviewLastDecisions

    def review_down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    admin = await gateway_login.headers("admin@demo")
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(review_down), base_url="http://review"
    ) as http:
        gateway_app.state.last_decisions = ReviewLastDecisions(http)
        refused = await gateway_client.get("/api/v1/users/access-review", headers=admin)

    assert refused.status_code == 503
    assert "no access review without them" in refused.json()["detail"]
    assert "users.access_review" not in gateway_audit.actions()
