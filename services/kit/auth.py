"""Request authentication for every service: bearer access tokens and the internal service token."""

from __future__ import annotations

import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.kit.errors import Forbidden, Unauthorized
from services.kit.settings import KitSettings
from services.kit.tokens import Principal, TokenError, verify_access_token

INTERNAL_HEADER = "X-Clearpost-Service-Token"


class KeySet(Protocol):
    async def keys(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]: ...


class StaticKeySet:
    def __init__(self, keys: dict[str, dict[str, Any]]) -> None:
        self._keys = keys

    async def keys(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        return self._keys


class JwksKeySet:
    """The gateway's published keys, fetched on first use and again when an unknown kid shows up."""

    MIN_REFRESH_SECONDS = 5.0

    def __init__(self, jwks_url: str, http: httpx.AsyncClient) -> None:
        self._url = jwks_url
        self._http = http
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0

    async def keys(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        stale = time.monotonic() - self._fetched_at > self.MIN_REFRESH_SECONDS
        if not self._keys or (refresh and stale):
            try:
                response = await self._http.get(self._url, timeout=5.0)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise Unauthorized("signing keys are unavailable; try again shortly") from exc
                return self._keys
            self._keys = {k["kid"]: k for k in document.get("keys", []) if isinstance(k.get("kid"), str)}
            self._fetched_at = time.monotonic()
        return self._keys


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer access token is required")
    settings: KitSettings = request.app.state.settings
    key_set: KeySet = request.app.state.key_set
    for refresh in (False, True):
        keys = await key_set.keys(refresh=refresh)
        try:
            return verify_access_token(
                credentials.credentials, keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience
            )
        except TokenError as exc:
            if str(exc) != "unknown signing key" or refresh:
                raise Unauthorized(str(exc)) from exc
    raise Unauthorized("invalid token")  # pragma: no cover - loop always returns or raises


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Any:
    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
        return principal

    return Depends(_check)


def load_internal_token(settings: KitSettings) -> str:
    """The shared service credential: from settings, else var/keys/internal-token (created once)."""
    if settings.internal_token:
        return settings.internal_token
    path: Path = settings.keys_dir / "internal-token"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


async def internal_caller(request: Request) -> None:
    expected: str = request.app.state.internal_token
    given = request.headers.get(INTERNAL_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("internal route: service credential required")


InternalCaller = Depends(internal_caller)
