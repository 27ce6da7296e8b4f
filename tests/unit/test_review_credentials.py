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


async def test_a_signing_reauthentication_is_redeemed_at_the_gateway_once_for_this_decision() -> None:
    from pydantic import ValidationError

    from services.kit.credentials import decision_binding
    from services.review.schemas import DecisionIn

    seen: list[httpx.Request] = []
    redeemed = {
        "method": "oidc",
        "auth_time": "2026-12-02T10:00:00+00:00",
        "acr": "urn:mfa",
        "amr": ["pwd", "otp"],
    }
    answers = iter(
        [
            httpx.Response(200, json=redeemed),
            httpx.Response(404, json={"error": "not_found", "detail": "used already"}),
            httpx.Response(409, json={"error": "signature_failed", "detail": "another decision"}),
            httpx.Response(500, json={}),
        ]
    )  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    binding = decision_binding(draft_id="d1", version=3, content_hash="a" * 64, stage="legal")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        checker = GatewayCredentialChecker(http, "http://gw", internal_token="svc").on_behalf_of(
            "203.0.113.5"
        )
        done = await checker.redeem("h" * 32, user_id="u1", binding=binding)
        assert done is not None and (done.method, done.acr, done.amr) == ("oidc", "urn:mfa", ("pwd", "otp"))
        assert await checker.redeem("h" * 32, user_id="u1", binding=binding) is None
        assert await checker.redeem("h" * 32, user_id="u1", binding=binding) is None
        with pytest.raises(ClearpostError):
            await checker.redeem("h" * 32, user_id="u1", binding=binding)
    assert seen[0].url.path == "/internal/v1/signing-reauthentications/redeem"
    assert seen[0].headers["x-clearpost-service-token"] == "svc"
    assert binding != decision_binding(draft_id="d1", version=3, content_hash="a" * 64, stage="medical")
    # A decision is signed with exactly one of the two credentials.
    base = {"stage": "legal", "decision": "approve", "content_hash": "a" * 64}
    with pytest.raises(ValidationError):
        DecisionIn(**base)
    with pytest.raises(ValidationError):
        DecisionIn(**base, password="pw", reauthentication="h" * 32)
    assert DecisionIn(**base, reauthentication="h" * 32).password is None
