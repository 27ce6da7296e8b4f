"""Logging in, the published keys, and every way a forged or stale token must be refused."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi import FastAPI
from sqlalchemy import select

from services.gateway.models import User
from services.gateway.seed import DEMO_PASSWORD
from services.kit.tokens import (
    Principal,
    SigningKey,
    issue_access_token,
    load_or_create_signing_key,
    verify_access_token,
)

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit


ISSUER = "clearpost-gateway"
AUDIENCE = "clearpost"
FAILED = {"error": "invalid_grant", "detail": "invalid username or password"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_for(user_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "preferred_username": "admin@demo",
        "name": "Adrian Admin",
        "roles": ["admin"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "test",
    }
    claims.update(overrides)
    return claims


def sign_es256(header: dict[str, Any], claims: dict[str, Any], private_pem: str) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


async def user_id(app: FastAPI, username: str) -> str:
    async with app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        return user.id


async def test_token_for_seeded_user_verifies_with_published_key(
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
    gateway_app: FastAPI,
) -> None:
    response = await gateway_login.token_response("dual@demo")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    jwks = (await gateway_client.get("/api/v1/auth/jwks")).json()
    assert all("d" not in key for key in jwks["keys"])  # never the private part
    principal = verify_access_token(
        body["access_token"], {k["kid"]: k for k in jwks["keys"]}, issuer=ISSUER, audience=AUDIENCE
    )
    dual_id = await user_id(gateway_app, "dual@demo")
    assert principal == Principal(
        user_id=dual_id, username="dual@demo", name="Dana Dual", roles=frozenset({"legal", "medical"})
    )
    assert gateway_audit.events[-1]["action"] == "auth.login"
    assert gateway_audit.events[-1]["actor"] == dual_id


async def test_me_returns_the_token_user(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    headers = await gateway_login.headers("authorreviewer@demo")

    response = await gateway_client.get("/api/v1/auth/me", headers=headers)

    assert response.status_code == 200
    me = response.json()
    assert set(me) == {"id", "username", "display_name", "roles"}
    assert me["username"] == "authorreviewer@demo"
    assert me["display_name"] == "Riley Author-Reviewer"
    assert sorted(me["roles"]) == ["author", "compliance"]


async def deactivate(app: FastAPI, username: str) -> None:
    async with app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
        user.active = False
        await session.commit()


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("legal@demo", "not-the-password", "wrong_password"),
        ("nobody@demo", DEMO_PASSWORD, "unknown_user"),
        ("publisher@demo", DEMO_PASSWORD, "inactive_user"),
    ],
)
async def test_failed_logins_look_the_same(
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_app: FastAPI,
    gateway_audit: RecordingAudit,
    username: str,
    password: str,
    reason: str,
) -> None:
    await deactivate(gateway_app, "publisher@demo")

    response = await gateway_login.token_response(username, password)

    assert response.status_code == 401
    assert response.json() == FAILED
    assert gateway_audit.events == [
        {
            "actor": "anonymous",
            "action": "auth.login_failed",
            "subject": gateway_audit.events[0]["subject"],
            "details": {"reason": reason, "username": username},
        }
    ]


async def test_deactivated_user_token_is_refused_on_me(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_app: FastAPI
) -> None:
    headers = await gateway_login.headers("legal@demo")
    await deactivate(gateway_app, "legal@demo")

    response = await gateway_client.get("/api/v1/auth/me", headers=headers)

    assert response.status_code == 401


async def test_audit_outage_does_not_block_login(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_audit: RecordingAudit
) -> None:
    gateway_audit.down = True

    assert (await gateway_login.token_response("legal@demo")).status_code == 200
    failed = await gateway_login.token_response("legal@demo", "wrong-password")
    assert failed.status_code == 401
    assert failed.json() == FAILED


async def test_outdated_hash_is_upgraded_on_login(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_app: FastAPI
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    async with gateway_app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == "medical@demo"))).scalar_one()
        user.password_hash = weak.hash(DEMO_PASSWORD)
        await session.commit()

    assert (await gateway_login.token_response("medical@demo")).status_code == 200

    async with gateway_app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == "medical@demo"))).scalar_one()
    assert not PasswordHasher().check_needs_rehash(user.password_hash)
    assert PasswordHasher().verify(user.password_hash, DEMO_PASSWORD)
    assert (await gateway_login.token_response("medical@demo")).status_code == 200


async def test_me_requires_a_token(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_hand_signed_token_is_accepted(gateway_client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    # The baseline for the forgeries below: the same helper with the real key does get in.
    key: SigningKey = gateway_app.state.signing_key
    admin_id = await user_id(gateway_app, "admin@demo")
    token = sign_es256(
        {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, claims_for(admin_id), key.private_pem
    )

    response = await gateway_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text


def forged_tokens(key: SigningKey, other_pem: str, sub: str) -> dict[str, str]:
    principal = Principal(user_id=sub, username="admin@demo", name="Adrian Admin", roles=frozenset({"admin"}))
    good_header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    public_pem = (
        serialization.load_pem_private_key(key.private_pem.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_input = f"{segment({'alg': 'HS256', 'typ': 'at+jwt', 'kid': key.kid})}.{segment(claims_for(sub))}"
    hs_signature = b64url(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    return {
        "expired": issue_access_token(
            key,
            issuer=ISSUER,
            audience=AUDIENCE,
            principal=principal,
            ttl_seconds=900,
            now=time.time() - 3600,
        ),
        "other_key_same_kid": issue_access_token(
            dataclasses.replace(key, private_pem=other_pem),
            issuer=ISSUER,
            audience=AUDIENCE,
            principal=principal,
            ttl_seconds=900,
        ),
        # Unsigned: header and claims only, with an empty signature.
        "alg_none": f"{segment({**good_header, 'alg': 'none'})}.{segment(claims_for(sub))}.",
        "hs256_with_public_pem": f"{hs_input}.{hs_signature}",
        "wrong_audience": issue_access_token(
            key, issuer=ISSUER, audience="someone-else", principal=principal, ttl_seconds=900
        ),
        "wrong_issuer": issue_access_token(
            key, issuer="evil-issuer", audience=AUDIENCE, principal=principal, ttl_seconds=900
        ),
        "wrong_typ": sign_es256({**good_header, "typ": "JWT"}, claims_for(sub), key.private_pem),
        "tampered_roles": _tamper_roles(
            issue_access_token(key, issuer=ISSUER, audience=AUDIENCE, principal=principal, ttl_seconds=900)
        ),
    }


def _tamper_roles(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin", "publisher"]
    return f"{header}.{segment(claims)}.{signature}"


# Each forgery and the reason it must be refused for (so a test cannot pass for the wrong reason).
FORGERIES = {
    "expired": "expired",
    "other_key_same_kid": "Signature verification failed",
    "alg_none": "algorithm 'none' is not accepted",
    "hs256_with_public_pem": "algorithm 'HS256' is not accepted",
    "wrong_audience": "Invalid audience",
    "wrong_issuer": "Invalid issuer",
    "wrong_typ": "wrong token type",
    "tampered_roles": "Signature verification failed",
}


@pytest.mark.parametrize("kind", FORGERIES)
async def test_bad_tokens_are_refused(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, tmp_path: Any, kind: str
) -> None:
    other = load_or_create_signing_key(tmp_path / "attacker.pem")
    admin_id = await user_id(gateway_app, "admin@demo")
    token = forged_tokens(gateway_app.state.signing_key, other.private_pem, admin_id)[kind]

    response = await gateway_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert FORGERIES[kind] in response.json()["detail"]
