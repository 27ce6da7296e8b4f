"""Back-channel logout: the provider ends a user's session and every Clearpost sign-in of theirs ends.

A provider of its own (tests/idp), whose client registration names a loopback receiver as the
back-channel logout URI: the test hands what the provider sent there to the gateway.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.idp import IdentityProvider, IdpClient
from tests.unit.idp_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URIS,
    IdpUserAgent,
    TestIdp,
    oidc_env,
    start_idp,
)

pytest_plugins = ["tests.unit.gateway_fixtures"]

JSON = {"Accept": "application/json"}


class Receiver:
    """Takes the provider's back-channel POSTs on a loopback port."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        received = self.tokens

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                received.extend(parse_qs(body).get("logout_token", []))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture(scope="module")
def logout_idp(receiver: Receiver) -> Iterator[TestIdp]:
    idp = start_idp(backchannel_logout_uri=receiver.url)
    yield idp
    idp.process.terminate()
    idp.process.wait(5)


@pytest.fixture
def gateway_env(gateway_env: Path, monkeypatch: pytest.MonkeyPatch, logout_idp: TestIdp) -> Path:
    for name, value in oidc_env(logout_idp).items():
        monkeypatch.setenv(name, value)
    return gateway_env


@pytest.fixture
async def agent(logout_idp: TestIdp) -> AsyncIterator[IdpUserAgent]:
    user_agent = IdpUserAgent(logout_idp.issuer)
    yield user_agent
    await user_agent.aclose()


async def signed_in_then_logged_out_at_the_provider(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, logout_idp: TestIdp, receiver: Receiver
) -> tuple[dict[str, str], dict[str, str], str]:
    """A user signs in through the provider, then signs out at the provider (its own logout page),
    which tells every client: (the bearer header, the tokens, the logout token it sent)."""
    sub, password = logout_idp.new_user(["clearpost-legal"])
    started = (await gateway_client.get("/api/v1/auth/oidc/login", headers=JSON)).json()
    back = await agent.authorize(started["authorization_url"], sub, password)
    tokens = (await gateway_client.get("/api/v1/auth/oidc/callback", params=back)).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await gateway_client.get("/api/v1/auth/me", headers=bearer)).status_code == 200
    before = len(receiver.tokens)
    page = await agent.http.get(f"{logout_idp.issuer}/session/end", params={"client_id": CLIENT_ID})
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)
    assert xsrf is not None, page.text[:500]
    await agent.http.post(
        f"{logout_idp.issuer}/session/end/confirm", data={"xsrf": xsrf.group(1), "logout": "yes"}
    )
    for _ in range(50):  # the provider posts in the background; bounded
        if len(receiver.tokens) > before:
            break
        await asyncio.sleep(0.1)
    assert len(receiver.tokens) > before, "the provider sent no back-channel logout"
    return bearer, tokens, receiver.tokens[-1]


async def assert_signed_out(
    gateway_app: FastAPI, gateway_client: httpx.AsyncClient, bearer: dict[str, str], tokens: dict[str, str]
) -> None:
    await gateway_app.state.revocations.refresh()
    assert (await gateway_client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    refreshed = await gateway_client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_a_logout_at_the_provider_ends_the_users_clearpost_sign_ins(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    agent: IdpUserAgent,
    logout_idp: TestIdp,
    receiver: Receiver,
) -> None:
    bearer, tokens, logout_token = await signed_in_then_logged_out_at_the_provider(
        gateway_client, agent, logout_idp, receiver
    )
    done = await gateway_client.post(
        "/api/v1/auth/oidc/backchannel-logout", data={"logout_token": logout_token}
    )
    assert done.status_code == 200, done.text
    await assert_signed_out(gateway_app, gateway_client, bearer, tokens)
    [event] = [e for e in gateway_app.state.audit.events if e["action"] == "auth.backchannel_logout"]
    assert event["details"]["by"] == "sub"


async def test_a_logout_naming_only_the_session_ends_that_users_sign_ins(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    agent: IdpUserAgent,
    logout_idp: TestIdp,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bearer, tokens, logout_token = await signed_in_then_logged_out_at_the_provider(
        gateway_client, agent, logout_idp, receiver
    )
    verify = IdentityProvider.verify_logout_token

    async def session_only(self: IdentityProvider, token: str) -> tuple[str | None, str | None]:
        # The real verification, then the token as a provider that names only `sid` sends it.
        _, sid = await verify(self, token)
        assert sid, "the provider named no session"
        return None, sid

    monkeypatch.setattr(IdentityProvider, "verify_logout_token", session_only)
    done = await gateway_client.post(
        "/api/v1/auth/oidc/backchannel-logout", data={"logout_token": logout_token}
    )
    assert done.status_code == 200, done.text
    await assert_signed_out(gateway_app, gateway_client, bearer, tokens)
    [event] = [e for e in gateway_app.state.audit.events if e["action"] == "auth.backchannel_logout"]
    assert event["details"]["by"] == "sid"
    # The session is forgotten with the sign-ins: the same logout again ends nobody.
    again = await gateway_client.post(
        "/api/v1/auth/oidc/backchannel-logout", data={"logout_token": logout_token}
    )
    assert again.status_code in (200, 400)
    assert [e["action"] for e in gateway_app.state.audit.events].count("auth.backchannel_logout") == 1


async def test_anything_but_a_logout_token_is_refused(
    gateway_client: httpx.AsyncClient, agent: IdpUserAgent, logout_idp: TestIdp
) -> None:
    sub, password = logout_idp.new_user(["clearpost-legal"])
    async with httpx.AsyncClient() as http:
        client = IdentityProvider(http, IdpClient(logout_idp.issuer, CLIENT_ID, CLIENT_SECRET))
        url = await client.authorization_url(
            redirect_uri=REDIRECT_URIS[0], state="s" * 20, nonce="n" * 20, code_verifier="v" * 64
        )
        back = await agent.authorize(url, sub, password)
        token = await client.exchange(
            code=back["code"], code_verifier="v" * 64, redirect_uri=REDIRECT_URIS[0]
        )
    # Signed by the same provider for the same client, but an ID token: no logout event, a nonce.
    for value in (token["id_token"], "not.a.token"):
        refused = await gateway_client.post(
            "/api/v1/auth/oidc/backchannel-logout", data={"logout_token": value}
        )
        assert refused.status_code == 400, refused.text
