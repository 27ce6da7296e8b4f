"""Which channel names a draft may target, and whether each can take a post now: the publisher
owns the list (configured channels and connected accounts), drafts asks it."""

from __future__ import annotations

import time
from typing import Any, Protocol

import httpx

from services.kit.errors import UpstreamUnavailable


class ChannelCatalog(Protocol):
    async def names(self, bearer_token: str) -> set[str]: ...

    async def known(self, bearer_token: str, names: list[str]) -> set[str]:
        """The channel names, read afresh when one of `names` is not among them."""
        ...

    async def unusable(self, bearer_token: str, names: list[str]) -> dict[str, str]:
        """Each named channel that cannot be published to now, with why."""
        ...

    async def misfits(
        self, bearer_token: str, body: str, names: list[str], media_count: int
    ) -> dict[str, list[str]]:
        """Each named channel whose rendition of `body` does not fit, with what is wrong."""
        ...


class PublisherChannelCatalog:
    """Reads `GET /api/v1/channels` from the publisher with the caller's own token; cached briefly,
    and read again at once when a name is not in the cached list (an account just connected)."""

    TTL_SECONDS = 30.0

    def __init__(self, http: httpx.AsyncClient, publisher_url: str) -> None:
        self._http = http
        self._url = f"{publisher_url}/api/v1/channels"
        self._cached: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0

    async def _channels(self, bearer_token: str, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        if not fresh and self._cached and time.monotonic() - self._fetched_at < self.TTL_SECONDS:
            return self._cached
        try:
            response = await self._http.get(
                self._url, headers={"Authorization": f"Bearer {bearer_token}"}, timeout=5.0
            )
            response.raise_for_status()
            channels = {c["name"]: c for c in response.json()["channels"]}
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(
                f"the channel list could not be read from the publisher: {exc}"
            ) from exc
        self._cached, self._fetched_at = channels, time.monotonic()
        return channels

    async def names(self, bearer_token: str) -> set[str]:
        return set(await self._channels(bearer_token))

    async def known(self, bearer_token: str, names: list[str]) -> set[str]:
        channels = await self._channels(bearer_token)
        if any(name not in channels for name in names):
            channels = await self._channels(bearer_token, fresh=True)
        return set(channels)

    async def misfits(
        self, bearer_token: str, body: str, names: list[str], media_count: int
    ) -> dict[str, list[str]]:
        url = self._url.removesuffix("/channels") + "/renditions"
        try:
            response = await self._http.post(
                url,
                json={"body": body, "channels": names, "media_count": media_count},
                headers={"Authorization": f"Bearer {bearer_token}"},
                timeout=10.0,
            )
            response.raise_for_status()
            renditions = response.json()["renditions"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(
                f"the renditions could not be checked with the publisher: {exc}"
            ) from exc
        return {r["channel"]: list(r["problems"]) for r in renditions if r["problems"]}

    async def unusable(self, bearer_token: str, names: list[str]) -> dict[str, str]:
        channels = await self._channels(bearer_token, fresh=True)
        problems = {}
        for name in names:
            channel = channels.get(name)
            # A pause holds posts until the resume; only an account's own state refuses them.
            if channel is not None and channel.get("status", "ok") != "ok":
                why = str(channel["status"])
                problems[name] = why + (f" ({channel['reason']})" if channel.get("reason") else "")
        return problems
