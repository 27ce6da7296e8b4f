"""Refresh tokens: issued on request, stored hashed, rotated on use, bound to an active user, revocable."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.gateway.models import RefreshToken, User
from services.gateway.seed import DEMO_PASSWORD
from services.gateway.service import refresh_token_hash
from services.kit.clock import utcnow
from services.kit.tokens import verify_access_token

if TYPE_CHECKING:
    from tests.unit.recording_audit import RecordingAudit


TOKEN = "/api/v1/auth/token"
REFUSED = {"error": "invalid_grant", "detail": "the refresh token is not valid; sign in again"}


async def sign_in(client: httpx.AsyncClient, username: str = "compliance@demo") -> dict[str, object]:
    response = await client.post(
        TOKEN, data={"username": username, "password": DEMO_PASSWORD, "scope": "offline_access"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, token: object) -> httpx.Response:
    return await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})


async def stored_tokens(app: FastAPI) -> list[RefreshToken]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(select(RefreshToken))).scalars().all())


async def test_password_grant_gives_refresh_token_only_when_asked(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    plain = await gateway_client.post(TOKEN, data={"username": "legal@demo", "password": DEMO_PASSWORD})
    assert plain.status_code == 200
    assert "refresh_token" not in plain.json()
    assert await stored_tokens(gateway_app) == []

    body = await sign_in(gateway_client)

    assert isinstance(body["refresh_token"], str)
    assert body["refresh_expires_in"] == 8 * 3600
    [row] = await stored_tokens(gateway_app)
    assert row.token_hash == refresh_token_hash(body["refresh_token"])
    assert body["refresh_token"] not in repr(row.__dict__)  # only the hash is stored


async def test_refresh_rotates_and_reads_current_roles(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    first = await sign_in(gateway_client)
    async with gateway_app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == "compliance@demo"))).scalar_one()
        user.roles = ["compliance", "legal"]
        await session.commit()

    response = await refresh(gateway_client, first["refresh_token"])

    assert response.status_code == 200, response.text
    second = response.json()
    assert response.headers["cache-control"] == "no-store"
    assert second["refresh_token"] != first["refresh_token"]
    key = gateway_app.state.signing_key
    principal = verify_access_token(
        second["access_token"], {key.kid: key.public_jwk}, issuer="clearpost-gateway", audience="clearpost"
    )
    assert principal.roles == {"compliance", "legal"}
    # The successor keeps the sign-in's deadline.
    assert second["refresh_expires_in"] <= first["refresh_expires_in"]  # type: ignore[operator]
    again = await refresh(gateway_client, second["refresh_token"])
    assert again.status_code == 200


async def test_reusing_a_spent_token_revokes_the_whole_sign_in(
    gateway_client: httpx.AsyncClient, gateway_audit: RecordingAudit
) -> None:
    first = await sign_in(gateway_client)
    second = (await refresh(gateway_client, first["refresh_token"])).json()

    replay = await refresh(gateway_client, first["refresh_token"])

    assert replay.status_code == 401
    assert replay.json() == REFUSED
    assert gateway_audit.actions()[-1] == "auth.refresh_reused"
    # The legitimate holder's newer token is gone too: the family was copied.
    assert (await refresh(gateway_client, second["refresh_token"])).status_code == 401


async def test_refresh_refused_for_inactive_user_expired_or_unknown_token(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    expiring = await sign_in(gateway_client, "legal@demo")
    deactivated = await sign_in(gateway_client, "medical@demo")
    async with gateway_app.state.sessionmaker() as session:
        row = (
            await session.execute(
                select(RefreshToken).where(
                    RefreshToken.token_hash == refresh_token_hash(str(expiring["refresh_token"]))
                )
            )
        ).scalar_one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        user = (await session.execute(select(User).where(User.username == "medical@demo"))).scalar_one()
        user.active = False
        await session.commit()

    for token in (expiring["refresh_token"], deactivated["refresh_token"], "made-up"):
        response = await refresh(gateway_client, token)
        assert response.status_code == 401
        assert response.json() == REFUSED


async def test_revoke_ends_the_sign_in(gateway_client: httpx.AsyncClient) -> None:
    body = await sign_in(gateway_client)

    revoked = await gateway_client.post("/api/v1/auth/revoke", data={"token": body["refresh_token"]})
    unknown = await gateway_client.post("/api/v1/auth/revoke", data={"token": "never-issued"})

    assert revoked.status_code == 200
    assert unknown.status_code == 200
    assert (await refresh(gateway_client, body["refresh_token"])).status_code == 401


async def test_password_change_revokes_refresh_tokens(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    body = await sign_in(gateway_client, "author@demo")
    admin = await gateway_client.post(TOKEN, data={"username": "admin@demo", "password": DEMO_PASSWORD})
    async with gateway_app.state.sessionmaker() as session:
        author_id = (
            await session.execute(select(User.id).where(User.username == "author@demo"))
        ).scalar_one()

    patched = await gateway_client.patch(
        f"/api/v1/users/{author_id}",
        json={"password": "a-brand-new-password"},
        headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
    )

    assert patched.status_code == 200
    assert (await refresh(gateway_client, body["refresh_token"])).status_code == 401


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "password", "username": "legal@demo"}, "invalid_request"),
    ],
)
async def test_malformed_token_requests_are_400(
    gateway_client: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    response = await gateway_client.post(TOKEN, data=form)

    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_two_simultaneous_refreshes_of_one_token_rotate_it_once(
    gateway_client: httpx.AsyncClient, gateway_audit: RecordingAudit
) -> None:
    first = await sign_in(gateway_client)

    answers = await asyncio.gather(*(refresh(gateway_client, first["refresh_token"]) for _ in range(2)))

    assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
    assert gateway_audit.actions().count("auth.refresh_reused") == 1
    # The loser is a reuse: the whole sign-in is revoked, the winner's new token with it.
    [winner] = [a.json() for a in answers if a.status_code == 200]
    assert (await refresh(gateway_client, winner["refresh_token"])).status_code == 401
