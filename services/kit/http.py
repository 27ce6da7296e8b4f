"""HTTP clients for service-to-service calls (built once in lifespan)."""

from __future__ import annotations

from typing import Any

import httpx

from services.kit.auth import INTERNAL_HEADER
from services.kit.errors import ClearpostError, UpstreamUnavailable

# Our services close an idle keep-alive connection after 5 s (uvicorn's default). A client that
# keeps it as long sends, now and then, a request on a connection the server is closing at that
# moment, and gets RemoteProtocolError ("Server disconnected without sending a response"): under
# load the gateway answered such requests 503. Clients drop idle connections well before that.
SERVICE_LIMITS = httpx.Limits(keepalive_expiry=2.0)


def service_client() -> httpx.AsyncClient:
    """A client for calls between our services that carry the caller's own credentials (a user's
    token, a password being confirmed): no service credential, the same idle-connection limits."""
    return httpx.AsyncClient(limits=SERVICE_LIMITS)


def internal_client(base_url: str, internal_token: str, *, timeout: float = 10.0) -> httpx.AsyncClient:
    """A client for another service's /internal routes, carrying this service's own credential."""
    return httpx.AsyncClient(
        base_url=base_url, headers={INTERNAL_HEADER: internal_token}, timeout=timeout, limits=SERVICE_LIMITS
    )


async def internal_json(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """Call another service; its {"error","detail"} answers come back as ClearpostError."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{client.base_url} did not answer: {exc}") from exc
    if response.status_code >= 400:
        try:
            body = response.json()
            code, detail = body.get("error", "upstream_error"), body.get("detail", response.text)
        except ValueError:
            code, detail = "upstream_error", response.text
        raise ClearpostError(str(detail), code=str(code), status_code=response.status_code)
    return response.json()
