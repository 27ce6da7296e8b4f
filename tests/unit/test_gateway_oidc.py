"""Sign-in through the organization's identity provider, against a real provider (tests/idp).

Every user here exists only at the test provider; the gateway provisions it on first sign-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt

from services.gateway.idp import IdentityProvider, IdpClient, IdpRefused
from services.kit.credentials import decision_binding
from tests.unit.idp_support import OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, REDIRECT_URIS, IdpUserAgent, oidc_env

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.idp_support import TestIdp
    from tests.unit.recording_audit import RecordingAudit

pytest_plugins = ["tests.unit.gateway_fixtures", "tests.unit.idp_fixtures"]

JSON = {"Accept": "application/json"}
INTERNAL = {"X-Clearpost-Service-Token": "test-internal-token"}


@pytest.fixture
def gateway_env(gateway_env: Path, monkeypatch: pytest.MonkeyPatch, test_idp: TestIdp) -> Path:
    for name, value in oidc_env(test_idp).items():
        monkeypatch.setenv(name, value)
    return gateway_env


@pytest.fixture
async def agent(test_idp: TestIdp) -> AsyncIterator[IdpUserAgent]:
    user_agent = IdpUserAgent(test_idp.issuer)
    yield user_agent
    await user_agent.aclose()


def claims_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_claims(token)


def with_query(url: str, **changes: str | None) -> str:
    """The URL with query parameters replaced (or removed, for None)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def start(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/auth/oidc/login", params=params, headers=JSON)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_in(client: httpx.AsyncClient, agent: IdpUserAgent, sub: str, password: str) -> httpx.Response:
    started = await start(client)
    back = await agent.authorize(started["authorization_url"], sub, password)
    return await client.get("/api/v1/auth/oidc/callback", params=back)


async def test_first_sign_in_provisions_the_user_with_mapped_roles(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    agent: IdpUserAgent,
    test_idp: TestIdp,
    gateway_audit: RecordingAudit,
) -> None:
    sub, password = test_idp.new_user(["clearpost-legal", "unmapped-staff"], name="Lee Gal")
    started = await start(gateway_client)
    query = query_of(started["authorization_url"])
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["nonce"] and query["state"] == started["state"] and "prompt" not in query

    response = await gateway_client.get(
        "/api/v1/auth/oidc/callback",
        params=await agent.authorize(started["authorization_url"], sub, password),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["purpose"] == "login" and body["refresh_token"]
    claims = claims_of(body["access_token"])
    assert claims["roles"] == ["legal"] and claims["sso"] is True and claims["name"] == "Lee Gal"
    me = await gateway_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["username"] == sub
    actions = gateway_audit.actions()
    assert "user.provisioned" in actions and "auth.login" in actions
    login = next(e for e in gateway_audit.events if e["action"] == "auth.login")
    assert login["details"]["method"] == "oidc"

    # The second sign-in finds the same account; a group change at the provider changes the roles.
    test_idp.put_user(sub, password=password, groups=["clearpost-medical"], name="Lee Gal")
    again = await sign_in(gateway_client, agent, sub, password)
    assert again.status_code == 200, again.text
    assert claims_of(again.json()["access_token"])["sub"] == claims["sub"]
    assert claims_of(again.json()["access_token"])["roles"] == ["medical"]
    changed = [e for e in gateway_audit.events if e["action"] == "user.roles_changed"]
    assert (
        changed
        and changed[-1]["details"]["added"] == ["medical"]
        and changed[-1]["details"]["removed"] == ["legal"]
    )
    # The old token carries a role taken away: refused everywhere once the list is read again.
    await gateway_app.state.revocations.refresh()
    stale = await gateway_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert stale.status_code == 401


async def test_an_unmapped_group_gives_no_role_and_no_sign_in(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, test_idp: TestIdp, gateway_audit: RecordingAudit
) -> None:
    sub, password = test_idp.new_user(["unmapped-staff"])
    response = await sign_in(gateway_client, agent, sub, password)
    assert response.status_code == 403
    assert response.json()["error"] == "no_role"
    assert "no role" in response.json()["detail"]
    refused = [e for e in gateway_audit.events if e["action"] == "auth.login_failed"]
    assert refused[-1]["details"]["reason"] == "no_role"


async def test_a_state_is_taken_once(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, test_idp: TestIdp
) -> None:
    sub, password = test_idp.new_user(["clearpost-legal"])
    started = await start(gateway_client)
    back = await agent.authorize(started["authorization_url"], sub, password)
    first = await gateway_client.get("/api/v1/auth/oidc/callback", params=back)
    assert first.status_code == 200, first.text
    replay = await gateway_client.get("/api/v1/auth/oidc/callback", params=back)
    assert replay.status_code == 409 and replay.json()["error"] == "invalid_state"
    unknown = await gateway_client.get("/api/v1/auth/oidc/callback", params={**back, "state": "made-up"})
    assert unknown.status_code == 409


async def test_a_code_bound_to_another_pkce_challenge_is_refused(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, test_idp: TestIdp
) -> None:
    sub, password = test_idp.new_user(["clearpost-legal"])
    started = await start(gateway_client)
    # Someone swapped the challenge: the provider binds the code to theirs, not to our verifier's.
    forged = with_query(started["authorization_url"], code_challenge="A" * 43)
    back = await agent.authorize(forged, sub, password)
    response = await gateway_client.get("/api/v1/auth/oidc/callback", params=back)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "oidc_refused"


async def test_a_missing_or_another_requests_nonce_is_refused(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, test_idp: TestIdp
) -> None:
    sub, password = test_idp.new_user(["clearpost-legal"])
    started = await start(gateway_client)
    without = with_query(started["authorization_url"], nonce=None)
    response = await gateway_client.get(
        "/api/v1/auth/oidc/callback", params=await agent.authorize(without, sub, password)
    )
    assert response.status_code == 400 and "nonce" in response.json()["detail"]

    first, second = await start(gateway_client), await start(gateway_client)
    reused = with_query(second["authorization_url"], nonce=query_of(first["authorization_url"])["nonce"])
    response = await gateway_client.get(
        "/api/v1/auth/oidc/callback", params=await agent.authorize(reused, sub, password)
    )
    assert response.status_code == 400 and "nonce" in response.json()["detail"]


async def test_an_id_token_for_another_client_or_issuer_is_refused(
    gateway_app: FastAPI, agent: IdpUserAgent, test_idp: TestIdp
) -> None:
    """ID tokens the same provider issued to another application, and a provider whose discovery
    document names another issuer."""
    sub, password = test_idp.new_user(["clearpost-legal"])
    async with httpx.AsyncClient() as http:
        other = IdentityProvider(http, IdpClient(test_idp.issuer, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
        url = await other.authorization_url(
            redirect_uri=REDIRECT_URIS[0], state="s" * 20, nonce="n" * 20, code_verifier="v" * 64
        )
        back = await agent.authorize(url, sub, password)
        token = await other.exchange(code=back["code"], code_verifier="v" * 64, redirect_uri=REDIRECT_URIS[0])
        ours: IdentityProvider = gateway_app.state.idp
        with pytest.raises(IdpRefused, match="another client"):
            await ours.verify_id_token(token["id_token"], nonce="n" * 20)
        # Same provider, addressed by another name: its discovery names a different issuer.
        elsewhere = IdentityProvider(
            http, IdpClient(test_idp.issuer.replace("127.0.0.1", "localhost"), OTHER_CLIENT_ID, None)
        )
        with pytest.raises(IdpRefused, match="issuer"):
            await elsewhere.metadata()
        # A token whose iss is not the configured issuer (the discovery is fine, the token is not).
        renamed = IdentityProvider(http, IdpClient(test_idp.issuer, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
        await renamed.metadata()
        object.__setattr__(renamed, "client", IdpClient(test_idp.issuer + "/other", OTHER_CLIENT_ID, None))
        with pytest.raises(IdpRefused, match="iss"):
            await renamed.verify_id_token(token["id_token"], nonce="n" * 20)


async def test_redirect_uris_other_than_clearposts_callbacks_are_refused(
    gateway_client: httpx.AsyncClient,
) -> None:
    response = await gateway_client.get(
        "/api/v1/auth/oidc/login", params={"redirect_uri": "https://evil.example/steal"}, headers=JSON
    )
    assert response.status_code == 400
    redirect = await gateway_client.get("/api/v1/auth/oidc/login")
    assert redirect.status_code == 302 and redirect.headers["location"].startswith("http://127.0.0.1")


async def test_signing_reauthenticates_bound_to_one_decision(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, test_idp: TestIdp, gateway_audit: RecordingAudit
) -> None:
    sub, password = test_idp.new_user(["clearpost-legal"], amr=["pwd", "mfa"])
    login = await sign_in(gateway_client, agent, sub, password)
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}", **JSON}
    user_id = claims_of(login.json()["access_token"])["sub"]
    binding = decision_binding(draft_id="d1", version=2, content_hash="h" * 64, stage="legal")
    other = decision_binding(draft_id="d1", version=2, content_hash="h" * 64, stage="medical")
    params = {"purpose": "signing", "binding": binding, "context": '{"draft_id": "d1"}'}
    started = (await gateway_client.get("/api/v1/auth/oidc/login", params=params, headers=bearer)).json()
    query = query_of(started["authorization_url"])
    assert query["prompt"] == "login" and query["max_age"] == "0"
    # The provider asks for the password again although the user has a session there.
    back = await agent.authorize(started["authorization_url"], sub, password)
    done = await gateway_client.get("/api/v1/auth/oidc/callback", params=back, headers=bearer)
    assert done.status_code == 200, done.text
    proof = done.json()
    assert proof["purpose"] == "signing" and proof["context"] == {"draft_id": "d1"}
    assert "access_token" not in proof

    redeem = "/internal/v1/signing-reauthentications/redeem"
    wrong = await gateway_client.post(
        redeem,
        json={"handle": proof["reauthentication"], "user_id": user_id, "binding": other},
        headers=INTERNAL,
    )
    assert wrong.status_code == 409  # bound to another decision (and now spent)
    started = (await gateway_client.get("/api/v1/auth/oidc/login", params=params, headers=bearer)).json()
    back = await agent.authorize(started["authorization_url"], sub, password)
    proof = (await gateway_client.get("/api/v1/auth/oidc/callback", params=back, headers=bearer)).json()
    body = {"handle": proof["reauthentication"], "user_id": user_id, "binding": binding}
    redeemed = await gateway_client.post(redeem, json=body, headers=INTERNAL)
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["method"] == "oidc" and redeemed.json()["amr"] == ["pwd", "mfa"]
    again = await gateway_client.post(redeem, json=body, headers=INTERNAL)
    assert again.status_code == 404  # once only
    assert "auth.signing_reauthenticated" in gateway_audit.actions()


async def test_signing_refuses_a_nonce_bound_to_another_decision_and_a_stale_auth_time(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, test_idp: TestIdp
) -> None:
    sub, password = test_idp.new_user(["clearpost-legal"])
    login = await sign_in(gateway_client, agent, sub, password)
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}", **JSON}
    first = decision_binding(draft_id="d1", version=1, content_hash="a" * 64, stage="legal")
    second = decision_binding(draft_id="d2", version=1, content_hash="b" * 64, stage="legal")
    for_first = (
        await gateway_client.get(
            "/api/v1/auth/oidc/login", params={"purpose": "signing", "binding": first}, headers=bearer
        )
    ).json()
    for_second = (
        await gateway_client.get(
            "/api/v1/auth/oidc/login", params={"purpose": "signing", "binding": second}, headers=bearer
        )
    ).json()
    swapped = with_query(
        for_second["authorization_url"], nonce=query_of(for_first["authorization_url"])["nonce"]
    )
    back = await agent.authorize(swapped, sub, password)
    refused = await gateway_client.get("/api/v1/auth/oidc/callback", params=back, headers=bearer)
    assert refused.status_code == 400 and "nonce" in refused.json()["detail"]

    # A provider that did not authenticate again (it answered an old auth_time despite max_age=0).
    test_idp.put_user(sub, password=password, groups=["clearpost-legal"], auth_age_seconds=3600)
    started = (
        await gateway_client.get(
            "/api/v1/auth/oidc/login", params={"purpose": "signing", "binding": first}, headers=bearer
        )
    ).json()
    back = await agent.authorize(started["authorization_url"], sub, password)
    stale = await gateway_client.get("/api/v1/auth/oidc/callback", params=back, headers=bearer)
    assert stale.status_code == 400 and "auth_time" in stale.json()["detail"]


async def test_local_password_users_are_not_sent_to_the_provider_to_sign(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    headers = {**(await gateway_login.headers("legal@demo")), **JSON}
    binding = decision_binding(draft_id="d1", version=1, content_hash="a" * 64, stage="legal")
    response = await gateway_client.get(
        "/api/v1/auth/oidc/login", params={"purpose": "signing", "binding": binding}, headers=headers
    )
    assert response.status_code == 409
