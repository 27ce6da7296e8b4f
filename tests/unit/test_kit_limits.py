"""Request limits on every service: oversized bodies 413 (declared or streamed), malformed 422/400,
never a 500; and the revocation list's refresh rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from services.kit.auth import RevocationList
from services.kit.limits import MAX_BODY_BYTES, BodyLimitMiddleware
from tests.unit.security_support import SERVICES, Services

pytest_plugins = ["tests.unit.security_fixtures"]

# A route per service that a signed-in user may call, and whether it takes a body (the publisher's
# and the audit service's public routes take none: they answer 405 without reading it).
JSON_ROUTES = {
    "gateway": ("/api/v1/users", "admin", True),
    "drafts": ("/api/v1/drafts", "author", True),
    "review": ("/api/v1/screenings", "author", True),
    "publisher": ("/api/v1/channels", "author", False),
    "audit": ("/api/v1/audit/events", "auditor", False),
}


def test_every_service_installs_the_body_limit() -> None:
    for name, app in SERVICES.items():
        assert any(m.cls is BodyLimitMiddleware for m in app.user_middleware), name


@pytest.mark.parametrize("service", list(JSON_ROUTES))
async def test_oversized_and_malformed_bodies(services: Services, service: str) -> None:
    path, role, takes_body = JSON_ROUTES[service]
    async with services.client(service, services.token(role)) as client:
        declared = await client.post(path, content=b"{" + b" " * MAX_BODY_BYTES + b"}")
        assert declared.status_code == 413, declared.text
        assert declared.json()["error"] == "payload_too_large"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(MAX_BODY_BYTES // 65536 + 2):
                yield b" " * 65536

        streamed = await client.post(path, content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == (413 if takes_body else 405)

        bad_length = await client.post(path, content=b"{}", headers={"Content-Length": "x"})
        assert bad_length.status_code in (400, 422)

        for body in (b"{", b"[1, 2", b"\xff\xfe", b'{"a": NaN}', b"null"):
            malformed = await client.post(path, content=body, headers={"Content-Type": "application/json"})
            expected = 422 if takes_body else 405
            assert malformed.status_code == expected, (body, malformed.status_code, malformed.text)


async def test_revocation_list_refreshes_on_demand_and_keeps_the_last_list_on_failure() -> None:
    calls: list[int] = []
    answers: list[dict[str, datetime] | Exception] = [
        {"u-1": datetime(2026, 12, 1, tzinfo=UTC)},
        ConnectionError("gateway down"),
    ]

    async def source() -> dict[str, datetime]:
        calls.append(1)
        answer = answers.pop(0) if answers else {}
        if isinstance(answer, Exception):
            raise answer
        return answer

    revocations = RevocationList(source, interval=0)
    assert await revocations.is_revoked("u-1")  # fetched on demand
    assert await revocations.is_revoked("u-1")  # the gateway failed: the last list stays in force
    assert not await revocations.is_revoked("u-1")  # the next answer no longer lists u-1
    assert len(calls) == 3
    seen: list[dict[str, datetime]] = []

    async def listener(revoked: dict[str, datetime]) -> None:
        seen.append(revoked)

    revocations.add_listener(listener)
    await revocations.refresh()
    assert seen == [{}]
