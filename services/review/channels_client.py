"""Whether the channels a version goes to can take it now: the publisher's fact, asked before a
reviewer signs an approval, so nobody approves a post for an expired, revoked or unreachable account
(a pause only holds posts until the resume)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from services.kit.http import internal_json


@dataclass(frozen=True)
class Rendition:
    """How one channel shows a post: its network and how much of the text its feed shows before
    "more" (None: all of it)."""

    channel: str
    network: str
    fold: int | None


class ChannelStates(Protocol):
    async def unusable(self, names: Sequence[str]) -> dict[str, str]:
        """Each named channel that cannot be published to now, with why (unknown ones included)."""
        ...

    async def renditions(self, names: Sequence[str]) -> list[Rendition]:
        """The named channels the publisher knows, with how each shows a post."""
        ...


class PublisherChannelStates:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def renditions(self, names: Sequence[str]) -> list[Rendition]:
        answer = await internal_json(self._http, "GET", "/internal/v1/channels")
        known = {c["name"]: c for c in answer["channels"]}
        return [
            Rendition(name, str(known[name].get("network", "")), known[name].get("fold"))
            for name in names
            if name in known
        ]

    async def unusable(self, names: Sequence[str]) -> dict[str, str]:
        answer = await internal_json(self._http, "GET", "/internal/v1/channels")
        known = {c["name"]: c for c in answer["channels"]}
        problems: dict[str, str] = {}
        for name in names:
            channel = known.get(name)
            if channel is None:
                problems[name] = "not connected"
            elif channel["status"] != "ok":
                # A pause holds posts until the resume; only an account's own state refuses them.
                why = channel["status"]
                problems[name] = why + (f" ({channel['reason']})" if channel.get("reason") else "")
        return problems
