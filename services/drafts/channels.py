"""Which channel names a draft may target: the publisher owns the list, drafts asks it."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Protocol

import httpx

from services.kit.errors import UpstreamUnavailable


class ChannelCatalog(Protocol):
    async def names(self, bearer_token: str, *, including: Collection[str] = ()) -> set[str]:
        """The channel names drafts may target; asked afresh when a name in `including` is not
        among those last read (a channel account connected since)."""
        ...


class PublisherChannelCatalog:
    """Reads `GET /api/v1/channels` from the publisher with the caller's own token; cached briefly."""

    TTL_SECONDS = 30.0

    def __init__(self, http: httpx.AsyncClient, publisher_url: str) -> None:
        self._http = http
        self._url = f"{publisher_url}/api/v1/channels"
        self._cached: set[str] = set()
        self._fetched_at = 0.0

    async def names(self, bearer_token: str, *, including: Collection[str] = ()) -> set[str]:
        fresh = time.monotonic() - self._fetched_at < self.TTL_SECONDS
        if self._cached and fresh and self._cached.issuperset(including):
            return self._cached
        try:
            response = await self._http.get(
                self._url, headers={"Authorization": f"Bearer {bearer_token}"}, timeout=5.0
            )
            response.raise_for_status()
            names = {c["name"] for c in response.json()["channels"]}
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamUnavailable(
                f"the channel list could not be read from the publisher: {exc}"
            ) from exc
        self._cached, self._fetched_at = names, time.monotonic()
        return names
