"""The one HTTP layer every network adapter speaks through.

- **Where**: a base URL from configuration; https, or plain http only to loopback (a local fake),
  no credentials in URLs, no proxies from the environment, no redirects followed.
- **Rate limits**: a 429 waits until the network's reset (`Retry-After` in seconds or as a date,
  `x-rate-limit-reset` / `ratelimit-reset` as Unix seconds, Mastodon's `X-RateLimit-Reset` as an
  ISO 8601 time, Meta's `X-Business-Use-Case-Usage` / `X-App-Usage` `estimated_time_to_regain_access`
  in minutes) and tries again, if that is within `max_wait_seconds`; otherwise `RateLimited` with
  the time, for the caller's retry to honour. A response saying none are left (`remaining: 0`)
  makes the next request wait for the reset before it is sent.
- **Retries**: replay-safe requests (reads, deletes, creates the network deduplicates) are tried
  again after 5xx, 408 and transport errors, with backoff; a create that is not replay-safe is
  sent once, and any answer that leaves its fate unknown raises `AmbiguousOutcome`.
- **Errors**: 401 `CredentialsRejected`, 403 `MissingScopes`, other 4xx `NetworkRejected`, with the
  network's own error message (read by the adapter's `describe`) and never a token or a query string.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.publisher.channels import ChannelConfigError
from services.publisher.networks.base import (
    AmbiguousOutcome,
    CredentialsRejected,
    MissingScopes,
    NetworkRejected,
    NetworkUnavailable,
    RateLimited,
)

TRANSIENT_STATUSES = frozenset({408, 425, 500, 502, 503, 504})
MAX_SNIPPET = 300


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_base_url(url: str, *, what: str) -> str:
    """The URL without a trailing slash, or ChannelConfigError saying why it cannot be used."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ChannelConfigError(f"{what} is not a valid URL: {exc}") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ChannelConfigError(f"{what} must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ChannelConfigError(f"{what} must not carry credentials")
    if parts.query or parts.fragment:
        raise ChannelConfigError(f"{what} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(host):
        raise ChannelConfigError(f"{what} must use https (plain http only to loopback, not {host})")
    return url.rstrip("/")


def _describe_default(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.text[:MAX_SNIPPET].strip()
    if isinstance(document, dict):
        for key in ("error_description", "message", "detail", "error"):
            value = document.get(key)
            if isinstance(value, str) and value:
                return value[:MAX_SNIPPET]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])[:MAX_SNIPPET]
    return json.dumps(document)[:MAX_SNIPPET]


def reset_at(headers: httpx.Headers, *, now: float) -> float | None:
    """When the network says requests may go again (Unix seconds), from whatever header it uses."""
    retry_after = headers.get("retry-after")
    if retry_after:
        value = retry_after.strip()
        if value.isdigit():
            return now + int(value)
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is not None:
            return parsed.timestamp()
    for name in ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset"):
        value = (headers.get(name) or "").strip()
        if not value:
            continue
        if value.replace(".", "", 1).isdigit():
            number = float(value)
            # Epoch seconds (X, Bluesky) or, for small numbers, seconds from now (IETF draft).
            return number if number > 1_000_000_000 else now + number
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
    for name in ("x-business-use-case-usage", "x-app-usage"):
        minutes = _meta_regain_minutes(headers.get(name))
        if minutes is not None:
            return now + 60 * minutes
    return None


def _meta_regain_minutes(raw: str | None) -> float | None:
    """Meta's usage headers: `estimated_time_to_regain_access` in minutes, anywhere in the JSON."""
    if not raw:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    found: list[float] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "estimated_time_to_regain_access" and isinstance(inner, int | float):
                    found.append(float(inner))
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(document)
    return max(found) if found and max(found) > 0 else None


def _spent(headers: httpx.Headers) -> bool:
    for name in ("x-rate-limit-remaining", "ratelimit-remaining", "x-ratelimit-remaining"):
        value = (headers.get(name) or "").strip()
        if value.isdigit():
            return int(value) == 0
    return False


