"""A real OpenID provider for the tests (tests/idp/server.mjs: panva's oidc-provider under node),
started once per session on loopback, and a small user agent that signs a user in at it.

The fixture is in tests/unit/idp_fixtures.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

IDP_DIR = Path(__file__).resolve().parents[1] / "idp"
CLIENT_ID = "clearpost"
CLIENT_SECRET = "clearpost-test-client-secret"
OTHER_CLIENT_ID = "another-app"
OTHER_CLIENT_SECRET = "another-app-secret"
# The gateway under test answers as http://test (httpx's ASGI transport); the browser test's origin.
REDIRECT_URIS = [
    "http://test/api/v1/auth/oidc/callback",
    "http://test/review/login/oidc/callback",
]
POST_LOGOUT_URIS = ["http://test/review/login"]


@dataclass
class TestIdp:
    __test__ = False

    issuer: str
    process: subprocess.Popen[str]

    def put_user(
        self,
        sub: str,
        *,
        password: str,
        groups: list[str],
        name: str = "Test User",
        username: str | None = None,
        amr: list[str] | None = None,
        acr: str | None = None,
        auth_age_seconds: int = 0,
    ) -> None:
        claims: dict[str, Any] = {
            "name": name,
            "preferred_username": username or sub,
            "email": f"{sub}@hospital.test",
            "groups": groups,
        }
        body = {
            "password": password,
            "claims": claims,
            "amr": amr,
            "acr": acr,
            "auth_age_seconds": auth_age_seconds,
        }
        response = httpx.put(f"{self.issuer}/test/users/{sub}", json=body, timeout=5.0)
        response.raise_for_status()

    def new_user(self, groups: list[str], **kwargs: Any) -> tuple[str, str]:
        """A user that exists only at this provider: (sub, password)."""
        sub = f"idp-{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        self.put_user(sub, password=password, groups=groups, **kwargs)
        return sub, password


def _clients(extra_redirects: list[str], backchannel_logout_uri: str | None) -> list[dict[str, Any]]:
    redirects = REDIRECT_URIS + extra_redirects
    # The session's `sid` goes into ID tokens and logout tokens, so a logout can name the session alone.
    backchannel = (
        {"backchannel_logout_uri": backchannel_logout_uri, "backchannel_logout_session_required": True}
        if backchannel_logout_uri
        else {}
    )
    return [
        {
            **backchannel,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": redirects,
            "post_logout_redirect_uris": POST_LOGOUT_URIS
            + [r.replace("/oidc/callback", "") for r in extra_redirects],
        },
        {"client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET, "redirect_uris": redirects},
    ]


def start_idp(extra_redirects: list[str] | None = None, backchannel_logout_uri: str | None = None) -> TestIdp:
    node = shutil.which("node")
    assert node is not None, "the OIDC tests need node (apt-get install nodejs)"
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=IDP_DIR, check=True, capture_output=True)
    with socket.socket() as probe:  # a free loopback port, so the issuer is known before start
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": "/usr/bin:/bin",
        "IDP_PORT": str(port),
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_CLIENTS": json.dumps(_clients(extra_redirects or [], backchannel_logout_uri)),
    }
    process = subprocess.Popen(
        [node, "server.mjs"],
        cwd=IDP_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening "):
        process.kill()
        raise RuntimeError(f"the test identity provider did not start: {line!r}")
    return TestIdp(issuer=f"http://127.0.0.1:{port}", process=process)


def oidc_env(idp: TestIdp, role_map: dict[str, list[str]] | None = None) -> dict[str, str]:
    return {
        "CLEARPOST_OIDC_ISSUER": idp.issuer,
        "CLEARPOST_OIDC_CLIENT_ID": CLIENT_ID,
        "CLEARPOST_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "CLEARPOST_OIDC_ROLE_CLAIM": "groups",
        "CLEARPOST_OIDC_ROLE_MAP": json.dumps(
            role_map
            or {"clearpost-legal": ["legal"], "clearpost-medical": ["medical"], "clearpost-admins": ["admin"]}
        ),
    }


class IdpUserAgent:
    """Follows an authorization URL through the provider's login page as a browser would, and
    answers the query the provider sends back to the client's redirect URI (code, state, ...)."""

    def __init__(self, issuer: str) -> None:
        self._issuer = issuer
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=10.0)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def authorize(self, url: str, username: str, password: str) -> dict[str, str]:
        for _ in range(12):
            if not url.startswith(self._issuer):
                query = parse_qs(urlsplit(url).query)
                return {k: v[0] for k, v in query.items()}
            response = await self.http.get(url)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code == 200 and 'name="password"' in response.text:
                response = await self.http.post(
                    urljoin(url, urlsplit(url).path + "/login"),
                    data={"login": username, "password": password},
                )
                if response.status_code not in (302, 303):
                    raise AssertionError(f"the provider refused the sign-in: {response.status_code}")
                url = urljoin(url, response.headers["location"])
                continue
            raise AssertionError(
                f"unexpected answer from the provider: {response.status_code} {response.text[:300]}"
            )
        raise AssertionError("too many redirects at the provider")
