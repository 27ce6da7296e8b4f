"""What the Facebook Page and Instagram adapters share: the Meta Graph API and Facebook Login.

- **One version**: every path starts with `GRAPH_VERSION`, so a version bump is one line.
- **Errors**: Graph answers most refusals with HTTP 400 and says what happened in its body
  (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`). `MetaGraph.call`
  reads that body once, here: code 190 is a refused token (subcode 463 expired, 458/460 revoked or
  changed), codes 10 and 200-299 a missing permission, codes 4/17/32/613 a spent rate limit. HTTP 429
  and 5xx stay with `NetworkHttp`, which waits or retries as it does for every network.
- **Rate limits**: Meta reports usage in `X-App-Usage` / `X-Business-Use-Case-Usage` (percentages,
  and `estimated_time_to_regain_access` in minutes once spent). A rate-limit answer waits for that
  time and goes again when it is within `max_wait_seconds`, else `RateLimited`; a usage header at
  100 % makes the next call wait before it is sent.
- **Tokens** go in `Authorization: Bearer`, never in a query string: the token exchange is a POST
  with a form body, and paging follows the `after` cursor instead of `paging.next` (whose URL carries
  the token).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.publisher.channels import ChannelConfigError
from services.publisher.networks.base import (
    CredentialsRejected,
    MissingScopes,
    NetworkConfig,
    NetworkRejected,
    OAuthEndpoints,
    RateLimited,
)
from services.publisher.networks.http import NetworkHttp, reset_at

GRAPH_VERSION = "v21.0"
DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_AUTH_URL = "https://www.facebook.com"

TOKEN_CODES = frozenset({190, 102, 2500})  # invalid/expired/revoked token, no token
EXPIRED_SUBCODE = 463
PERMISSION_CODES = frozenset({10, *range(200, 300)})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80004, 80005, 80006})
MISSING_OBJECT = (100, 33)  # "Object with ID ... does not exist, cannot be loaded due to missing permissions"
REFUSAL_STATUSES = (400, 401, 403, 404)
MAX_PAGES = 10  # pages of a listing read when looking for a post (each up to 100 items)


class GraphObjectMissing(NetworkRejected):
    """The object asked for does not exist (or is not visible to this token)."""


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int | None
    subcode: int | None
    message: str
    kind: str

    @classmethod
    def of(cls, response: httpx.Response) -> GraphError:
        try:
            document = response.json()
        except ValueError:
            document = None
        error = document.get("error") if isinstance(document, dict) else None
        if not isinstance(error, dict):
            return cls(response.status_code, None, None, response.text[:200].strip(), "")
        code = error.get("code")
        subcode = error.get("error_subcode")
        return cls(
            status=response.status_code,
            code=code if isinstance(code, int) else None,
            subcode=subcode if isinstance(subcode, int) else None,
            message=str(error.get("message") or "")[:300],
            kind=str(error.get("type") or ""),
        )

    def describe(self) -> str:
        parts = [self.message or "no message"]
        if self.code is not None:
            parts.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode is not None else ""))
        return ", ".join(parts)


def describe_graph(response: httpx.Response) -> str:
    """The Graph error's own words and codes (never the request's URL, query or token)."""
    return GraphError.of(response).describe()


def graph_base_url(config: NetworkConfig) -> str:
    return config.api_base_url or DEFAULT_GRAPH_URL


def meta_oauth_endpoints(config: NetworkConfig, scopes: tuple[str, ...]) -> OAuthEndpoints:
    """Facebook Login's dialog (on www.facebook.com) and token endpoint (on the Graph API)."""
    auth_base = (config.auth_base_url or DEFAULT_AUTH_URL).rstrip("/")
    return OAuthEndpoints(
        authorize_url=f"{auth_base}/{GRAPH_VERSION}/dialog/oauth",
        token_url=f"{graph_base_url(config).rstrip('/')}/{GRAPH_VERSION}/oauth/access_token",
        scopes=scopes,
        token_auth="client_secret_post",
        pkce=True,
    )


