"""Password re-entry at signing: the gateway owns credentials, so the review service asks it.

The password goes only to the gateway's token endpoint (the same check as a login) and nowhere
else: not into the workflow, the decision record, the audit trail or any log.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from services.kit.errors import UpstreamUnavailable


class CredentialChecker(Protocol):
    async def confirms(self, username: str, password: str) -> bool: ...


class GatewayCredentialChecker:
    def __init__(self, http: httpx.AsyncClient, gateway_url: str) -> None:
        self._http = http
        self._url = f"{gateway_url}/api/v1/auth/token"

    async def confirms(self, username: str, password: str) -> bool:
        try:
            response = await self._http.post(
                self._url, data={"username": username, "password": password}, timeout=10.0
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity service did not answer; try again") from exc
        if response.status_code == 200:
            return True
        if response.status_code in (400, 401):
            return False
        raise UpstreamUnavailable(f"the identity service answered {response.status_code}; try again")
