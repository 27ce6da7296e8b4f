"""What a service sends the audit log: who acted (id, printed name, roles), from which service."""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.kit.audit_client import AuditClient
from services.kit.tokens import Principal

REVIEWER = Principal(
    user_id="u-7", username="carol@t", name="Carol Chen", roles=frozenset({"legal", "compliance"})
)


async def sent_by(actor: str | Principal) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    def audit_service(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/internal/v1/events")
        sent.append(json.loads(request.content))
        return httpx.Response(201, json={"seq": 1})

    async with httpx.AsyncClient(
        base_url="http://audit", transport=httpx.MockTransport(audit_service)
    ) as http:
        await AuditClient(http, "review").append(
            actor=actor, action="review.commented", subject="draft:d-1", details={"reason": "x"}
        )
    [payload] = sent
    return payload


async def test_a_signed_in_user_is_recorded_by_id_printed_name_and_roles() -> None:
    payload = await sent_by(REVIEWER)

    assert (payload["actor"], payload["actor_name"], payload["actor_roles"]) == (
        "u-7",
        "Carol Chen",
        ["compliance", "legal"],
    )
    assert payload["service"] == "review" and payload["details"] == {"reason": "x", "service": "review"}
    assert payload["idempotency_key"].startswith("review:")


async def test_a_system_actor_is_recorded_by_name_only() -> None:
    payload = await sent_by("system:offboarding")

    assert payload["actor"] == "system:offboarding"
    assert "actor_name" not in payload and "actor_roles" not in payload
