"""Password re-entry at signing and UI sign-in go through the gateway's limits, per browser address."""

from __future__ import annotations

import httpx
import pytest

from services.kit.credentials import GatewayCredentialChecker
from services.kit.errors import ClearpostError, TooManyAttempts
from services.review.ui.upstream import GatewayIdentity, SignInRefused


def gateway(status: int, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if status == 200:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 900, "refresh_token": "r"})
        return httpx.Response(
            status, json={"error": "x", "detail": "too many failed sign-ins; try again in 15 minutes"}
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_signing_counts_against_the_browsers_address_and_reports_a_lock() -> None:
    seen: list[httpx.Request] = []
    async with gateway(200, seen) as http:
        checker = GatewayCredentialChecker(http, "http://gw").on_behalf_of("203.0.113.5")
        assert await checker.confirms("legal@x", "pw")
    assert seen[0].headers["x-forwarded-for"] == "203.0.113.5"
    async with gateway(401, seen) as http:
        assert not await GatewayCredentialChecker(http, "http://gw").confirms("legal@x", "pw")
    assert "x-forwarded-for" not in seen[1].headers
    async with gateway(429, seen) as http:
        with pytest.raises(TooManyAttempts) as locked:
            await GatewayCredentialChecker(http, "http://gw").confirms("legal@x", "pw")
    assert locked.value.status_code == 429


async def test_ui_sign_in_reports_the_gateways_lock() -> None:
    seen: list[httpx.Request] = []
    async with gateway(429, seen) as http:
        identity = GatewayIdentity(http, "http://gw").on_behalf_of("198.51.100.3")
        with pytest.raises(ClearpostError) as locked:
            await identity.sign_in("legal@x", "pw")
    assert locked.value.status_code == 429 and locked.value.code == "too_many_attempts"
    assert seen[0].headers["x-forwarded-for"] == "198.51.100.3"
    async with gateway(401, seen) as http:
        with pytest.raises(SignInRefused):
            await GatewayIdentity(http, "http://gw").sign_in("legal@x", "pw")
