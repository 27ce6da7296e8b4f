"""The drafts service's one call to the publisher: take a published post down (a consent it relies
on was revoked). The publisher deletes it from every network and reports back through
`POST /internal/v1/drafts/{id}/live-state`."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

import httpx

from services.kit.http import internal_json


class TakedownRequester(Protocol):
    async def take_down(self, draft_id: str, *, reason: str, cause: str) -> str:
        """The publisher's takedown request id."""
        ...


class PublisherTakedowns:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def take_down(self, draft_id: str, *, reason: str, cause: str) -> str:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/takedown"
        answer = await internal_json(self._http, "POST", path, json={"reason": reason, "cause": cause})
        return str(answer["request_id"])
