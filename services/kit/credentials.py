"""Password re-entry for signed actions (decisions, overrides, takedowns, pauses): the gateway
owns credentials, so services ask it.

The password goes only to the gateway's token endpoint (the same check as a login) and nowhere
else: not into the workflow, the decision record, the audit trail or any log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from services.kit.auth import INTERNAL_HEADER
from services.kit.errors import TooManyAttempts, UpstreamUnavailable

REDEEM_PATH = "/internal/v1/signing-reauthentications/redeem"


def decision_binding(*, draft_id: str, version: int, content_hash: str, stage: str) -> str:
    """What a signing re-authentication at the identity provider is bound to: one decision."""
    return hashlib.sha256(
        f"clearpost-decision:{draft_id}:{version}:{content_hash}:{stage}".encode()
    ).hexdigest()


@dataclass(frozen=True)
class Reauthenticated:
    """The identity provider authenticated the signer again for this decision (the gateway's word)."""

    method: str
    auth_time: str
    acr: str | None = None
    amr: tuple[str, ...] = field(default_factory=tuple)


class ReauthenticationRedeemer(Protocol):
    async def redeem(self, handle: str, *, user_id: str, binding: str) -> Reauthenticated | None: ...


class CredentialChecker(Protocol):
    async def confirms(self, username: str, password: str) -> bool: ...


class GatewayCredentialChecker:
    """Re-entry at signing goes through the gateway's token endpoint, so it counts against the same
    per-account and per-address limits as a sign-in and locks the account the same way."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        gateway_url: str,
        *,
        address: str | None = None,
        internal_token: str | None = None,
        internal_url: str | None = None,
    ) -> None:
        self._http = http
        self._gateway_url = gateway_url
        self._url = f"{gateway_url}/api/v1/auth/token"
        self._address = address
        self._internal_token = internal_token
        # The gateway's /internal routes (its internal listener: CLEARPOST_GATEWAY_INTERNAL_URL).
        self._internal_url = (internal_url or gateway_url).rstrip("/")

    def on_behalf_of(self, address: str | None) -> GatewayCredentialChecker:
        """The same checker, telling the gateway which client address the password came from."""
        return GatewayCredentialChecker(
            self._http,
            self._gateway_url,
            address=address,
            internal_token=self._internal_token,
            internal_url=self._internal_url,
        )

    async def redeem(self, handle: str, *, user_id: str, binding: str) -> Reauthenticated | None:
        """Spend the gateway's one-time proof of a re-authentication for this user and decision;
        None when it is unknown, spent, expired or made for another decision."""
        if self._internal_token is None:
            raise UpstreamUnavailable("signing through the identity provider is not connected here")
        try:
            response = await self._http.post(
                f"{self._internal_url}{REDEEM_PATH}",
                json={"handle": handle, "user_id": user_id, "binding": binding},
                headers={INTERNAL_HEADER: self._internal_token},
                timeout=10.0,
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity service did not answer; try again") from exc
        if response.status_code in (404, 409, 422):
            return None
        if response.status_code != 200:
            raise UpstreamUnavailable(f"the identity service answered {response.status_code}; try again")
        body = response.json()
        return Reauthenticated(
            method=str(body["method"]),
            auth_time=str(body["auth_time"]),
            acr=body.get("acr"),
            amr=tuple(str(a) for a in body.get("amr", [])),
        )

    async def confirms(self, username: str, password: str) -> bool:
        # The gateway trusts X-Forwarded-For from its configured proxies only (uvicorn's
        # --forwarded-allow-ips); from anyone else it counts this service's own address.
        headers = {"X-Forwarded-For": self._address} if self._address else {}
        try:
            response = await self._http.post(
                self._url, data={"username": username, "password": password}, headers=headers, timeout=10.0
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity service did not answer; try again") from exc
        if response.status_code == 200:
            return True
        if response.status_code in (400, 401):
            return False
        if response.status_code == 429:
            raise TooManyAttempts(
                "too many wrong passwords: signing is locked for a while; nothing was signed"
            )
        raise UpstreamUnavailable(f"the identity service answered {response.status_code}; try again")
