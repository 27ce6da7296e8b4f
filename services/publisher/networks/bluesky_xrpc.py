"""Bluesky's XRPC door: one NetworkHttp per PDS, and the account's session kept alive.

`com.atproto.server.createSession` with the handle and app password gives an access JWT
(short-lived; an expired one answers 400 `ExpiredToken`) and a refresh JWT (single use:
`refreshSession` rotates it). The newest session is kept in memory per account, since adapter calls
cannot hand renewed credentials back; when a stored refresh JWT no longer works, a new session is
made from the app password. 401 `AuthenticationRequired` from createSession means the app password
was revoked. XRPC errors are `{"error": "Name", "message": "..."}` (https://atproto.com/specs/xrpc).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from services.publisher.networks.base import AccountCredentials, CredentialsRejected, NetworkConfig
from services.publisher.networks.http import NetworkHttp

DEFAULT_PDS = "https://bsky.social"


@dataclasses.dataclass
class Session:
    access_jwt: str = dataclasses.field(repr=False)
    refresh_jwt: str = dataclasses.field(repr=False)
    did: str
    handle: str


def describe(response: httpx.Response) -> str:
    """XRPC errors are `{"error": "Name", "message": "..."}`."""
    name, message = error_of(response)
    if name or message:
        return f"{name}: {message}" if name and message else name or message
    return response.text[:300].strip()


def error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        document = response.json()
    except ValueError:
        return "", ""
    if not isinstance(document, dict):
        return "", ""
    return str(document.get("error") or "")[:100], str(document.get("message") or "")[:300]


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


class XrpcSessions:
    """Authenticated XRPC calls for the accounts of one adapter."""

    def __init__(
        self,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._http: dict[str, NetworkHttp] = {}
        self._cache: dict[tuple[str, str], Session] = {}

    def forget(self, account: AccountCredentials) -> None:
        self._cache.pop(self.key(account), None)

    def api(self, account: AccountCredentials) -> NetworkHttp:
        base = account.base_url or self._config.api_base_url or DEFAULT_PDS
        http = self._http.get(base)
        if http is None:
            http = NetworkHttp(
                "bluesky",
                base,
                timeout_seconds=self._config.timeout_seconds,
                max_wait_seconds=self._config.max_wait_seconds,
                describe=describe,
                transport=self._transport,
                sleep=self._sleep,
                clock=self._clock,
            )
            self._http[base] = http
        return http

    # --- sessions -------------------------------------------------------------------------------

    def key(self, account: AccountCredentials) -> tuple[str, str]:
        return (self.api(account).base_url, account.identifier or account.account_ref or account.name)

    async def create_session(self, account: AccountCredentials) -> Session:
        if not account.identifier or not account.app_password:
            raise CredentialsRejected("bluesky: no handle and app password are stored for this account")
        response = await self.api(account).request(
            "POST",
            "/xrpc/com.atproto.server.createSession",
            replay_safe=True,
            json_body={"identifier": account.identifier, "password": account.app_password},
        )
        return self._remember(account, response)

    async def refresh_session(self, account: AccountCredentials, refresh_jwt: str) -> Session | None:
        """A new session from the refresh JWT, or None when the PDS no longer takes it."""
        api = self.api(account)
        response = await api.request(
            "POST",
            "/xrpc/com.atproto.server.refreshSession",
            replay_safe=True,
            token=refresh_jwt,
            ok=(400, 401),
        )
        if response.status_code in (400, 401):
            return None
        return self._remember(account, response)

    def _remember(self, account: AccountCredentials, response: httpx.Response) -> Session:
        body = mapping(response.json())
        session = Session(
            access_jwt=str(body["accessJwt"]),
            refresh_jwt=str(body["refreshJwt"]),
            did=str(body["did"]),
            handle=str(body.get("handle") or account.identifier or ""),
        )
        self._cache[self.key(account)] = session
        return session

    async def session(self, account: AccountCredentials) -> Session:
        cached = self._cache.get(self.key(account))
        if cached is not None:
            return cached
        access, refresh = account.settings.get("access_jwt"), account.settings.get("refresh_jwt")
        if access and refresh and account.account_ref:
            handle = account.settings.get("handle") or account.identifier or account.account_ref
            session = Session(access, refresh, account.account_ref, handle)
            self._cache[self.key(account)] = session
            return session
        return await self.create_session(account)

    async def _renew(self, account: AccountCredentials, stale: Session) -> Session:
        self._cache.pop(self.key(account), None)
        renewed = await self.refresh_session(account, stale.refresh_jwt)
        if renewed is not None:
            return renewed
        if not account.app_password:
            raise CredentialsRejected(
                "bluesky: the session expired and no app password is stored", expired=True
            )
        return await self.create_session(account)

    async def call(
        self,
        account: AccountCredentials,
        method: str,
        nsid: str,
        *,
        replay_safe: bool = True,
        allow: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> tuple[httpx.Response, Session]:
        """One authenticated XRPC call, renewing the session once if the PDS says it ran out. A 400
        whose error name is in `allow` (e.g. RecordNotFound) is returned, not raised."""
        api = self.api(account)
        session = await self.session(account)
        for attempt in (1, 2):
            response = await api.request(
                method,
                f"/xrpc/{nsid}",
                replay_safe=replay_safe,
                token=session.access_jwt,
                ok=(400, 401),
                **kwargs,
            )
            status = response.status_code
            name, _ = error_of(response)
            if (status == 401 or name in ("ExpiredToken", "InvalidToken")) and attempt == 1:
                session = await self._renew(account, session)
                continue
            if status in (400, 401) and name not in allow:
                raise api.refusal(response, f"bluesky {method} {nsid}")
            return response, session
        raise AssertionError("unreachable")  # pragma: no cover
