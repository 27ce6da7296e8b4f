"""With CLEARPOST_GATEWAY_INTERNAL_PORT the gateway's /internal routes answer only on that port:
the public listener (what an Ingress forwards) shows none of them, as if they did not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.main import app as gateway_asgi_app
from services.kit.settings import KitSettings
from tests.unit.recording_audit import RecordingAudit

pytest_plugins = ["tests.unit.gateway_fixtures"]

INTERNAL = {"X-Clearpost-Service-Token": "test-internal-token"}
REVOCATIONS = "/internal/v1/revocations"


@pytest.fixture
async def two_port_gateway(gateway_env: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FastAPI]:
    monkeypatch.setenv("CLEARPOST_GATEWAY_INTERNAL_PORT", "8010")
    async with gateway_asgi_app.router.lifespan_context(gateway_asgi_app):
        gateway_asgi_app.state.audit = RecordingAudit()
        yield gateway_asgi_app


def client(app: FastAPI, port: int) -> httpx.AsyncClient:
    # The ASGI scope's "server" is the host and port the request came in on.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://gateway:{port}")


async def test_internal_routes_answer_only_on_the_internal_port(two_port_gateway: FastAPI) -> None:
    async with client(two_port_gateway, 8000) as public, client(two_port_gateway, 8010) as internal:
        hidden = await public.get(REVOCATIONS, headers=INTERNAL)
        unknown = await public.get("/internal/v1/nothing-here", headers=INTERNAL)
        listed = await internal.get(REVOCATIONS, headers=INTERNAL)
        token = await public.post(
            "/api/v1/auth/token", data={"username": "author@demo", "password": "demo-password"}
        )

    assert hidden.status_code == 404 and hidden.json() == unknown.json()
    assert listed.status_code == 200 and listed.json()["revoked"] == []
    assert token.status_code == 200  # the public API is where it was


async def test_with_one_port_internal_routes_stay_behind_the_service_credential(gateway_app: FastAPI) -> None:
    async with client(gateway_app, 8000) as public:
        assert (await public.get(REVOCATIONS, headers=INTERNAL)).status_code == 200
        assert (await public.get(REVOCATIONS)).status_code == 401


def test_services_poll_the_gateways_internal_url_when_one_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARPOST_GATEWAY_URL", "http://gateway:8000/")
    assert KitSettings().gateway_internal() == "http://gateway:8000"
    monkeypatch.setenv("CLEARPOST_GATEWAY_INTERNAL_URL", "http://gateway:8010")
    assert KitSettings().gateway_internal() == "http://gateway:8010"


async def test_the_review_service_redeems_signing_proofs_on_the_internal_listener() -> None:
    from services.kit.credentials import REDEEM_PATH, GatewayCredentialChecker

    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404, json={"error": "not_found", "detail": "spent"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
        checker = GatewayCredentialChecker(
            http, "http://gateway:8000", internal_token="t", internal_url="http://gateway:8010"
        ).on_behalf_of("10.0.0.7")
        assert await checker.redeem("h", user_id="u", binding="b") is None

    assert seen == [f"http://gateway:8010{REDEEM_PATH}"]
