"""`clearpost keys rotate`: the gateway publishes its whole key ring; a retired key's tokens keep
working until they expire, and stop working then."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt
from typer.testing import CliRunner

from services.gateway.main import app as gateway_asgi_app
from services.keys_cli import keys_app
from services.kit.tokens import Principal, issue_access_token, load_key_ring, load_or_create_signing_key

runner = CliRunner()
ADMIN = Principal(user_id="u-admin", username="admin@test", name="Admin", roles=frozenset({"admin"}))


def test_rotate_refuses_unknown_services_and_missing_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    unknown = runner.invoke(keys_app, ["rotate", "drafts"])
    assert unknown.exit_code == 2 and "choose from gateway, review, audit" in unknown.output
    missing = runner.invoke(keys_app, ["rotate", "review"])
    assert missing.exit_code == 1 and "nothing to rotate" in missing.output


def test_rotate_review_keeps_the_old_public_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    old = load_or_create_signing_key(tmp_path / "keys" / "review" / "review-signing.pem")
    result = runner.invoke(keys_app, ["rotate", "review"])
    assert result.exit_code == 0, result.output
    ring = load_key_ring(tmp_path / "keys" / "review", "review-signing")
    assert ring.current.kid != old.kid
    assert set(ring.published) == {old.kid, ring.current.kid}
    assert (
        "BEGIN"
        not in (tmp_path / "keys" / "review" / f"review-signing.retired-{old.kid}.pub.json").read_text()
    )


async def test_gateway_tokens_of_a_retired_key_work_until_they_expire(
    gateway_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = gateway_env / "keys" / "gateway"
    old = load_or_create_signing_key(keys / "gateway-signing.pem")
    live = issue_access_token(
        old, issuer="clearpost-gateway", audience="clearpost", principal=ADMIN, ttl_seconds=900
    )
    expired = issue_access_token(
        old,
        issuer="clearpost-gateway",
        audience="clearpost",
        principal=ADMIN,
        ttl_seconds=60,
        now=time.time() - 3600,
    )
    result = runner.invoke(keys_app, ["rotate", "gateway"])
    assert result.exit_code == 0, result.output

    app: FastAPI = gateway_asgi_app
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            jwks = (await client.get("/api/v1/auth/jwks")).json()["keys"]
            kids = {k["kid"] for k in jwks}
            assert old.kid in kids and app.state.signing_key.kid in kids and len(kids) == 2
            assert all("d" not in k for k in jwks)  # public halves only
            ok = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {live}"})
            assert ok.status_code == 200
            gone = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {expired}"})
            assert gone.status_code == 401
            # New tokens are signed with the new key.
            fresh = await client.post(
                "/api/v1/auth/token", data={"username": "admin@demo", "password": "demo-password"}
            )
            assert fresh.status_code == 200
            header = jwt.get_unverified_header(fresh.json()["access_token"])
            assert header["kid"] == app.state.signing_key.kid != old.kid
            me = await client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"}
            )
            assert me.status_code == 200


def _token(key: object, *, ttl: int = 900, issued: float | None = None) -> str:
    return issue_access_token(
        key,  # type: ignore[arg-type]
        issuer="clearpost-gateway",
        audience="clearpost",
        principal=ADMIN,
        ttl_seconds=ttl,
        now=issued,
    )


async def test_a_leaked_retired_key_mints_nothing_and_a_revoked_one_verifies_nothing(
    gateway_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: the retired gateway key leaks; the attacker mints fresh or decade-long admin tokens."""
    keys = gateway_env / "keys" / "gateway"
    old = load_or_create_signing_key(keys / "gateway-signing.pem")
    before = _token(old)  # issued before the rotation: fine until it expires
    ten_years = _token(old, ttl=10 * 365 * 86400)
    assert runner.invoke(keys_app, ["rotate", "gateway"]).exit_code == 0
    minted_after = _token(old, issued=time.time() + 2)  # the leaked key, used after its retirement

    app: FastAPI = gateway_asgi_app
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:

            async def status(token: str) -> int:
                response = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
                return response.status_code

            assert await status(before) == 200
            assert await status(ten_years) == 401
            assert await status(minted_after) == 401
            published = {k["kid"]: k for k in (await client.get("/api/v1/auth/jwks")).json()["keys"]}
            assert isinstance(published[old.kid]["retired_at"], int)

            missing = runner.invoke(keys_app, ["revoke", "gateway", old.kid])
            assert missing.exit_code == 2 and "--reason" in missing.output
            revoked = runner.invoke(keys_app, ["revoke", "gateway", old.kid, "--reason", "leaked in a log"])
            assert revoked.exit_code == 0, revoked.output
            # No restart: the running gateway reads its key files again (here at once).
            monkeypatch.setattr(app.state.key_set, "MAX_AGE_SECONDS", 0.0)
            assert await status(before) == 401
            assert old.kid not in {k["kid"] for k in (await client.get("/api/v1/auth/jwks")).json()["keys"]}
            again = runner.invoke(keys_app, ["revoke", "gateway", old.kid, "--reason", "twice"])
            assert again.exit_code == 1 and "already revoked" in again.output


def test_revoking_the_current_key_rotates_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    old = load_or_create_signing_key(tmp_path / "keys" / "review" / "review-signing.pem")

    result = runner.invoke(keys_app, ["revoke", "review", old.kid, "--reason", "laptop stolen"])

    assert result.exit_code == 0, result.output
    ring = load_key_ring(tmp_path / "keys" / "review", "review-signing")
    assert ring.current.kid != old.kid and set(ring.published) == {ring.current.kid}
    assert "restart the review service" in result.output
    unknown = runner.invoke(keys_app, ["revoke", "review", "nope", "--reason", "x"])
    assert unknown.exit_code == 1 and "no retired key" in unknown.output
