"""Password re-entry for signed actions (decisions, overrides, takedowns, pauses): the gateway
owns credentials, so services ask it.

The password goes only to the gateway's token endpoint (the same check as a login) and nowhere
else: not into the workflow, the decision record, the audit trail or any log.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from services.kit.errors import TooManyAttempts, UpstreamUnavailable


class CredentialChecker(Protocol):
    async def confirms(self, username: str, password: str) -> bool: ...


class GatewayCredentialChecker:
    """Re-entry at signing goes through the gateway's token endpoint, so it counts against the same
    per-account and per-address limits as a sign-in and locks the account the same way."""

    def __init__(self, http: httpx.AsyncClient, gateway_url: str, *, address: str | None = None) -> None:
        self._http = http
        self._gateway_url = gateway_url
        self._url = f"{gateway_url}/api/v1/auth/token"
        self._address = address

    def on_behalf_of(self, address: str | None) -> GatewayCredentialChecker:
        """The same checker, telling the gateway which client address the password came from."""
        return GatewayCredentialChecker(self._http, self._gateway_url, address=address)

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
