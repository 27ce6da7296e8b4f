"""The JWT suite, against every service: each malformed, forged or revoked token gets 401 and
changes nothing.

The same checks run in-process against all five apps: alg none, HS256 signed with the public
key, an unknown kid, wrong or missing aud / iss, missing or expired exp, a future nbf, a wrong
typ, an oversized token, and the token of a deactivated user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jose import jwt

from services.kit.tokens import TOKEN_TYPE, load_or_create_signing_key
from tests.unit.security_support import AUDIENCE, ISSUER, Services, principal_for

pytest_plugins = ["tests.unit.security_fixtures"]

# One protected route per service, read by a role allowed to read it.
PROBES = {
    "gateway": ("GET", "/api/v1/auth/me", "author"),
    "drafts": ("GET", "/api/v1/drafts", "author"),
    "review": ("GET", "/api/v1/reviews/queue", "compliance"),
    "publisher": ("GET", "/api/v1/channels", "author"),
    "audit": ("GET", "/api/v1/audit/events", "auditor"),
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(role: str, **changes: Any) -> dict[str, Any]:
    p = principal_for(role)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": p.user_id, "preferred_username": p.username, "name": p.name,
        "roles": sorted(p.roles), "iat": now, "nbf": now, "exp": now + 900, "jti": str(uuid.uuid4()),
    }  # fmt: skip
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def signed(services: Services, claims: dict[str, Any], **header: Any) -> str:
    headers = {"kid": services.key.kid, "typ": TOKEN_TYPE, **header}
    token: str = jwt.encode(claims, services.key.private_pem, algorithm="ES256", headers=headers)
    return token


def unsigned(services: Services, claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": TOKEN_TYPE, "kid": services.key.kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(services: Services, claims: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed with the (public) verification key."""
    private = serialization.load_pem_private_key(services.key.private_pem.encode(), password=None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": TOKEN_TYPE, "kid": services.key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def bad_tokens(services: Services, role: str, tmp_path: Path) -> dict[str, str]:
    stranger = load_or_create_signing_key(tmp_path / f"stranger-{uuid.uuid4().hex}.pem")
    now = int(time.time())
    return {
        "alg none": unsigned(services, claims_for(role)),
        "HS256 with the public key": hs256_with_public_key(services, claims_for(role)),
        "unknown kid": jwt.encode(
            claims_for(role),
            stranger.private_pem,
            algorithm="ES256",
            headers={"kid": stranger.kid, "typ": TOKEN_TYPE},
        ),
        "known kid, other key": jwt.encode(
            claims_for(role),
            stranger.private_pem,
            algorithm="ES256",
            headers={"kid": services.key.kid, "typ": TOKEN_TYPE},
        ),
        "wrong aud": signed(services, claims_for(role, aud="someone-else")),
        "missing aud": signed(services, claims_for(role, aud=None)),
        "wrong iss": signed(services, claims_for(role, iss="https://evil.example")),
        "missing iss": signed(services, claims_for(role, iss=None)),
        "missing exp": signed(services, claims_for(role, exp=None)),
        "expired": signed(services, claims_for(role, iat=now - 3600, nbf=now - 3600, exp=now - 60)),
        "future nbf": signed(services, claims_for(role, nbf=now + 600)),
        "missing sub": signed(services, claims_for(role, sub=None)),
        "wrong typ": signed(services, claims_for(role), typ="JWT"),
        "no typ": jwt.encode(
            claims_for(role), services.key.private_pem, algorithm="ES256", headers={"kid": services.key.kid}
        ),
        "oversized": signed(services, claims_for(role, padding="x" * 9000)),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize("service", list(PROBES))
async def test_every_bad_token_is_refused(services: Services, service: str, tmp_path: Path) -> None:
    method, path, role = PROBES[service]
    async with services.client(service, services.token(role)) as client:
        assert (await client.request(method, path)).status_code == 200, "the valid token must work"
    for name, token in bad_tokens(services, role, tmp_path).items():
        async with services.client(service, token) as client:
            response = await client.request(method, path)
        assert response.status_code == 401, f"{service}: {name} got {response.status_code}"
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), name
        assert response.json()["error"] in ("unauthorized", "invalid_token"), name


@pytest.mark.parametrize("service", list(PROBES))
async def test_a_deactivated_users_token_is_refused(services: Services, service: str) -> None:
    method, path, role = PROBES[service]
    token = services.token(role)
    async with services.client(service, token) as client:
        assert (await client.request(method, path)).status_code == 200
        await services.revoke(principal_for(role).user_id)
        refused = await client.request(method, path)
    assert refused.status_code == 401
    if service != "gateway":  # /auth/me reads the account itself; its refusal says so in its own words
        assert refused.json()["detail"] == "user deactivated"


async def test_refused_tokens_change_nothing(services: Services, tmp_path: Path) -> None:
    draft = {"title": "Forged", "body": "Nothing to see.", "channels": ["sandbox"], "patient_content": False}
    await services.revoke("u-medical")
    forged = [*bad_tokens(services, "author", tmp_path).values(), services.token("medical")]
    for token in forged:
        async with services.client("drafts", token) as client:
            assert (await client.post("/api/v1/drafts", json=draft)).status_code == 401
        async with services.client("gateway", token) as client:
            made = await client.post(
                "/api/v1/users",
                json={
                    "username": "intruder@x",
                    "display_name": "I",
                    "password": "p" * 12,
                    "roles": ["admin"],
                },
            )
            assert made.status_code == 401
    async with services.client("drafts", services.token("author")) as client:
        assert (await client.get("/api/v1/drafts")).json()["drafts"] == []
    async with services.client("gateway", services.token("admin")) as client:
        usernames = [u["username"] for u in (await client.get("/api/v1/users")).json()["users"]]
    assert "intruder@x" not in usernames
    assert services.audit.events == []