def graph_time(value: object) -> datetime | None:
    """Graph's timestamps (`2024-05-01T10:00:00+0000`) as aware datetimes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None


def _usage_spent(headers: httpx.Headers) -> bool:
    """True when a Meta usage header says some budget is at 100 %."""
    for name in ("x-app-usage", "x-business-use-case-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            document = json.loads(raw)
        except ValueError:
            continue
        stack: list[object] = [document]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                for key, inner in value.items():
                    if key in ("call_count", "total_cputime", "total_time") and isinstance(
                        inner, int | float
                    ):
                        if inner >= 100:
                            return True
                    else:
                        stack.append(inner)
            elif isinstance(value, list):
                stack.extend(value)
    return False


class MetaGraph:
    """Calls to the Graph API for one adapter, with Graph's error bodies mapped once, here."""

    def __init__(
        self,
        network: str,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.config = config
        self.http = NetworkHttp(
            network,
            graph_base_url(config),
            timeout_seconds=config.timeout_seconds,
            max_wait_seconds=config.max_wait_seconds,
            describe=describe_graph,
            transport=transport,
            sleep=sleep,
            clock=clock,
        )
        self._sleep = sleep
        self._clock = clock
        self._blocked_until = 0.0

    @staticmethod
    def path(*parts: str) -> str:
        return "/" + "/".join((GRAPH_VERSION, *parts))

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        replay_safe: bool,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
    ) -> dict[str, Any]:
        """The JSON object Graph answered, or the error its body names (see the module docstring)."""
        where = f"{self.network} {method} {path.split('?')[0]}"
        for _attempt in range(4):
            await self._wait_for_usage(where)
            response = await self.http.request(
                method,
                path,
                replay_safe=replay_safe,
                token=token,
                params=params,
                data=data,
                files=files,
                ok=REFUSAL_STATUSES,
            )
            self._note_usage(response)
            if response.status_code < 300:
                try:
                    document = response.json()
                except ValueError:
                    document = None
                if isinstance(document, dict):
                    return document
                if document is True:  # some deletes answer a bare `true`
                    return {"success": True}
                raise NetworkRejected(f"{where}: the answer was not a JSON object")
            error = GraphError.of(response)
            if error.code in RATE_LIMIT_CODES:
                # Not acted on: a spent budget refuses before anything is done.
                retry_at = reset_at(response.headers, now=self._clock()) or self._clock() + 60
                if retry_at - self._clock() <= self.config.max_wait_seconds:
                    await self._sleep(max(0.0, retry_at - self._clock()))
                    continue
                raise RateLimited(f"{where}: rate limited ({error.describe()})", retry_at=retry_at)
            raise self.refusal(error, where)
        raise RateLimited(f"{where}: still rate limited after waiting", retry_at=self._clock() + 60)

    @staticmethod
    def refusal(error: GraphError, where: str) -> Exception:
        detail = f"{where}: HTTP {error.status} ({error.describe()})"
        if error.code in TOKEN_CODES or (error.code is None and error.status == 401):
            return CredentialsRejected(detail, expired=error.subcode == EXPIRED_SUBCODE)
        if error.code in PERMISSION_CODES or (error.code is None and error.status == 403):
            return MissingScopes(detail, scopes=_scopes_named(error.message))
        if (error.code, error.subcode) == MISSING_OBJECT or error.status == 404:
            return GraphObjectMissing(detail)
        return NetworkRejected(detail)

    async def listing(
        self,
        path: str,
        *,
        token: str,
        params: Mapping[str, Any],
        max_pages: int = MAX_PAGES,
    ) -> list[dict[str, Any]]:
        """Every item of a Graph edge, following the `after` cursor (not `paging.next`: it holds the
        token in its query string)."""
        items: list[dict[str, Any]] = []
        query = dict(params)
        for _page in range(max_pages):
            document = await self.call("GET", path, token=token, replay_safe=True, params=query)
            data = document.get("data")
            if isinstance(data, list):
                items.extend(item for item in data if isinstance(item, dict))
            paging = document.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not (isinstance(paging, dict) and paging.get("next") and isinstance(after, str)):
                break
            query["after"] = after
        return items

    async def exchange_token(self, token: str) -> dict[str, Any]:
        """A long-lived user token for `token` (grant_type=fb_exchange_token), posted as a form so
        neither the token nor the app secret lands in a URL."""
        if not (self.config.client_id and self.config.client_secret):
            raise ChannelConfigError(f"the {self.network} app's client_id and client_secret are not set")
        return await self.call(
            "POST",
            self.path("oauth", "access_token"),
            token=None,
            replay_safe=True,
            data={
                "grant_type": "fb_exchange_token",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "fb_exchange_token": token,
            },
        )

    async def granted_scopes(self, user_token: str) -> tuple[str, ...]:
        """The permissions the user granted this app (GET /me/permissions, status `granted`)."""
        items = await self.listing(self.path("me", "permissions"), token=user_token, params={})
        return tuple(
            sorted(
                str(item["permission"])
                for item in items
                if item.get("status") == "granted" and isinstance(item.get("permission"), str)
            )
        )

    async def pages(self, user_token: str, fields: str) -> list[dict[str, Any]]:
        """The Pages the user can act for, each with its Page token (GET /me/accounts)."""
        return await self.listing(
            self.path("me", "accounts"), token=user_token, params={"fields": fields, "limit": 100}
        )

    async def _wait_for_usage(self, where: str) -> None:
        wait = self._blocked_until - self._clock()
        if wait <= 0:
            return
        if wait > self.config.max_wait_seconds:
            raise RateLimited(
                f"{where}: Meta usage at 100 %; resets in {wait:.0f} s", retry_at=self._blocked_until
            )
        await self._sleep(wait)

    def _note_usage(self, response: httpx.Response) -> None:
        if response.status_code < 300 and _usage_spent(response.headers):
            when = reset_at(response.headers, now=self._clock())
            if when is not None:
                self._blocked_until = max(self._blocked_until, when)


def _scopes_named(message: str) -> tuple[str, ...]:
    """Permission names in a Graph message such as "(#200) Requires pages_manage_posts permission"."""
    words = [word.strip("(),.;:'\"") for word in message.split()]
    return tuple(word for word in words if word.startswith(("pages_", "instagram_", "publish_", "business_")))


def token_expiry(token: Mapping[str, object], *, now: float) -> datetime | None:
    """When a token answer's `expires_in` runs out (None: Meta gave no expiry, e.g. a Page token)."""
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float) and expires_in > 0:
        return datetime.fromtimestamp(now, UTC) + timedelta(seconds=float(expires_in))
    return None


def token_scopes(token: Mapping[str, object]) -> tuple[str, ...]:
    scope = token.get("scope")
    if isinstance(scope, str):
        return tuple(sorted(part for part in scope.replace(",", " ").split() if part))
    if isinstance(scope, list | tuple):
        return tuple(sorted(str(part) for part in scope))
    return ()
