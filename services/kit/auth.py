"""Request authentication for every service: bearer access tokens and the internal service token."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.kit.background import in_background
from services.kit.errors import Forbidden, Unauthorized
from services.kit.files import replace_atomically
from services.kit.keyfiles import new_token, read_or_create
from services.kit.settings import KitSettings
from services.kit.tokens import Principal, TokenError, published_keys, verify_access_token

INTERNAL_HEADER = "X-Clearpost-Service-Token"
REVOCATIONS_PATH = "/internal/v1/revocations"
USER_DEACTIVATED = "user deactivated"
TOKENS_REVOKED = "your roles changed since this token was issued; get a new one"

log = logging.getLogger("clearpost.auth")


class KeySet(Protocol):
    async def keys(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]: ...


class StaticKeySet:
    def __init__(self, keys: dict[str, dict[str, Any]]) -> None:
        self._keys = keys

    async def keys(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        return self._keys


class ReloadingKeySet:
    """Keys read again from their source once they are `max_age` old, and on an unknown kid (at most
    every MIN_REFRESH_SECONDS): a retired or revoked key stops being trusted without a restart.
    While the source fails, the last keys read stay in force."""

    MIN_REFRESH_SECONDS = 5.0
    MAX_AGE_SECONDS = 60.0

    def __init__(self, load: Callable[[], Awaitable[dict[str, dict[str, Any]]]], *, what: str) -> None:
        self._load = load
        self._what = what
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = float("-inf")

    async def keys(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        age = time.monotonic() - self._fetched_at
        if not self._keys or age > self.MAX_AGE_SECONDS or (refresh and age > self.MIN_REFRESH_SECONDS):
            try:
                loaded = await self._load()
            except (httpx.HTTPError, ValueError, OSError) as exc:
                if not self._keys:
                    raise Unauthorized(f"{self._what} are unavailable; try again shortly") from exc
                log.warning("%s could not be refreshed: %s", self._what, exc)
                return self._keys
            self._keys = loaded
            self._fetched_at = time.monotonic()
        return self._keys


class JwksKeySet(ReloadingKeySet):
    """A service's published keys (the gateway's JWKS, the review service's keys), over HTTP."""

    def __init__(self, jwks_url: str, http: httpx.AsyncClient) -> None:
        async def fetch() -> dict[str, dict[str, Any]]:
            response = await http.get(jwks_url, timeout=5.0)
            response.raise_for_status()
            document = response.json()
            return {k["kid"]: k for k in document.get("keys", []) if isinstance(k.get("kid"), str)}

        super().__init__(fetch, what="signing keys")


class KeyFilesKeySet(ReloadingKeySet):
    """The public keys of a key ring this process owns, from its files (so `clearpost keys revoke`
    takes effect in the running service)."""

    def __init__(self, keys_dir: Path, name: str) -> None:
        async def read() -> dict[str, dict[str, Any]]:
            return published_keys(keys_dir, name)

        super().__init__(read, what="signing keys")


@dataclass(frozen=True)
class Revocations:
    """Deactivated users (id -> deactivated_at), and users whose tokens issued until some time are
    refused (id -> that time: the identity provider took a role away)."""

    deactivated: dict[str, datetime]
    tokens_before: dict[str, datetime] = field(default_factory=dict)


# A source answers the deactivated users alone (a dict) or both lists (Revocations).
RevocationSource = Callable[[], Awaitable[dict[str, datetime] | Revocations]]
RevocationListener = Callable[[dict[str, datetime]], Awaitable[None]]


class RevocationList:
    """Deactivated users (id -> deactivated_at), as the gateway lists them.

    Every service keeps a copy, refreshed every `interval` seconds in the background and on
    demand when the copy is older than that (say the background task is slow). A token of a
    listed user is refused however valid its signature. While the gateway does not answer, the
    last list read stays in force (and a warning is logged): nobody can sign in then either.
    """

    def __init__(self, source: RevocationSource, *, interval: float) -> None:
        self._source = source
        self.interval = interval
        self._revoked: dict[str, datetime] = {}
        self._tokens_before: dict[str, datetime] = {}
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._lock = asyncio.Lock()
        self._listeners: list[RevocationListener] = []
        self._failing = False

    @property
    def revoked(self) -> dict[str, datetime]:
        return dict(self._revoked)

    def add_listener(self, listener: RevocationListener) -> None:
        """Called with the whole list after each successful refresh (e.g. to offboard new entries)."""
        self._listeners.append(listener)

    async def refresh(self) -> None:
        async with self._lock:
            self._tried_at = time.monotonic()
            try:
                answer = await self._source()
            except Exception as exc:  # any failure keeps the last list; the reason is logged once
                if not self._failing:
                    log.warning("the revocation list could not be refreshed: %s: %s", type(exc).__name__, exc)
                self._failing = True
                return
            self._failing = False
            if isinstance(answer, Revocations):
                revoked, self._tokens_before = answer.deactivated, answer.tokens_before
            else:
                revoked = answer
            self._revoked = revoked
            self._fetched_at = time.monotonic()
        for listener in self._listeners:
            try:
                await listener(dict(revoked))
            except Exception:  # a listener's failure must not stop token checks; it retries next time
                log.exception("a revocation listener failed")

    async def is_revoked(self, user_id: str) -> bool:
        now = time.monotonic()
        if now - self._fetched_at > self.interval and now - self._tried_at > self.interval:
            await self.refresh()
        return user_id in self._revoked

    async def tokens_revoked(self, user_id: str, issued_at: int) -> bool:
        """Whether a token of the user issued at `issued_at` (whole seconds) predates a revocation
        of their tokens (a role taken away); a token of that very second counts as before."""
        await self.is_revoked(user_id)  # refreshes a stale copy
        before = self._tokens_before.get(user_id)
        return before is not None and issued_at <= int(before.timestamp())

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Refresh in the background while the service runs."""

        async def loop() -> None:
            while True:
                await self.refresh()
                await asyncio.sleep(self.interval)

        async with in_background(loop, name="revocation-list"):
            yield


def gateway_revocations(http: httpx.AsyncClient, gateway_url: str, internal_token: str) -> RevocationSource:
    """Read the list from the gateway's internal route with the service credential."""

    async def fetch() -> Revocations:
        response = await http.get(
            f"{gateway_url.rstrip('/')}{REVOCATIONS_PATH}",
            headers={INTERNAL_HEADER: internal_token},
            timeout=2.0,
        )
        response.raise_for_status()
        body = response.json()
        return Revocations(
            deactivated={
                str(entry["user_id"]): datetime.fromisoformat(str(entry["deactivated_at"]))
                for entry in body["revoked"]
            },
            tokens_before={
                str(entry["user_id"]): datetime.fromisoformat(str(entry["before"]))
                for entry in body.get("tokens_revoked", [])
            },
        )

    return fetch