class NetworkHttp:
    """HTTP to one network's API at one base URL, shared by every call the adapter makes."""

    def __init__(
        self,
        network: str,
        base_url: str,
        *,
        timeout_seconds: float = 15.0,
        max_wait_seconds: float = 60.0,
        attempts: int = 4,
        backoff_seconds: float = 0.5,
        describe: Callable[[httpx.Response], str] = _describe_default,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.network = network
        self.base_url = checked_base_url(base_url, what=f"the {network} base URL")
        self._timeout = timeout_seconds
        self._max_wait = max_wait_seconds
        self._attempts = max(1, attempts)
        self._backoff = backoff_seconds
        self._describe = describe
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._blocked_until = 0.0

    def url(self, path: str) -> str:
        """`path` under the base URL; an absolute URL must pass the same rules as the base URL."""
        if path.startswith(("http://", "https://")):
            return checked_base_url(path, what=f"a {self.network} URL")
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        replay_safe: bool,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        content: bytes | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """The 2xx response (or one whose status is in `ok`), after rate-limit waits and retries."""
        url = self.url(path)
        where = f"{self.network} {method} {urlsplit(url).path}"
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        attempt = 0
        while True:
            attempt += 1
            await self._wait_for_reset(where)
            try:
                async with httpx.AsyncClient(
                    timeout=self._timeout, follow_redirects=False, trust_env=False, transport=self._transport
                ) as client:
                    response = await client.request(
                        method,
                        url,
                        headers=sent_headers,
                        params=params,
                        json=json_body,
                        data=data,
                        files=files,
                        content=content,
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the network: safe to try again, whatever the request.
                if attempt < self._attempts:
                    await self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                raise NetworkUnavailable(f"{where}: could not connect ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                if replay_safe and attempt < self._attempts:
                    await self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                message = f"{where}: no answer ({type(exc).__name__}) after the request was sent"
                if replay_safe:
                    raise NetworkUnavailable(message) from exc
                raise AmbiguousOutcome(message) from exc
            self._note_limits(response)
            status = response.status_code
            if 200 <= status < 300 or status in ok:
                return response
            if status == 429:
                # Not acted on: wait for the reset and go again, however the request is marked.
                retry_at = (
                    reset_at(response.headers, now=self._clock())
                    or self._clock() + self._backoff * 2**attempt
                )
                if retry_at - self._clock() <= self._max_wait and attempt < self._attempts + 2:
                    self._blocked_until = max(self._blocked_until, retry_at)
                    continue
                raise RateLimited(f"{where}: rate limited ({self._describe(response)})", retry_at=retry_at)
            if status in TRANSIENT_STATUSES:
                if replay_safe and attempt < self._attempts:
                    await self._sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                message = f"{where}: HTTP {status} ({self._describe(response)})"
                if replay_safe or status == 408:
                    raise NetworkUnavailable(message)
                raise AmbiguousOutcome(message)
            raise self.refusal(response, where)

    def refusal(self, response: httpx.Response, where: str) -> Exception:
        status = response.status_code
        detail = f"{where}: HTTP {status} ({self._describe(response)})"
        if status == 401:
            return CredentialsRejected(detail, expired="expired" in detail.lower())
        if status == 403:
            return MissingScopes(detail)
        return NetworkRejected(detail)

    async def _wait_for_reset(self, where: str) -> None:
        wait = self._blocked_until - self._clock()
        if wait <= 0:
            return
        if wait > self._max_wait:
            raise RateLimited(
                f"{where}: rate limit spent; resets in {wait:.0f} s", retry_at=self._blocked_until
            )
        await self._sleep(wait)

    def _note_limits(self, response: httpx.Response) -> None:
        if response.status_code != 429 and _spent(response.headers):
            when = reset_at(response.headers, now=self._clock())
            if when is not None:
                self._blocked_until = max(self._blocked_until, when)