async def refuse_revoked(request: Request, principal: Principal) -> None:
    """401 when the principal's account was deactivated (services without a list skip this)."""
    revocations: RevocationList | None = getattr(request.app.state, "revocations", None)
    if revocations is not None and await revocations.is_revoked(principal.user_id):
        raise Unauthorized(USER_DEACTIVATED)
    if revocations is not None and await revocations.tokens_revoked(principal.user_id, principal.issued_at):
        raise Unauthorized(TOKENS_REVOKED)


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
            principal = verify_access_token(
                credentials.credentials, keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience
            )
        except TokenError as exc:
            if str(exc) != "unknown signing key" or refresh:
                raise Unauthorized(str(exc)) from exc
            continue
        await refuse_revoked(request, principal)
        return principal
    raise Unauthorized("invalid token")  # pragma: no cover - loop always returns or raises


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Any:
    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
        return principal

    return Depends(_check)


CALLERS_DIR = "internal-callers"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_internal_token(settings: KitSettings, service: str) -> str:
    """`service`'s own credential for other services' /internal routes: from settings, else
    var/keys/<service>/internal-token (created once). Unless the accepted callers are configured,
    its digest is published under var/keys/internal-callers/ for the services on this machine."""
    token = settings.internal_token or (
        read_or_create(settings.service_keys_dir(service) / "internal-token", new_token).decode().strip()
    )
    if not settings.internal_callers:
        published = settings.keys_dir / CALLERS_DIR / f"{service}.sha256"
        if not published.exists() or published.read_text().strip() != _digest(token):
            replace_atomically(published, _digest(token).encode())
    return token


class InternalCallers:
    """Which service presented a credential: each service has its own token, and a caller is known
    by the SHA-256 of it (configured, or published by the services of this machine). The service's
    own token names itself (its CLI commands call it)."""

    RESCAN_SECONDS = 1.0

    def __init__(self, settings: KitSettings, service: str, own_token: str) -> None:
        self._configured = dict(settings.internal_callers)
        self._folder = None if self._configured else settings.keys_dir / CALLERS_DIR
        self._own = (service, _digest(own_token))
        self._known: dict[str, str] = {}
        self._scanned_at = float("-inf")
        self._scan()

    def _scan(self) -> None:
        known = dict(self._configured)
        if self._folder is not None and self._folder.is_dir():
            for path in self._folder.glob("*.sha256"):
                known[path.name.removesuffix(".sha256")] = path.read_text().strip()
        known[self._own[0]] = self._own[1]
        self._known = known
        self._scanned_at = time.monotonic()

    def identify(self, token: str) -> str | None:
        digest = _digest(token)
        for _ in range(2):
            found = [name for name, known in self._known.items() if hmac.compare_digest(known, digest)]
            if found:
                return found[0]
            if self._folder is None or time.monotonic() - self._scanned_at < self.RESCAN_SECONDS:
                return None
            self._scan()  # a service that started after this one
        return None


def install_internal_credentials(app: Any, settings: KitSettings, service: str) -> str:
    """Load `service`'s own token and the callers it accepts onto `app.state`; returns the token."""
    token = load_internal_token(settings, service)
    app.state.internal_token = token
    app.state.internal_callers = InternalCallers(settings, service, token)
    return token


async def internal_caller(request: Request) -> str:
    """The service that called (known by its own credential), or 401."""
    callers: InternalCallers = request.app.state.internal_callers
    given = request.headers.get(INTERNAL_HEADER, "")
    caller = callers.identify(given) if given else None
    if caller is None:
        raise Unauthorized("internal route: service credential required")
    return caller


InternalCaller = Depends(internal_caller)
CallingService = Annotated[str, Depends(internal_caller)]
